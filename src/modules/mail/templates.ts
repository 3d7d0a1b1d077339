// The mails Bulwark sends, as plain text and simple HTML. Every value put into the HTML is escaped:
// a user agent is attacker-controlled text. The recipient's display name and username are never
// put in a mail at all: whoever registers chooses them, for an address that may not be theirs, so
// a name like "URGENT: call +1 555…" would reach a stranger's inbox inside Bulwark's own mail.

export type MailTemplate =
  /** `adminAccount`: the address is an admin address, and confirming it inside that account's session makes it an administrator. */
  | { type: "verify_email"; link: string; adminAccount?: string | undefined }
  | { type: "password_reset"; link: string; expiresMinutes: number }
  /** `ended`: a completed reset, with what it ended (a change by the signed-in owner has none); `liveCredentials`: what a change left alive. */
  | {
      type: "password_changed";
      time: string;
      resetLink: string;
      liveCredentials?: readonly string[] | undefined;
      ended?: { sessions: number; apiKeys: number; mfa: boolean } | undefined;
    }
  | { type: "new_sign_in"; ip: string | null; userAgent: string | null; time: string; sessionsLink: string }
  | { type: "lockout"; until: string; resetLink: string }
  | { type: "email_changed"; time: string; undoLink: string; expiresDays: number }
  | { type: "mfa_enabled"; time: string }
  | { type: "mfa_disabled"; time: string; resetLink: string }
  | { type: "invitation"; link: string; expiresDays: number };

export type MailTemplateType = MailTemplate["type"];

export type RenderedMail = { subject: string; text: string; html: string };

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

type Block = string | { link: string; label: string };

const renderParts = (subject: string, greeting: string, blocks: Block[], appName: string): RenderedMail => {
  const signature = `— ${appName}`;
  const text = [
    greeting,
    "",
    ...blocks.flatMap((b) => (typeof b === "string" ? [b, ""] : [`${b.label}:`, b.link, ""])),
    signature,
  ].join("\n");
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<p>${escapeHtml(greeting)}</p>`,
    ...blocks.map((b) =>
      typeof b === "string"
        ? `<p>${escapeHtml(b)}</p>`
        : `<p><a href="${escapeHtml(b.link)}">${escapeHtml(b.label)}</a></p>`,
    ),
    `<p>${escapeHtml(signature)}</p>`,
    "</body></html>",
  ].join("\n");
  return { subject, text, html };
};

const IGNORE = "If this was not you, reset your password now and review your sessions.";

/** The credentials a password change leaves working (API keys), one line each, or a line saying there are none. */
const liveList = (items: readonly string[] | undefined): string[] => {
  if (items === undefined) return [];
  if (items.length === 0) return ["You have no API keys: nothing else signs in as you."];
  return [
    `These API keys still work (a password change does not end them; revoke any you do not recognise):`,
    ...items.map((item) => `- ${item}`),
  ];
};

/** Renders a template. The greeting names nobody: display names and usernames are chosen by whoever registered. */
export function renderMail(template: MailTemplate, appName = "Bulwark"): RenderedMail {
  const hello = "Hello,";
  const render = (subject: string, greeting: string, blocks: Block[]) =>
    renderParts(subject, greeting, blocks, appName);
  switch (template.type) {
    case "verify_email":
      return render(`${appName}: confirm your email address`, hello, [
        "Confirm that this address is yours. The link works once, for 24 hours.",
        // The username is safe to show (letters, digits, _ and -), and the owner must know which account asks.
        ...(template.adminAccount !== undefined
          ? [
              `This address is an administrator address of ${appName}. Confirming it while signed in to the account "${template.adminAccount}" grants administrator rights to that account.`,
              `If you did not create the account "${template.adminAccount}" yourself, do not sign in to it: confirming without signing in only proves the address and grants nothing, and an operator can tell you who registered it.`,
            ]
          : []),
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
      if (template.ended) {
        const { sessions, apiKeys, mfa } = template.ended;
        const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
        return render(`${appName}: your password was changed`, hello, [
          `Your password was reset with a link sent to this address at ${template.time}. This proves the address is yours, so everything that may have been set up by someone else ended:`,
          `Signed out: ${plural(sessions, "session")}. Revoked: ${plural(apiKeys, "API key")}.`,
          ...(mfa
            ? [
                "Removed: two-factor authentication that was turned on before this address was confirmed. Turn it on again from your own device.",
              ]
            : []),
          IGNORE,
          { label: "Reset your password", link: template.resetLink },
        ]);
      }
      return render(`${appName}: your password was changed`, hello, [
        `Your password was changed at ${template.time}. Your other sessions were signed out.`,
        ...liveList(template.liveCredentials),
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
    case "email_changed":
      // The new address is not shown: whoever changed it chose it.
      return render(`${appName}: the email address of your account was changed`, hello, [
        `The email address of your account was changed at ${template.time}. This address no longer receives mail about the account, nor password resets.`,
        `If this was not you, undo the change: the link gives this address back to the account and signs every session out. It works once, for ${template.expiresDays} days. Then reset your password.`,
        { label: "Undo the email change", link: template.undoLink },
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
