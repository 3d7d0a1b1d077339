// `bulwark mail latest`: the development outbox's newest mail, with its links, so a developer can
// open a verification or reset link without an SMTP server or a mail client.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readEnv } from "../config/load.js";
import type { Output } from "./output.js";

const HELP = `Usage: bulwark mail latest [--to EMAIL] [--json]

Prints the newest mail of the development outbox (DATA_DIR/outbox, used when SMTP_URL is unset):
its file, recipient, subject and every link in it. --to picks the newest mail to that address.`;

/** Undoes quoted-printable (outbox files written by older versions). */
const unQuote = (text: string) =>
  text.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

export type OutboxMail = { file: string; to: string; subject: string; links: string[]; text: string };

/** Reads one outbox file: its recipient, subject, plain-text part and the links in it. */
export function readOutboxMail(path: string): OutboxMail {
  const raw = readFileSync(path, "utf8");
  const header = (name: string) => new RegExp(`^${name}: (.*)$`, "mi").exec(raw)?.[1]?.trim() ?? "";
  const encoded = /^=\?UTF-8\?B\?(.*)\?=$/i.exec(header("Subject"));
  const subject = encoded ? Buffer.from(encoded[1]!, "base64").toString("utf8") : header("Subject");
  const plain = /Content-Type: text\/plain[^]*?\r?\n\r?\n([^]*?)\r?\n--/i.exec(raw)?.[1] ?? raw;
  const text = /quoted-printable/i.test(raw) ? unQuote(plain) : plain;
  const links = [...new Set(text.match(/https?:\/\/[^\s<>"]+/g) ?? [])];
  return { file: path, to: header("To"), subject, links, text };
}

/** Runs `bulwark mail <sub>`; returns the exit code. */
export async function mailCommand(argv: string[], out: Output, env = readEnv()): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") return out.help(HELP);
  if (sub !== "latest") {
    out.error(`unknown subcommand "mail ${sub}"; try: bulwark mail latest`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: { to: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) return out.help(HELP);
  const dir = join(resolve(env.DATA_DIR || "./data"), "outbox");
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".eml"))
        .sort()
        .reverse()
    : [];
  const want = values.to?.toLowerCase();
  for (const file of files) {
    const mail = readOutboxMail(join(dir, file));
    if (want !== undefined && mail.to.toLowerCase() !== want) continue;
    if (values.json) {
      out.line(JSON.stringify({ file: mail.file, to: mail.to, subject: mail.subject, links: mail.links }));
    } else {
      out.line(`File:    ${mail.file}`);
      out.line(`To:      ${mail.to}`);
      out.line(`Subject: ${mail.subject}`);
      for (const link of mail.links) out.line(`Link:    ${link}`);
    }
    return 0;
  }
  out.error(
    env.SMTP_URL
      ? "SMTP_URL is set: mails go to the mail server, not the outbox"
      : `no mail${want ? ` to ${want}` : ""} in ${dir}`,
  );
  return 1;
}
