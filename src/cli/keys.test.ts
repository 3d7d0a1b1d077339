import assert from "node:assert/strict";
import { test } from "node:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliDatabase, needs, testAudit, TEST_REDIS_URL } from "../../test/harness.js";
import { systemClock } from "../core/clock.js";
import { generateKeyringEntry, parseKeyring } from "../core/crypto/index.js";
import { sql } from "drizzle-orm";
import { rowsOf } from "../store/db.js";
import { AppError } from "../core/errors.js";
import { createAuditService } from "../modules/audit/index.js";
import { createTokenService } from "../modules/tokens/index.js";
import { createPubSub } from "../store/pubsub.js";
import { keysCommand } from "./keys.js";

const NAMES = [
  "DATABASE_URL",
  "DATA_DIR",
  "LOG_LEVEL",
  "SECRET_KEY",
  "ENCRYPTION_KEYS",
  "METRICS_TOKEN",
  "NODE_ENV",
  "REDIS_URL",
  "PUBLIC_URL",
  "ACCESS_TOKEN_TTL",
];

/** Runs the command with `env` applied to process.env, restoring it afterwards. */
async function run(
  env: Record<string, string>,
  argv: string[],
): Promise<{ code: number; out: string[]; err: string[] }> {
  const saved = Object.fromEntries(NAMES.map((name) => [name, process.env[name]]));
  for (const name of NAMES) delete process.env[name];
  Object.assign(process.env, env);
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await keysCommand(
      argv,
      (line) => out.push(line),
      (line) => err.push(line),
    );
    return { code, out, err };
  } finally {
    for (const name of NAMES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

/** The kid printed on a "new active signing key: KID" line. */
function newKid(out: string[]): string {
  const line = out.find((l) => l.startsWith("new active signing key: "));
  assert.ok(line, out.join("\n"));
  return line.slice("new active signing key: ".length);
}

test("keys rotate-signing makes a new key, keeps the old one published, audits it; --revoke drops a key", async () => {
  const db = await cliDatabase();
  try {
    const first = await run(db.env, ["rotate-signing"]);
    assert.equal(first.code, 0, first.err.join("\n"));
    const kid1 = newKid(first.out);
    assert.deepEqual(first.out.slice(1), ["there was no previous key"]);

    const second = await run(db.env, ["rotate-signing"]);
    assert.equal(second.code, 0, second.err.join("\n"));
    const kid2 = newKid(second.out);
    assert.notEqual(kid2, kid1);
    assert.match(
      second.out[1]!,
      new RegExp(
        `^previous key ${kid1} stops signing now and stays published for 900 s \\(ACCESS_TOKEN_TTL\\), until \\d{4}-`,
      ),
    );

    const listed = await run(db.env, ["list", "--json"]);
    assert.equal(listed.code, 0);
    const keys = listed.out.map(
      (line) =>
        JSON.parse(line) as { kid: string; active: boolean; revoked_at: string | null; publish_until: string | null },
    );
    assert.deepEqual(
      keys.map((k) => [k.kid, k.active]),
      [
        [kid1, false],
        [kid2, true],
      ],
    );
    assert.ok(keys[0]!.publish_until);
    assert.equal(JSON.stringify(listed.out).includes("bw1."), false, "no key material is printed");

    const revoked = await run(db.env, ["rotate-signing", "--revoke", kid1]);
    assert.equal(revoked.code, 0, revoked.err.join("\n"));
    assert.deepEqual(revoked.out, [`revoked signing key ${kid1}`]);
    assert.match(revoked.err.join("\n"), new RegExp(`warning: every access token signed by ${kid1} is refused`));

    // Revoking the active key makes a new one active.
    const revokedActive = await run(db.env, ["rotate-signing", "--revoke", kid2]);
    assert.equal(revokedActive.code, 0);
    const kid3 = newKid(revokedActive.out);
    assert.notEqual(kid3, kid2);

    const again = await run(db.env, ["rotate-signing", "--revoke", kid1]);
    assert.deepEqual(again.out, [`signing key ${kid1} was already revoked`]);
    const unknown = await run(db.env, ["rotate-signing", "--revoke", "no-such-kid"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err.join("\n"), /no signing key with that kid/);

    const table = await run(db.env, ["list"]);
    assert.equal(table.code, 0);
    assert.match(table.out[0]!, /^KID\s+STATE\s+CREATED\s+RETIRED\s+PUBLISHED UNTIL\s+REVOKED$/);
    assert.equal(table.out.length, 4);
    assert.match(
      table.out.find((l) => l.startsWith(kid1))!,
      /\brevoked\b/,
    );
    assert.match(
      table.out.find((l) => l.startsWith(kid3))!,
      /\bactive\b/,
    );

    const store = await db.open();
    try {
      const audit = createAuditService({ db: store.db, clock: systemClock });
      const rotations = (await audit.query({ eventType: "signing_key.rotate" })).events;
      assert.deepEqual(
        rotations.map((e) => e.target),
        [kid2, kid1],
      );
      assert.equal(rotations[0]!.metadata.retired_kid, kid1);
      const revocations = (await audit.query({ eventType: "signing_key.revoke" })).events;
      assert.deepEqual(
        revocations.map((e) => [e.target, e.metadata.replaced_by]),
        [
          [kid2, kid3],
          [kid1, null],
        ],
      );
      assert.equal((await audit.verify()).ok, true);
    } finally {
      await store.close();
    }
  } finally {
    await db.cleanup();
  }
});

test(
  "keys rotate-signing --revoke reaches a running instance over Redis",
  { skip: needs("postgres", "redis") },
  async () => {
    const db = await cliDatabase();
    const store = await db.open();
    // The CLI publishes under the default prefix, as a deployment does.
    const pubsub = createPubSub({ redisUrl: TEST_REDIS_URL });
    const tokens = createTokenService({
      db: store.db,
      audit: testAudit(store.db, systemClock),
      keyring: parseKeyring(db.env.ENCRYPTION_KEYS!),
      clock: systemClock,
      pubsub,
      publicUrl: "http://127.0.0.1:8080",
      accessTokenTtl: 900,
      reloadIntervalMs: 0,
    });
    try {
      await tokens.init();
      const { token } = await tokens.issue({ sub: "u1", sid: "s1" });
      const claims = await tokens.verify(token); // cached
      const result = await run({ ...db.env, REDIS_URL: TEST_REDIS_URL! }, ["rotate-signing", "--revoke", claims.kid]);
      assert.equal(result.code, 0, result.err.join("\n"));
      let refused = false;
      for (let i = 0; i < 200 && !refused; i++) {
        refused = await tokens.verify(token).then(
          () => false,
          (error: unknown) => error instanceof AppError && error.code === "unauthorized",
        );
        if (!refused) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(refused, "the running instance refuses the revoked key's token");
      assert.equal(
        tokens.jwks().keys.some((k) => k.kid === claims.kid),
        false,
      );
    } finally {
      tokens.close();
      await pubsub.close();
      await store.close();
      await db.cleanup();
    }
  },
);

test("keys usage errors exit 2 with a clear message; --help exits 0", async () => {
  const env = { LOG_LEVEL: "silent", DATA_DIR: join(tmpdir(), "bulwark-keys-cli-unused") };
  for (const argv of [
    ["rotate-signing", "--bogus"],
    ["rotate-signing", "extra"],
    ["rotate-signing", "--revoke"],
    ["rotate-signing", "--revoke", "bad kid!"],
    ["list", "--nope"],
    ["list", "extra"],
    ["frobnicate"],
  ]) {
    const result = await run(env, argv);
    assert.equal(result.code, 2, argv.join(" "));
    assert.equal(result.out.length, 0, argv.join(" "));
    assert.ok(result.err.length > 0 && result.err[0]!.length > 10, argv.join(" "));
  }
  for (const argv of [["--help"], [], ["rotate-signing", "--help"], ["list", "--help"]]) {
    const result = await run(env, argv);
    assert.equal(result.code, 0, argv.join(" "));
    assert.match(result.out.join("\n"), /Usage: bulwark keys/);
  }
});

test("keys rotate-encryption moves every encrypted value to the new first key, so the old key can go", async () => {
  const db = await cliDatabase();
  try {
    const oldKey = db.env.ENCRYPTION_KEYS!;
    for (let i = 0; i < 3; i++) assert.equal((await run(db.env, ["rotate-signing"])).code, 0);
    // A two-factor secret under the old key, as the mfa module writes it.
    const totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    const seeded = await db.open();
    try {
      const now = new Date();
      await seeded.db.execute(
        sql`insert into users (id, username, username_key, email, email_key, created_at, updated_at) values ('u1', 'grace', 'grace', 'grace@example.com', 'grace@example.com', ${now}, ${now})`,
      );
      const sealed = parseKeyring(oldKey).encrypt(totpSecret, { table: "mfa_totp", column: "secret", row: "u1" });
      await seeded.db.execute(sql`insert into mfa_totp (user_id, secret, created_at) values ('u1', ${sealed}, ${now})`);
      const endpointSecret = parseKeyring(oldKey).encrypt(totpSecret, {
        table: "webhook_endpoints",
        column: "secret",
        row: "e1",
      });
      await seeded.db.execute(
        sql`insert into webhook_endpoints (id, url, events, secret_enc, created_at) values ('e1', 'https://hooks.example.com/in', '["user.created"]'::jsonb, ${endpointSecret}, ${now})`,
      );
    } finally {
      await seeded.close();
    }
    const newKey = generateKeyringEntry("k2");
    const rotated = { ...db.env, ENCRYPTION_KEYS: `${newKey},${oldKey}` };
    const first = await run(rotated, ["rotate-encryption", "--batch", "2"]);
    assert.equal(first.code, 0, first.err.join("\n"));
    assert.equal(first.out[0], "signing_keys.private_key: 3 re-encrypted");
    assert.equal(first.out[1], "mfa_totp.secret: 1 re-encrypted");
    assert.equal(first.out[2], "webhook_endpoints.secret_enc: 1 re-encrypted");
    // Resumable and idempotent: a second run finds nothing left under the old key.
    const again = await run(rotated, ["rotate-encryption"]);
    assert.equal(again.out[0], "signing_keys.private_key: 0 re-encrypted");

    // The new key alone now decrypts every value: the old one can be removed.
    const store = await db.open();
    try {
      const rows = rowsOf<{ kid: string; private_key: string }>(
        await store.db.execute(sql`select kid, private_key from signing_keys`),
      );
      assert.equal(rows.length, 3);
      const onlyNew = parseKeyring(newKey);
      for (const row of rows) {
        assert.ok(row.private_key.startsWith("bw1.k2."));
        assert.match(
          onlyNew.decryptString(row.private_key, { table: "signing_keys", column: "private_key", row: row.kid }),
          /PRIVATE KEY/,
        );
      }
      const [totp] = rowsOf<{ secret: string }>(
        await store.db.execute(sql`select secret from mfa_totp where user_id = 'u1'`),
      );
      assert.equal(onlyNew.decryptString(totp!.secret, { table: "mfa_totp", column: "secret", row: "u1" }), totpSecret);
      const [endpoint] = rowsOf<{ secret_enc: string }>(
        await store.db.execute(sql`select secret_enc from webhook_endpoints where id = 'e1'`),
      );
      assert.equal(
        onlyNew.decryptString(endpoint!.secret_enc, { table: "webhook_endpoints", column: "secret", row: "e1" }),
        totpSecret,
      );
      const { events } = await createAuditService({ db: store.db, clock: systemClock }).query({
        eventType: "encryption_key.rotate",
      });
      assert.equal(events.length, 2);
      assert.deepEqual(events[1]!.metadata, { via: "cli", reencrypted: 5 });
    } finally {
      await store.close();
    }
  } finally {
    await db.cleanup();
  }
});
