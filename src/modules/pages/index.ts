// Bulwark's built-in landing pages for the links in its mails, served when no FRONTEND_URL is set:
// verify an email address, reset a password, accept an invitation, undo an email change. Each is
// a small HTML form under a strict CSP (scripts and styles from this origin only, no inline code,
// no third-party assets); one static script posts the link's token to the API route the form names.
// The first admin's setup page (the link `bulwark start` prints) is served with or without FRONTEND_URL.
import { readFileSync } from "node:fs";
import { SETUP_PATH } from "../accounts/first-admin.js";
import { escapeHtml, PAGES, type Page } from "../mail/index.js";
import { defineModule } from "../module.js";

declare module "../module.js" {
  interface Services {
    pages: undefined;
  }
}

/** The pages' CSP: nothing inline, nothing from another origin, fetches to this API only. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export const SCRIPT_PATH = "/assets/bulwark-pages.js";
export const STYLE_PATH = "/assets/bulwark-pages.css";

/** A mailed link's page, or the first admin's setup page. */
type AnyPage = Page | "setup_admin";

/** The API route each page posts the token (and its fields) to. */
export const PAGE_API: Record<AnyPage, string> = {
  setup_admin: "/api/setup/admin",
  verify_email: "/api/auth/email/verify",
  reset_password: "/api/auth/password/reset",
  accept_invite: "/api/auth/invitations/accept",
  // The undo token is issued by the email-change flow; the page only carries it to this route.
  undo_email_change: "/api/auth/email/undo",
};

const asset = (name: string) => readFileSync(new URL(`./assets/${name}`, import.meta.url), "utf8");

type Field = {
  name: string;
  label: string;
  type: "text" | "email" | "password";
  autocomplete: string;
  repeatOf?: string;
  pattern?: string;
  hint?: string;
};

const passwordFields = (name: string): Field[] => [
  { name, label: "New password", type: "password", autocomplete: "new-password" },
  {
    name: "repeat_password",
    label: "Repeat the new password",
    type: "password",
    autocomplete: "new-password",
    repeatOf: name,
  },
];

const usernameField: Field = {
  name: "username",
  label: "Username",
  type: "text",
  autocomplete: "username",
  pattern: "[A-Za-z0-9_\\-]{3,50}",
  hint: "3 to 50 letters, digits, _ or -",
};

/** What each page says and asks for. */
const CONTENT: Record<AnyPage, { title: string; intro: string; fields: Field[]; button: string; done: string }> = {
  setup_admin: {
    title: "Create the first admin",
    intro:
      "No administrator exists yet. Choose the username, email address and password of the first admin account. This link works once.",
    fields: [
      usernameField,
      { name: "email", label: "Email address", type: "email", autocomplete: "email" },
      { name: "password", label: "Password", type: "password", autocomplete: "new-password" },
      {
        name: "repeat_password",
        label: "Repeat the password",
        type: "password",
        autocomplete: "new-password",
        repeatOf: "password",
      },
    ],
    button: "Create the admin account",
    done: "The admin account is ready: sign in with it. Confirm its email address with the link mailed to it.",
  },
  verify_email: {
    title: "Confirm your email address",
    intro: "Confirm that this email address is yours.",
    fields: [],
    button: "Confirm my email address",
    done: "Your email address is confirmed. You can close this page.",
  },
  reset_password: {
    title: "Choose a new password",
    intro: "Choose a new password for your account. Your other sessions will be signed out.",
    fields: passwordFields("new_password"),
    button: "Set the new password",
    done: "Your password is changed. You can sign in with it now.",
  },
  accept_invite: {
    title: "Accept your invitation",
    intro: "Choose a username and a password to create your account.",
    fields: [usernameField, ...passwordFields("password")],
    button: "Create my account",
    done: "Your account is ready. You can sign in now.",
  },
  undo_email_change: {
    title: "Undo the email change",
    intro:
      "The email address of your account was changed. If you did not do this, undo it: your account goes back to this address.",
    fields: [],
    button: "Undo the change",
    done: "The change is undone: your account uses this address again. Choose a new password if you did not make the change.",
  },
};

/** The HTML of one page; every variable part is escaped. */
export function renderPage(page: AnyPage, appName: string): string {
  const c = CONTENT[page];
  const field = (f: Field) => {
    const id = `f-${f.name}`;
    const hint = f.hint ? `<small id="${id}-hint">${escapeHtml(f.hint)}</small>` : "";
    return [
      `<label for="${id}">${escapeHtml(f.label)}</label>`,
      `<input id="${id}" name="${f.name}" type="${f.type}" autocomplete="${f.autocomplete}" required`,
      f.pattern ? ` pattern="${escapeHtml(f.pattern)}"` : "",
      f.repeatOf ? ` data-repeat="${f.repeatOf}"` : "",
      f.hint ? ` aria-describedby="${id}-hint"` : "",
      `>${hint}`,
    ].join("");
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(c.title)} · ${escapeHtml(appName)}</title>
<link rel="stylesheet" href="${STYLE_PATH}">
<script src="${SCRIPT_PATH}" defer></script>
</head>
<body>
<main>
<p>${escapeHtml(appName)}</p>
<h1>${escapeHtml(c.title)}</h1>
<p>${escapeHtml(c.intro)}</p>
<form id="form" data-api="${PAGE_API[page]}" data-done="${escapeHtml(c.done)}" novalidate>
${c.fields.map(field).join("\n")}
<button type="submit">${escapeHtml(c.button)}</button>
</form>
<p id="status" role="status" aria-live="polite" tabindex="-1"></p>
<noscript><p>This page needs JavaScript to send the form.</p></noscript>
</main>
</body>
</html>
`;
}

/** GET /verify-email, /reset-password, /accept-invite, /undo-email-change and their script and style. */
export const pagesModule = defineModule({
  name: "pages",
  needs: [],
  create: () => undefined,
  async routes(app, _service, _use, { config }) {
    const script = asset("bulwark-pages.js");
    const style = asset("bulwark-pages.css");
    app.get(SCRIPT_PATH, { config: { auth: "public", rateLimit: "default" } }, async (_req, reply) =>
      reply.type("text/javascript; charset=utf-8").header("cache-control", "public, max-age=3600").send(script),
    );
    app.get(STYLE_PATH, { config: { auth: "public", rateLimit: "default" } }, async (_req, reply) =>
      reply.type("text/css; charset=utf-8").header("cache-control", "public, max-age=3600").send(style),
    );
    // Browsers ask for it on every page; an empty answer keeps the console free of 404s.
    app.get("/favicon.ico", { config: { auth: "public", rateLimit: "default" } }, async (_req, reply) =>
      reply.code(204).header("cache-control", "public, max-age=86400").send(),
    );
    // A team with its own front end gets the mailed links there; these pages are the out-of-the-box
    // answer. The setup page is the operator's, printed by the server: always served here.
    const served: [AnyPage, string][] = [["setup_admin", SETUP_PATH]];
    if (!config.frontendUrl) served.push(...(Object.entries(PAGES) as [Page, string][]));
    for (const [page, path] of served) {
      const html = renderPage(page, config.appName);
      app.get(path, { config: { auth: "public", rateLimit: "default" } }, async (_req, reply) =>
        reply.type("text/html; charset=utf-8").header("content-security-policy", PAGE_CSP).send(html),
      );
    }
  },
});
