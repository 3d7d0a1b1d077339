// The outside provider's public keys (JWKS), fetched with a timeout and a 64 KiB cap enforced while
// the body streams, cached, and refetched when a token names an unknown `kid` — at most once per
// 30 s, so tokens with made-up kids cannot turn this server into a flood against the provider (or
// stall on it).
import { importJWK, type CryptoKey, type JWK, type JWTHeaderParameters } from "jose";
import type { Clock } from "../../core/clock.js";

export type JwksOptions = {
  url: string;
  clock: Clock;
  /** Per fetch (default 5 s): a slow provider must not hold requests for long. */
  timeoutMs?: number;
  /** Least time between two fetches (default 30 s), whatever the tokens say. */
  minRefetchMs?: number;
  /** Keys older than this are refetched (default 10 min), still subject to `minRefetchMs`. */
  maxAgeMs?: number;
  onError?: (error: Error) => void;
};

export type JwksCache = {
  /** The verification key for a token header; throws when the kid is unknown or its algorithm is not the key's. */
  key(header: JWTHeaderParameters): Promise<CryptoKey>;
  /** How many fetches were started (for tests and metrics). */
  fetches(): number;
};

/** The only algorithm each asymmetric key type may verify: a key never verifies under an algorithm the token picks. */
function algorithmOf(jwk: JWK): "RS256" | "ES256" | "EdDSA" | undefined {
  if (jwk.kty === "RSA") return "RS256";
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  // `oct` (symmetric) keys are never taken from a JWKS: an HMAC key published over HTTP is no secret.
  return undefined;
}

/** Largest JWKS document read (providers publish a few keys: a few KiB). */
const MAX_BYTES = 64 * 1024;

/**
 * The body as text, read chunk by chunk and abandoned (the connection cancelled) as soon as it
 * passes `max` bytes: a hostile or broken endpoint streaming without end costs 64 KiB, not memory
 * until the timeout. A `content-length` over the cap is refused before reading.
 */
async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error("JWKS document too large");
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new Error("JWKS document too large");
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Creates the cache; nothing is fetched until the first token asks. */
export function createJwksCache(options: JwksOptions): JwksCache {
  const { url, clock } = options;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const minRefetchMs = options.minRefetchMs ?? 30_000;
  const maxAgeMs = options.maxAgeMs ?? 600_000;
  let keys = new Map<string, { key: CryptoKey; alg: string }>();
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let pending: Promise<void> | null = null;
  let count = 0;

  const fetchKeys = async (): Promise<void> => {
    const res = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "error",
      headers: { accept: "application/json" },
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`JWKS fetch answered ${res.status}`);
    }
    const text = await readCapped(res, MAX_BYTES);
    const doc = JSON.parse(text) as { keys?: unknown };
    if (!Array.isArray(doc.keys)) throw new Error("JWKS document has no keys array");
    const next = new Map<string, { key: CryptoKey; alg: string }>();
    for (const raw of doc.keys as JWK[]) {
      if (
        typeof raw !== "object" ||
        raw === null ||
        typeof raw.kid !== "string" ||
        (raw.use !== undefined && raw.use !== "sig")
      )
        continue;
      const alg = algorithmOf(raw);
      if (!alg || (raw.alg !== undefined && raw.alg !== alg)) continue;
      // Only the public members are imported: a JWKS that (wrongly) carries private parts is not trusted with them.
      const { kty, n, e, crv, x, y } = raw;
      try {
        next.set(raw.kid, { key: (await importJWK({ kty, n, e, crv, x, y } as JWK, alg)) as CryptoKey, alg });
      } catch (error) {
        options.onError?.(error as Error);
      }
    }
    keys = next;
    fetchedAt = clock.now();
  };

  /** Fetches unless a fetch ran (or is running) within the last `minRefetchMs`; concurrent callers share one fetch. */
  const refresh = (): Promise<void> => {
    if (pending) return pending;
    const now = clock.now();
    if (now - lastAttempt < minRefetchMs) return Promise.resolve();
    lastAttempt = now;
    count++;
    // A failed fetch keeps the keys we had: the provider being down must not log everyone out.
    pending = fetchKeys()
      .catch((error: unknown) => options.onError?.(error as Error))
      .finally(() => {
        pending = null;
      });
    return pending;
  };

  return {
    async key(header) {
      if (typeof header.kid !== "string" || header.kid === "") throw new Error("token has no kid");
      if (clock.now() - fetchedAt > maxAgeMs) await refresh();
      let entry = keys.get(header.kid);
      if (!entry) {
        // Perhaps the provider just rotated: look again, within the refetch budget.
        await refresh();
        entry = keys.get(header.kid);
      }
      if (!entry) throw new Error("unknown kid");
      if (entry.alg !== header.alg) throw new Error("algorithm does not match the key");
      return entry.key;
    },
    fetches: () => count,
  };
}
