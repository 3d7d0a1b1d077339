// `bulwark keys rotate-signing [--revoke KID] | list`: rotates or drops the access-token signing
// keys straight through the token service (never over HTTP), and tells running instances over
// pub/sub (REDIS_URL) so they switch at once; without Redis they pick it up at their next reload.
import { help, parseStrict as parse, UsageError, usageExit, type Write } from "./common.js";
import { systemClock } from "../core/clock.js";
import { AppError } from "../core/errors.js";
import type { SigningKeyInfo } from "../modules/tokens/index.js";
import { countByKey, reencryptColumn } from "../store/reencrypt.js";
import { withConfiguredServices as withTokens } from "./services.js";

const HELP = `Usage: bulwark keys <rotate-signing | rotate-encryption | list> [options]

  rotate-signing              make a new access-token signing key active; the previous key stops
                              signing now and stays published until its last token expires
                              (ACCESS_TOKEN_TTL)
  rotate-signing --revoke KID drop key KID at once: every token it signed stops working now
                              (revoking the active key also makes a new one active)
  rotate-encryption           re-encrypt every encrypted value under the first ENCRYPTION_KEYS
                              key (in batches; resumable)
  list [--json]               every signing key and its state

Running instances hear the change over Redis (REDIS_URL) at once; without Redis they reload
keys within a minute.`;

const ROTATE_HELP = `Usage: bulwark keys rotate-signing [--revoke KID]

Without options: a new Ed25519 key becomes active, and the previous one stays in the JWKS (and
keeps verifying its tokens) until every token it signed has expired. Routine; nobody notices.

--revoke KID: drops KID at once, for a key that leaked. Every access token it signed is refused
from the next request on, on every instance; users get 401 and must refresh (refresh tokens are
not affected). "bulwark keys list" shows the kids.`;

const REENCRYPT_HELP = `Usage: bulwark keys rotate-encryption [--batch N] [--status]

Re-encrypts every value encrypted at rest (signing keys, two-factor secrets, webhook endpoint
secrets, message bodies) that is still under an older key, so the old key can be removed from
ENCRYPTION_KEYS.

  1. Put a new key first in ENCRYPTION_KEYS, keep the old ones after it ("bulwark secrets
     generate" prints one), and restart every instance: new values are written under the new key.
  2. Run this command (safe beside running instances; stop and rerun it at will).
  3. When it reports 0 values left, remove the old key and restart again.

--batch N: rows per batch (default 500); progress is printed after each batch.
--status: changes nothing; prints, for each encrypted column, how many values each key id holds.`;

const LIST_HELP = `Usage: bulwark keys list [--json]

Prints every signing key, oldest first: kid, state (active, retired, expired, revoked) and dates.
--json prints one JSON object per line.`;

