// Helpers for tests that need two-factor: codes come from otplib, an implementation other than the server's.
import assert from "node:assert/strict";
import { generateSync } from "otplib";
import type { TestApp } from "./harness.js";
import { bearer, login, type SignedIn } from "./identity.js";

/** The TOTP code of `secret` at `ms` (otplib). */
export function codeAt(secret: string, ms: number): string {
  return generateSync({ secret, epoch: Math.floor(ms / 1000) });
}

/** Sets up and enables TOTP for a signed-in user; moves the clock to the next step so the next code is fresh. */
export async function enableTotp(t: TestApp, user: SignedIn): Promise<{ secret: string; recoveryCodes: string[] }> {
  const setup = await t.app.inject({
    method: "POST",
    url: "/api/auth/mfa/totp/setup",
    headers: bearer(user.access),
    payload: { password: user.password },
  });
  assert.equal(setup.statusCode, 200, setup.body);
  const secret = setup.json().secret as string;
  const enable = await t.app.inject({
    method: "POST",
    url: "/api/auth/mfa/totp/enable",
    headers: bearer(user.access),
    payload: { code: codeAt(secret, t.clock.now()) },
  });
  assert.equal(enable.statusCode, 200, enable.body);
  t.clock.advance(30_000);
  return { secret, recoveryCodes: enable.json().recovery_codes as string[] };
}

/** Logs in a TOTP user: returns the mfa_token of the challenge. */
export async function mfaToken(
  t: TestApp,
  user: { username: string; password: string },
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await login(t.app, user, extra);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.equal(body.mfa_required, true);
  return body.mfa_token as string;
}

/** POST /api/auth/mfa/verify. */
export function verifyMfa(t: TestApp, token: string, code: string) {
  return t.app.inject({ method: "POST", url: "/api/auth/mfa/verify", payload: { mfa_token: token, code } });
}
