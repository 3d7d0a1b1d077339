// Where the links in mails land: FRONTEND_URL when the team has its own pages, else Bulwark's
// built-in pages at PUBLIC_URL (src/modules/pages). A request may name its own landing URL in
// `redirect_to`, but only one under an allowed prefix: an open choice would let anyone have
// Bulwark mail a user a genuine reset token pointing at the attacker's site.
import type { Config } from "../../config/types.js";

/** The pages a mailed link opens, by purpose, and their path under the link base. */
export const PAGES = {
  verify_email: "/verify-email",
  reset_password: "/reset-password",
  accept_invite: "/accept-invite",
  undo_email_change: "/undo-email-change",
} as const;

export type Page = keyof typeof PAGES;

type LinkConfig = Pick<Config, "publicUrl" | "frontendUrl" | "redirectUrls">;

/** The base URL of mailed links: FRONTEND_URL, else PUBLIC_URL (the built-in pages). */
export function linkBase(config: LinkConfig): string {
  return config.frontendUrl ?? config.publicUrl;
}

/** Whether `url` lies under an allowed prefix (REDIRECT_URLS or FRONTEND_URL), on a path boundary. */
export function allowedRedirect(config: LinkConfig, url: string): boolean {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return false;
  }
  if (target.username || target.password || target.hash) return false;
  const href = target.href;
  return config.redirectUrls.some((prefix) => {
    const p = new URL(prefix).href.replace(/\/+$/, "");
    // `https://app.example` must not admit `https://app.example.evil.com`.
    return href === p || href.startsWith(`${p}/`) || href.startsWith(`${p}?`);
  });
}

/** The mailed link to a page, with the token in the query; `redirectTo` (already allowed) replaces the page. */
export function pageLink(config: LinkConfig, page: Page, token?: string, redirectTo?: string): string {
  const url = new URL(redirectTo ?? `${linkBase(config)}${PAGES[page]}`);
  if (token !== undefined) url.searchParams.set("token", token);
  return url.href;
}