/** Runs `bulwark keys …`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function keysCommand(
  argv: string[],
  out: Write = console.log,
  err: Write = (line) => process.stderr.write(`bulwark: ${line}\n`),
): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case "rotate-signing": {
        const values = parse(rest, { revoke: { type: "string" } });
        if (values.help) return help(out, ROTATE_HELP);
        const revoke = values.revoke;
        if (revoke !== undefined && (typeof revoke !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(revoke)))
          throw new UsageError('--revoke needs a key id (see "bulwark keys list")');
        return await withTokens(err, async ({ tokens, config }) => {
          if (typeof revoke === "string") {
            const result = await tokens.revoke(revoke);
            if (result.alreadyRevoked) {
              out(`signing key ${revoke} was already revoked`);
              return 0;
            }
            out(`revoked signing key ${revoke}`);
            if (result.replacedBy) out(`new active signing key: ${result.replacedBy}`);
            err(
              `warning: every access token signed by ${revoke} is refused from now on; its users get 401 and must refresh`,
            );
            return 0;
          }
          const rotation = await tokens.rotate();
          out(`new active signing key: ${rotation.kid}`);
          if (rotation.retired) {
            out(
              `previous key ${rotation.retired.kid} stops signing now and stays published for ${config.accessTokenTtl} s (ACCESS_TOKEN_TTL), until ${rotation.retired.publishUntil.toISOString()}, so the tokens it signed keep working until they expire`,
            );
          } else {
            out("there was no previous key");
          }
          return 0;
        });
      }
      case "rotate-encryption": {
        const values = parse(rest, { batch: { type: "string" }, status: { type: "boolean" } });
        if (values.help) return help(out, REENCRYPT_HELP);
        if (values.status) {
          return await withTokens(err, async ({ db, keyring, modules }) => {
            for (const column of modules.flatMap(({ module }) => module.encryptedColumns ?? [])) {
              const counts = await countByKey(db, column);
              const text = Object.entries(counts)
                .map(([id, n]) => `${id}${id === keyring.activeId ? " (active)" : ""}: ${n}`)
                .join(", ");
              out(`${column.table}.${column.column}: ${text || "no values"}`);
            }
            return 0;
          });
        }
        const batch = values.batch === undefined ? 500 : Number(values.batch);
        if (!Number.isInteger(batch) || batch < 1 || batch > 10_000)
          throw new UsageError("--batch must be a whole number from 1 to 10000");
        return await withTokens(err, async ({ db, keyring, audit, modules }) => {
          let total = 0;
          // Every column a module declares sealed with the keyring: a new module cannot be forgotten here.
          for (const column of modules.flatMap(({ module }) => module.encryptedColumns ?? [])) {
            // Progress after each batch, on stderr: stdout keeps one line per column for scripts.
            const result = await reencryptColumn(db, keyring, column, {
              batch,
              onBatch: (done) => err(`${column.table}.${column.column}: ${done} re-encrypted so far…`),
            });
            out(`${column.table}.${column.column}: ${result.reencrypted} re-encrypted`);
            total += result.reencrypted;
          }
          await audit.record({
            eventType: "encryption_key.rotate",
            result: "success",
            target: keyring.activeId,
            metadata: { via: "cli", reencrypted: total },
          });
          out(
            `every encrypted value is now under key ${keyring.activeId}; 0 values left under older keys, which may be removed from ENCRYPTION_KEYS once every instance runs with ${keyring.activeId} first`,
          );
          return 0;
        });
      }
      case "list": {
        const values = parse(rest, { json: { type: "boolean" } });
        if (values.help) return help(out, LIST_HELP);
        return await withTokens(err, async ({ tokens }) => {
          const keys = await tokens.list();
          if (values.json) for (const key of keys) out(JSON.stringify(key));
          else for (const line of table(keys, systemClock.now())) out(line);
          return 0;
        });
      }
      case undefined:
      case "--help":
      case "-h":
      case "help":
        return help(out, HELP);
      default:
        throw new UsageError(`unknown keys subcommand "${sub}"`);
    }
  } catch (error) {
    const usage = usageExit(error, "keys", sub, err);
    if (usage !== undefined) return usage;
    if (error instanceof AppError) {
      err(error.code === "not_found" ? `no signing key with that kid (see "bulwark keys list")` : error.message);
      return 1;
    }
    throw error;
  }
}

/** A plain-text table of keys, oldest first. */
function table(keys: SigningKeyInfo[], now: number): string[] {
  if (keys.length === 0) return ["(no signing keys yet: one is made when the server first starts)"];
  const date = (d: Date | null) => d?.toISOString() ?? "-";
  const state = (k: SigningKeyInfo) =>
    k.revoked_at
      ? "revoked"
      : k.active
        ? "active"
        : k.publish_until && k.publish_until.getTime() > now
          ? "retired"
          : "expired";
  const head = ["KID", "STATE", "CREATED", "RETIRED", "PUBLISHED UNTIL", "REVOKED"];
  const rows = keys.map((k) => [
    k.kid,
    state(k),
    date(k.created_at),
    date(k.retired_at),
    date(k.publish_until),
    date(k.revoked_at),
  ]);
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd(),
  );
}
