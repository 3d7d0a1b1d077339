// Secret values that were ever printed in Bulwark's docs, README or tests, by SHA-256. Anyone can
// read those files (they ship with the package and live in the public history), so such a value is
// no secret, however random it looks. The docs now show placeholders (`<output of bulwark secrets
// generate>`), which the placeholder rule refuses; `src/config/published-secrets.test.ts` scans the
// docs, README and tests for every `NAME=value` of a secret setting and fails until each is refused
// — a realistic value added to the docs must have its hash added here.
import { createHash } from "node:crypto";

/** SHA-256 (hex) of each published value: hashes, so this file does not republish them. */
const PUBLISHED = new Set([
  // docs/operations.md, `bulwark secrets generate` example: SECRET_KEY, the ENCRYPTION_KEYS key, METRICS_TOKEN.
  "de6deb2daa3a20d3157bcf336da2ad89cf41603bee847a54b141b5b0634efcd5",
  "886c22859045d117b73a7a727b89271f7e9c71932c7c362d3f2ab6474dc57e4f",
  "c47b1adc702697b92981655b1a22ee11baa5421f1337d650256f108bef6339b7",
  // test/files.ts: the fixed development credentials of s3rver, the test's S3-protocol server.
  "fc7322439f75eb4495fe7fa5a54b0bf6b87d0dea97e339735fee056c9b42f1c4",
]);

/** Whether a value was printed in Bulwark's own docs, README or tests. */
export function isPublishedSecret(value: string): boolean {
  return PUBLISHED.has(createHash("sha256").update(value).digest("hex"));
}
