// Mail delivery: nodemailer over SMTP_URL, or `.eml` files under DATA_DIR/outbox when no server is
// configured. Sending never blocks or fails the action it reports: `send` queues the mail and returns
// at once, delivery happens in the background and is retried with back-off.
//
// Why an in-process retry queue and not a durable outbox table: the mails that matter carry one-time
// tokens (reset, verification). A durable queue would keep those links at rest in the database in the
// clear (or need a second encryption layer), and they expire within 30 minutes or 24 hours anyway, so
// a delivery retried after a restart would mostly carry a dead link. The user asks again instead.
// The cost: mails still queued when the process stops are lost; each loss is logged.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Transporter } from "nodemailer";
import { randomToken } from "../../core/crypto/index.js";
import type { AuditService } from "../audit/index.js";
import { renderMail, type MailTemplate, type RenderedMail } from "./templates.js";

/**
 * One mail to send: who to, the template with its values, and whose account it concerns. `name`
 * is never put in the mail (see templates.ts): it is chosen by whoever registered the address.
 */
export type OutgoingMail = { to: string; name?: string; userId: string | null; template: MailTemplate };

export type Mailer = {
  /** Queues a mail; never throws and never waits for delivery. */
  send(mail: OutgoingMail): void;
  /** Resolves when nothing is being delivered or waiting for a retry (tests, graceful shutdown). */
  idle(): Promise<void>;
  /** Stops retries and waits (briefly) for deliveries in flight. */
  close(): Promise<void>;
};

type Log = {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
};

export type MailerOptions = {
  smtpUrl: string | undefined;
  from: string;
  /** Where `.eml` files go when there is no SMTP server (DATA_DIR/outbox). */
  outboxDir: string;
  log: Log;
  /** Where `mail.sent` is recorded (type and attempts, never the content). */
  audit?: Pick<AuditService, "record">;
  /** Renders a template (APP_NAME, the template directory); default: the built-in templates. */
  render?: (template: MailTemplate) => RenderedMail;
  /** Delivery attempts in all (default 5) and the first back-off (default 30 s, doubling). */
  retry?: { attempts?: number; baseMs?: number };
};

const CLOSE_WAIT_MS = 5_000;
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** Whether an smtp:// URL must upgrade with STARTTLS: always, except to a server on this machine. */
export function requiresStartTls(smtpUrl: string): boolean {
  const url = new URL(smtpUrl);
  if (url.protocol !== "smtp:") return false;
  return !LOCAL_HOSTS.has(url.hostname);
}

/** A header value on one line (a CR or LF would start a header of the caller's choosing). */
const oneLine = (value: string) => value.replace(/[\r\n]+/g, " ");
/** A header value, RFC 2047-encoded when it is not plain ASCII. */
const headerText = (value: string) =>
  /^[\x20-\x7e]*$/.test(value) ? oneLine(value) : `=?UTF-8?B?${Buffer.from(oneLine(value)).toString("base64")}?=`;

/**
 * The development outbox's mail: a valid .eml (multipart/alternative, 8bit UTF-8 parts) that is
 * also readable as it stands. Quoted-printable, which an SMTP transport rightly uses, breaks long
 * lines with `=` and turns `=` into `=3D`, so a developer could not copy a link out of the file.
 */
export function readableEml(message: {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}): string {
  const boundary = `bulwark-${randomToken(12)}`;
  return [
    `From: ${headerText(message.from)}`,
    `To: ${oneLine(message.to)}`,
    `Subject: ${headerText(message.subject)}`,
    `Date: ${new Date().toUTCString()}`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    message.text,
    `--${boundary}`,
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    message.html,
    `--${boundary}--`,
    "",
  ]
    .join("\r\n")
    .replace(/\r?\n/g, "\r\n");
}

