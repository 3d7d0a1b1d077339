// A real SMTP server in the test process (smtp-server on port 0): the app delivers to it over TCP
// with nodemailer, and tests read the links and tokens from the mails it received.
import { SMTPServer } from "smtp-server";
import type { AddressInfo } from "node:net";

export type ReceivedMail = { from: string; to: string[]; raw: string; body: string; subject: string };

export type TestSmtp = {
  url: string;
  mails: ReceivedMail[];
  /** Mails to `to` (case-insensitive) whose subject contains `subject`. */
  to(to: string, subject?: string): ReceivedMail[];
  close(): Promise<void>;
};

/** Decodes quoted-printable soft breaks and escapes, enough to read links out of a mail. */
function decode(raw: string): string {
  return raw
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Starts an SMTP server on 127.0.0.1 (no TLS, no auth); the first `reject` deliveries are refused with 451. */
export async function startSmtp(options: { reject?: number } = {}): Promise<TestSmtp> {
  const mails: ReceivedMail[] = [];
  let reject = options.reject ?? 0;
  const server = new SMTPServer({
    disabledCommands: ["STARTTLS", "AUTH"],
    authOptional: true,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (reject > 0) {
          reject--;
          const error = Object.assign(new Error("try again later"), { responseCode: 451 });
          return callback(error);
        }
        const raw = Buffer.concat(chunks).toString("utf8");
        const body = decode(raw);
        const subject = /^Subject: (.*)$/m.exec(raw)?.[1] ?? "";
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          raw,
          body,
          subject,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    to: (to, subject) =>
      mails.filter((m) => m.to.includes(to.toLowerCase()) && (subject === undefined || m.subject.includes(subject))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The one-time token in a mail's link. */
export function tokenIn(mail: ReceivedMail | undefined): string {
  const match = /token=([A-Za-z0-9_-]{43})/.exec(mail?.body ?? "");
  if (!match) throw new Error("no token link in the mail");
  return match[1]!;
}
