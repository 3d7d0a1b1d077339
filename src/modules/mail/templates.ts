// The mails Bulwark sends, as plain text and simple HTML. Every value put into the HTML is escaped:
// a user agent is attacker-controlled text. The recipient's display name and username are never
// put in a mail at all: whoever registers chooses them, for an address that may not be theirs, so
// a name like "URGENT: call +1 555…" would reach a stranger's inbox inside Bulwark's own mail.

export type MailTemplate =
  | { type: "verify_email"; link: string }
  | { type: "password_reset"; link: string; expiresMinutes: number }
  | { type: "password_changed"; time: string; resetLink: string }
  | { type: "new_sign_in"; ip: string | null; userAgent: string | null; time: string; sessionsLink: string }
  | { type: "lockout"; until: string; resetLink: string }
  | { type: "mfa_enabled"; time: string }
  | { type: "mfa_disabled"; time: string; resetLink: string }
  | { type: "invitation"; link: string; expiresDays: number };

export type MailTemplateType = MailTemplate["type"];

export type RenderedMail = { subject: string; text: string; html: string };

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

type Block = string | { link: string; label: string };

const renderParts = (subject: string, greeting: string, blocks: Block[], appName: string): RenderedMail => {
  const signature = `— ${appName}`;
  const text = [greeting, "", ...blocks.flatMap((b) => (typeof b === "string" ? [b, ""] : [`${b.label}:`, b.link, ""])), signature].join("\n");
  const html = [
    "<!doctype html><html><body style=\"font-family:sans-serif\">",
    `<p>${escapeHtml(greeting)}</p>`,
    ...blocks.map((b) => (typeof b === "string" ? `<p>${escapeHtml(b)}</p>` : `<p><a href="${escapeHtml(b.link)}">${escapeHtml(b.label)}</a></p>`)),
    `<p>${escapeHtml(signature)}</p>`,
    "</body></html>",
  ].join("\n");
  return { subject, text, html };
};

const IGNORE = "If this was not you, reset your password now and review your sessions.";

/** Renders a template. The greeting names nobody: display names and usernames are chosen by whoever registered. */
export function renderMail(template: MailTemplate, appName = "Bulwark"): RenderedMail {
  const hello = "Hello,";
  const render = (subject: string, greeting: string, blocks: Block[]) => renderParts(subject, greeting, blocks, appName);
  switch (template.type) {
    case "verify_email":
      return render(`${appName}: confirm your email address`, hello, [
        "Confirm that this address is yours. The link works once, for 24 hours.",
        { label: "Confirm your email address", link: template.link },
        "If you did not ask for this, ignore this mail.",
      ]);
    case "password_reset":
      return render(`${appName}: reset your password`, hello, [
        `Someone (we hope you) asked to reset your password. The link works once, for ${template.expiresMinutes} minutes.`,
        { label: "Choose a new password", link: template.link },
        "If you did not ask for this, ignore this mail: your password stays as it is.",
      ]);
    case "password_changed":
      return render(`${appName}: your password was changed`, hello, [
        `Your password was changed at ${template.time}. Your other sessions were signed out.`,
        IGNORE,
        { label: "Reset your password", link: template.resetLink },
      ]);
    case "new_sign_in":
      return render(`${appName}: new sign-in to your account`, hello, [
        "Your account was signed in to from a device we have not seen before.",
        `Time: ${template.time}`,
        `IP address: ${template.ip ?? "unknown"}`,
        `Browser or app: ${template.userAgent ?? "unknown"}`,
        IGNORE,
        { label: "Review your sessions", link: template.sessionsLink },
      ]);
    case "lockout":
      return render(`${appName}: sign-in to your account is paused`, hello, [
        `There were too many failed sign-ins to your account, so new sign-ins from unknown devices are paused until ${template.until}. Devices you signed in from before can still sign in.`,
        "If this was not you, someone may be guessing your password. Choosing a new one stops them.",
        { label: "Reset your password", link: template.resetLink },
      ]);
    case "mfa_enabled":
      return render(`${appName}: two-factor authentication is on`, hello, [
        `Two-factor authentication was turned on for your account at ${template.time}. Keep your recovery codes somewhere safe.`,
        "If this was not you, contact your administrator at once.",
      ]);
    case "invitation":
      return render(`${appName}: you are invited`, hello, [
        `You are invited to create an account on ${appName}. The link works once, for ${template.expiresDays} days.`,
        { label: "Accept the invitation", link: template.link },
        "If you did not expect this, ignore this mail.",
      ]);
    case "mfa_disabled":
      return render(`${appName}: two-factor authentication is off`, hello, [
        `Two-factor authentication was turned off for your account at ${template.time}.`,
        IGNORE,
        { label: "Reset your password", link: template.resetLink },
      ]);
  }
}
