// Helpers for tests that need accounts: register and sign in through the real HTTP API.
import assert from "node:assert/strict";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { randomToken } from "../src/core/crypto/index.js";

export type SignedIn = {
  userId: string;
  username: string;
  email: string;
  password: string;
  access: string;
  refresh: string;
  sessionId: string;
  deviceToken: string;
};

/** A password the policy accepts, different every time. */
export function goodPassword(): string {
  return `Lantern ${randomToken(9)} orchard`;
}

/**
 * Registers a user (a fresh name unless given) and returns its id and password. The address is then
 * marked verified, as an operator would (API keys, two-factor and webhook endpoints need a proven
 * address), unless `verified: false`: tests of verification itself, and of what an unproven account may not do.
 */
export async function register(
  app: FastifyInstance,
  options: { username?: string; email?: string; password?: string; verified?: boolean } = {},
) {
  const username = options.username ?? `user_${randomToken(6).replace(/[^A-Za-z0-9]/g, "x")}`;
  const password = options.password ?? goodPassword();
  const email = options.email ?? `${username.toLowerCase()}@example.com`;
  const res = await app.inject({ method: "POST", url: "/api/auth/register", payload: { username, email, password } });
  assert.equal(res.statusCode, 201, res.body);
  const userId = res.json().user.id as string;
  if (options.verified !== false) await app.bulwark.accounts.markEmailVerified(userId, { via: "test" });
  return { userId, username, email, password };
}

/** Signs in with username and password over the API. */
export async function login(
  app: FastifyInstance,
  user: { username: string; password: string },
  extra: Record<string, unknown> = {},
  remoteAddress = "127.0.0.1",
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: "POST",
    url: "/api/auth/login",
    payload: { login: user.username, password: user.password, ...extra },
    remoteAddress,
  });
}

/** Registers and signs in a new user. */
export async function signedIn(
  app: FastifyInstance,
  options: { username?: string; password?: string; verified?: boolean } = {},
): Promise<SignedIn> {
  const user = await register(app, options);
  const res = await login(app, user);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  return {
    ...user,
    access: body.access_token,
    refresh: body.refresh_token,
    sessionId: body.session_id,
    deviceToken: body.device_token,
  };
}

/** Authorization header for an access token. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** Steps up the session (sudo mode, as before creating an API key) with the user's password. */
export async function stepUp(app: FastifyInstance, user: { access: string; password: string }): Promise<void> {
  const res = await app.inject({
    method: "POST",
    url: "/api/auth/step-up",
    headers: bearer(user.access),
    payload: { password: user.password },
  });
  assert.equal(res.statusCode, 200, res.body);
}
