// TOTP (RFC 6238) as Bulwark uses it: SHA-1, 6 digits, 30-second steps, one step of skew either way.
// The arithmetic is otpauth's; this file fixes the parameters and reports which step a code matched,
// so the caller can refuse a step used before.
import { randomBytes } from "node:crypto";
import { Secret, TOTP } from "otpauth";

export const TOTP_ALGORITHM = "SHA1";
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD = 30;
/** Steps of clock skew accepted either side of now. */
export const TOTP_WINDOW = 1;
/** RFC 4226 recommends 160 bits, the length of a SHA-1 output. */
export const SECRET_BYTES = 20;

/** A fresh 160-bit secret from the CSPRNG, in base32 (what authenticator apps take). */
export function generateTotpSecret(): string {
  return new Secret({ buffer: Uint8Array.from(randomBytes(SECRET_BYTES)).buffer }).base32;
}

/** The code for `secretBase32` at `timestampMs` (8 digits for the RFC test vectors). */
export function totpCode(secretBase32: string, timestampMs: number, digits = TOTP_DIGITS): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secretBase32),
    algorithm: TOTP_ALGORITHM,
    digits,
    period: TOTP_PERIOD,
    timestamp: timestampMs,
  });
}

/** The time step `timestampMs` falls in. */
export function totpStep(timestampMs: number): number {
  return TOTP.counter({ period: TOTP_PERIOD, timestamp: timestampMs });
}

/** The step whose code `code` is, within the window around `timestampMs`; null when none matches. */
export function matchTotp(secretBase32: string, code: string, timestampMs: number): number | null {
  if (!/^[0-9]{6}$/.test(code)) return null;
  const delta = TOTP.validate({
    token: code,
    secret: Secret.fromBase32(secretBase32),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD,
    timestamp: timestampMs,
    window: TOTP_WINDOW,
  });
  return delta === null ? null : totpStep(timestampMs) + delta;
}

/** The otpauth:// URL an authenticator app scans. */
export function otpauthUrl(secretBase32: string, options: { issuer: string; label: string }): string {
  return new TOTP({
    issuer: options.issuer,
    label: options.label,
    secret: Secret.fromBase32(secretBase32),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD,
  }).toString();
}
