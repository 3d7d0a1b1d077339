// Password hashes as other backends write them, made by implementations other than the ones Bulwark verifies with.
import { randomBytes } from "node:crypto";
import { scrypt } from "hash-wasm";

/**
 * A hash as Better Auth's default `hashPassword` writes it (better-auth/src/crypto/password.ts): a 16-byte salt as
 * 32 hex characters, used as that text, and scrypt(NFKC(password), salt, N=16384, r=16, p=1, 64 bytes) in hex,
 * joined by a colon. Computed with hash-wasm's scrypt, not node:crypto's.
 */
export async function betterAuthHash(password: string): Promise<string> {
  const salt = randomBytes(16).toString("hex");
  const key = await scrypt({
    password: password.normalize("NFKC"),
    salt,
    costFactor: 16384,
    blockSize: 16,
    parallelism: 1,
    hashLength: 64,
    outputType: "hex",
  });
  return `${salt}:${key}`;
}
