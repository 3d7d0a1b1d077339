// The typed client: `import { createClient } from "bulwark/client"`. Every route's path, body,
// parameters and answers are typed from the OpenAPI document (openapi-typescript types in
// ./openapi.ts, calls by openapi-fetch), plus the parts people get wrong by hand: refreshing on
// 401 with one refresh for many concurrent calls, browser mode with its CSRF header, the second
// step of a two-factor sign-in, and typed error codes. Runs in browsers and Node (fetch only).
import createFetchClient from "openapi-fetch";
import type { components, paths } from "./openapi.js";

export type { components, paths } from "./openapi.js";

/** The error envelope every error answer carries. */
export type BulwarkError = components["schemas"]["Error"];
/** Every stable error code (docs/errors.md), as a union clients can switch on. */
export type ErrorCode = BulwarkError["error"]["code"];

/** A session's tokens in token mode. */
export type Tokens = { access_token: string; refresh_token: string };

/** Where the client keeps its tokens; in memory by default (persist them at your own risk). */
export type TokenStore = { get(): Tokens | null; set(tokens: Tokens | null): void };

export type ClientOptions = {
  /** Bulwark's PUBLIC_URL. */
  baseUrl: string;
  /**
   * `tokens` (default): the client holds the access and refresh tokens and sends a bearer token.
   * `cookies`: browser mode; Bulwark keeps the tokens in HttpOnly cookies and the client sends
   * the CSRF header on unsafe methods.
   */
  mode?: "tokens" | "cookies";
  store?: TokenStore;
  /** The fetch to use (the global one by default). */
  fetch?: (request: Request) => Promise<Response>;
  /** Called when the session ended and could not be refreshed (logged out elsewhere, revoked, reused). */
  onSessionEnded?: () => void;
  /** Browser mode: reads the CSRF cookie; by default from `document.cookie`. */
  csrfToken?: () => string | undefined;
};

/** What a sign-in gives: done, or a second factor to ask for (then call `verifyMfa`). */
export type SignInResult =
  | { status: "signed_in"; session_id: string }
  | { status: "mfa_required"; mfa_token: string; expires_in: number }
  | { status: "error"; error: BulwarkError };

/** Routes whose 401 means bad credentials, not an expired access token: never refreshed. */
const NO_REFRESH = new Set(["/api/auth/login", "/api/auth/refresh", "/api/auth/mfa/verify", "/api/auth/register"]);
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** An in-memory token store. */
export function memoryStore(): TokenStore {
  let tokens: Tokens | null = null;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = next;
    },
  };
}

/** The CSRF cookie of browser mode (`__Host-` prefixed over https). */
function documentCsrf(): string | undefined {
  const doc = (globalThis as { document?: { cookie?: string } }).document;
  const match = /(?:^|;\s*)(?:__Host-)?bulwark_csrf=([^;]+)/.exec(doc?.cookie ?? "");
  return match ? decodeURIComponent(match[1]!) : undefined;
}

/** Creates a client for one Bulwark; `client.GET("/api/users/me")` and so on, all typed. */
export function createClient(options: ClientOptions) {
  const mode = options.mode ?? "tokens";
  const store = options.store ?? memoryStore();
  const baseFetch = options.fetch ?? ((request: Request) => fetch(request));
  const csrf = options.csrfToken ?? documentCsrf;
  const base = options.baseUrl.replace(/\/+$/, "");
  /** Bumped by every successful refresh: a 401 to a request sent before it is retried, not refreshed again. */
  let generation = 0;
  let refreshing: Promise<boolean> | null = null;

  const decorate = (request: Request): Request => {
    const headers = new Headers(request.headers);
    if (mode === "tokens") {
      const tokens = store.get();
      if (tokens && !headers.has("authorization")) headers.set("authorization", `Bearer ${tokens.access_token}`);
    } else if (!SAFE.has(request.method)) {
      const token = csrf();
      if (token) headers.set("x-csrf-token", token);
    }
    return new Request(request, { headers });
  };

  /** One refresh at a time: concurrent 401s share it (the server lets exactly one rotation win). */
  const refresh = (): Promise<boolean> => {
    refreshing ??= (async () => {
      const tokens = store.get();
      if (mode === "tokens" && !tokens) return false;
      const body = mode === "tokens" ? { refresh_token: tokens!.refresh_token } : { use_cookies: true };
      const response = await baseFetch(
        decorate(
          new Request(`${base}/api/auth/refresh`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
            credentials: mode === "cookies" ? "include" : "same-origin",
          }),
        ),
      );
      if (!response.ok) {
        // token_reused or unauthorized: this session is over; a 429 or 5xx is not (keep the tokens).
        if (response.status === 401) {
          store.set(null);
          options.onSessionEnded?.();
        }
        return false;
      }
      if (mode === "tokens") {
        const pair = (await response.json()) as { access_token: string; refresh_token: string };
        store.set({ access_token: pair.access_token, refresh_token: pair.refresh_token });
      }
      generation += 1;
      return true;
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  };

  const authFetch = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    const retryable = !NO_REFRESH.has(path) && (mode === "cookies" || store.get() !== null);
    // The body can be read once: keep a copy for the retry.
    const copy = retryable ? request.clone() : undefined;
    const sentAt = generation;
    const response = await baseFetch(decorate(request));
    if (response.status !== 401 || !copy) return response;
    // Another call refreshed while this one was in flight: retry with the new token, do not
    // refresh again (a second rotation of the same refresh token would be reuse and end the session).
    if (generation !== sentAt || (await refresh())) return baseFetch(decorate(copy));
    return response;
  };

  const api = createFetchClient<paths>({
    baseUrl: base,
    fetch: authFetch,
    ...(mode === "cookies" ? { credentials: "include" } : {}),
  });

  const settle = (data: { access_token?: string; refresh_token?: string; session_id: string }): SignInResult => {
    if (mode === "tokens" && data.access_token && data.refresh_token)
      store.set({ access_token: data.access_token, refresh_token: data.refresh_token });
    return { status: "signed_in", session_id: data.session_id };
  };

  return Object.assign(api, {
    /** The token store (token mode). */
    tokens: store,
    /** Refreshes now (single-flight); false when the session is over. */
    refresh,
    /** Signs in; answers `mfa_required` when the account has a second factor. */
    async signIn(credentials: { login: string; password: string; device_token?: string }): Promise<SignInResult> {
      const { data, error } = await api.POST("/api/auth/login", {
        body: { ...credentials, ...(mode === "cookies" ? { use_cookies: true } : {}) },
      });
      if (error || !data) return { status: "error", error: error as BulwarkError };
      if ("mfa_required" in data)
        return { status: "mfa_required", mfa_token: data.mfa_token, expires_in: data.expires_in };
      return settle(data);
    },
    /** The second step: the code from the authenticator app (or a recovery code). */
    async verifyMfa(step: { mfa_token: string; code: string }): Promise<SignInResult> {
      const { data, error } = await api.POST("/api/auth/mfa/verify", { body: step });
      if (error || !data) return { status: "error", error: error as BulwarkError };
      return settle(data);
    },
    /** Ends this session on the server and forgets the tokens. */
    async signOut(): Promise<void> {
      await api.POST("/api/auth/logout", { body: {} });
      store.set(null);
    },
  });
}

export type BulwarkClient = ReturnType<typeof createClient>;
