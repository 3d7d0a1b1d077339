// ioredis, loaded only when REDIS_URL is set: a start on the embedded defaults never needs it.
import { createRequire } from "node:module";
import type { Redis } from "ioredis";

/** The ioredis client class, required on first use. */
export const redisClass = (): typeof Redis =>
  (createRequire(import.meta.url)("ioredis") as typeof import("ioredis")).Redis;