/** Builds the mailer: SMTP when a URL is given, otherwise the development outbox. */
export function createMailer(options: MailerOptions): Mailer {
  const attempts = options.retry?.attempts ?? 5;
  const baseMs = options.retry?.baseMs ?? 30_000;
  // The SMTP transport is made (and nodemailer loaded) at the first mail: a start does not pay for
  // it, and the outbox needs none (readableEml writes the file).
  let transport: Promise<Transporter> | undefined;
  const smtp = (smtpUrl: string) =>
    (transport ??= import("nodemailer").then(({ default: nodemailer }) => {
      const made = nodemailer.createTransport({
        // TLS follows the URL: smtps:// is TLS from the start; smtp:// must upgrade with STARTTLS
        // unless the server is on this machine, so a password and reset links never cross a network in the clear.
        url: smtpUrl,
        requireTLS: requiresStartTls(smtpUrl),
        // A hung server must not hold deliveries (or shutdown) for nodemailer's default two minutes.
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 30_000,
      });
      // A pooled or OAuth2 SMTP transport reports connection failures as 'error' events; sends still fail (and retry) on their own.
      made.on("error", (error: Error) => options.log.warn({ err: error.message }, "mail transport error"));
      return made;
    }));
  const inFlight = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let waiters: (() => void)[] = [];
  let closed = false;

  const settle = () => {
    if (inFlight.size > 0 || timers.size > 0) return;
    const ready = waiters;
    waiters = [];
    for (const resolve of ready) resolve();
  };

  const deliver = async (mail: OutgoingMail): Promise<string | undefined> => {
    const rendered = (options.render ?? renderMail)(mail.template);
    const message = {
      from: options.from,
      to: mail.to,
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
    };
    if (options.smtpUrl) {
      await (await smtp(options.smtpUrl)).sendMail(message);
      return undefined;
    }
    mkdirSync(options.outboxDir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const path = join(options.outboxDir, `${stamp}-${mail.template.type}-${randomToken(6)}.eml`);
    // The file holds the link (it is the developer's inbox); only its owner may read it.
    writeFileSync(path, readableEml(message), { mode: 0o600 });
    return path;
  };

  const attempt = (mail: OutgoingMail, n: number) => {
    const run = (async () => {
      try {
        const path = await deliver(mail);
        // The path only: the mail itself carries a one-time link that must not reach the logs.
        if (path) options.log.info({ path, template: mail.template.type }, "mail written to the outbox (no SMTP_URL)");
        await options.audit?.record({
          eventType: "mail.sent",
          result: "success",
          actor: { userId: null },
          target: mail.userId,
          metadata: { template: mail.template.type, attempts: n },
        });
      } catch (error) {
        const reason = (error as Error).message;
        if (n < attempts && !closed) {
          options.log.warn(
            { err: reason, template: mail.template.type, attempt: n },
            "mail delivery failed; will retry",
          );
          const timer = setTimeout(
            () => {
              timers.delete(timer);
              attempt(mail, n + 1);
            },
            baseMs * 2 ** (n - 1),
          );
          timer.unref();
          timers.add(timer);
        } else {
          options.log.error(
            { err: reason, template: mail.template.type, attempts: n },
            "mail delivery failed; giving up",
          );
          await options.audit
            ?.record({
              eventType: "mail.sent",
              result: "failure",
              actor: { userId: null },
              target: mail.userId,
              metadata: { template: mail.template.type, attempts: n },
            })
            .catch(() => undefined);
        }
      }
    })();
    inFlight.add(run);
    void run.finally(() => {
      inFlight.delete(run);
      settle();
    });
  };

  return {
    send(mail) {
      if (closed) {
        options.log.warn({ template: mail.template.type }, "mail dropped: the mailer is closed");
        return;
      }
      attempt(mail, 1);
    },
    idle() {
      if (inFlight.size === 0 && timers.size === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      closed = true;
      if (timers.size > 0)
        options.log.warn({ count: timers.size }, "mails waiting for a retry were dropped at shutdown");
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const wait = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref());
      await Promise.race([Promise.allSettled([...inFlight]), wait]);
      if (transport) (await transport.catch(() => undefined))?.close();
      settle();
    },
  };
}
