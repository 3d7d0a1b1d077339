// Mail templates a team overrides from a directory (MAIL_TEMPLATES_DIR): for any template type,
// `<type>.subject.txt`, `<type>.txt` and `<type>.html`, each optional (a missing one keeps the
// built-in part). `{{name}}` inserts a variable: HTML-escaped in `.html`, as text in `.txt`, on one
// line in the subject. The files are read and checked once at start: an unknown variable or file
// stops the start naming it, instead of mailing a user a raw `{{lnik}}`.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { escapeHtml, renderMail, type MailTemplate, type MailTemplateType, type RenderedMail } from "./templates.js";

/** The variables each template offers (besides `app_name`, which all have); docs/mail-templates.md lists them. */
export const TEMPLATE_VARIABLES: Record<MailTemplateType, readonly string[]> = {
  verify_email: ["link", "admin_account"],
  password_reset: ["link", "expires_minutes"],
  password_changed: ["time", "reset_link", "live_credentials", "ended"],
  new_sign_in: ["ip", "user_agent", "time", "sessions_link"],
  lockout: ["until", "reset_link"],
  email_changed: ["time", "undo_link", "expires_days"],
  mfa_enabled: ["time"],
  mfa_disabled: ["time", "reset_link"],
  invitation: ["link", "expires_days"],
};

const PARTS = ["subject.txt", "txt", "html"] as const;
type Part = (typeof PARTS)[number];
const VARIABLE = /\{\{\s*([a-z_]+)\s*\}\}/g;

/** A list as "a; b", a record as "key: value, …" (what a reset ended), anything else as text. */
function textOf(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join("; ");
  if (typeof value === "object" && value !== null)
    return Object.entries(value)
      .map(([k, v]) => `${k}: ${String(v)}`)
      .join(", ");
  return String(value);
}

/** A template's values by variable name (`resetLink` → `reset_link`); null shown as "unknown". */
function variablesOf(template: MailTemplate, appName: string): Record<string, string> {
  const values: Record<string, string> = { app_name: appName };
  for (const [key, value] of Object.entries(template)) {
    if (key === "type") continue;
    values[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value === null ? "unknown" : textOf(value);
  }
  return values;
}

/** Fills `{{name}}` in `text`, each value passed through `encode`. */
function fill(text: string, values: Record<string, string>, encode: (value: string) => string): string {
  return text.replace(VARIABLE, (_, name: string) => encode(values[name] ?? ""));
}

/** Reads and checks the override directory; returns the renderer every mail goes through. */
export function createMailRenderer(options: {
  appName: string;
  templatesDir?: string | undefined;
}): (template: MailTemplate) => RenderedMail {
  const overrides = new Map<string, string>();
  if (options.templatesDir) {
    const dir = options.templatesDir;
    if (!existsSync(dir)) throw new Error(`MAIL_TEMPLATES_DIR: ${dir} does not exist`);
    for (const file of readdirSync(dir)) {
      const match = /^([a-z_]+)\.(subject\.txt|txt|html)$/.exec(file);
      const type = match?.[1] as MailTemplateType | undefined;
      if (!match || !type || !(type in TEMPLATE_VARIABLES)) {
        throw new Error(
          `MAIL_TEMPLATES_DIR: ${file} is not a template file (<type>.subject.txt, <type>.txt or <type>.html; types: ${Object.keys(TEMPLATE_VARIABLES).join(", ")})`,
        );
      }
      const text = readFileSync(join(dir, file), "utf8");
      const allowed = new Set(["app_name", ...TEMPLATE_VARIABLES[type]]);
      for (const [, name] of text.matchAll(VARIABLE)) {
        if (!allowed.has(name!))
          throw new Error(
            `MAIL_TEMPLATES_DIR: ${file} uses {{${name}}}, which ${type} does not have (it has: ${[...allowed].join(", ")})`,
          );
      }
      overrides.set(`${type}.${match[2]}`, text);
    }
  }
  return (template) => {
    const built = renderMail(template, options.appName);
    if (overrides.size === 0) return built;
    const values = variablesOf(template, options.appName);
    const part = (name: Part) => overrides.get(`${template.type}.${name}`);
    const subject = part("subject.txt");
    const text = part("txt");
    const html = part("html");
    return {
      // A subject is one header line: a line break in a value or the file would start a header of its own.
      subject: subject !== undefined ? fill(subject.trim(), values, (v) => v).replace(/[\r\n]+/g, " ") : built.subject,
      text: text !== undefined ? fill(text, values, (v) => v) : built.text,
      html: html !== undefined ? fill(html, values, escapeHtml) : built.html,
    };
  };
}
