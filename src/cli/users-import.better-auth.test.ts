import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { betterAuthHash } from "../../test/foreign-hashes.js";
import { goodPassword } from "../../test/identity.js";
import { importSetup, meAfterLogin } from "../../test/users-import.js";

test("Better Auth's user and account tables: the credential account's scrypt hash signs in and becomes Argon2id", async () => {
  const t = await importSetup();
  try {
    const password = goodPassword();
    const [hana, ivan] = [randomUUID(), randomUUID()];
    const users = t.file(
      "user.csv",
      [
        "id,name,email,emailVerified,image,createdAt,updatedAt,role,banned",
        `${hana},Hana Example,hana@example.com,true,,2024-01-01T00:00:00.000Z,2024-01-01T00:00:00.000Z,admin,false`,
        `${ivan},Ivan,ivan@example.com,true,,2024-01-01T00:00:00.000Z,2024-01-01T00:00:00.000Z,user,false`,
      ].join("\n"),
    );
    const accounts = t.file(
      "account.csv",
      [
        "id,accountId,providerId,userId,password,createdAt,updatedAt",
        `${randomUUID()},${hana},credential,${hana},${await betterAuthHash(password)},2024-01-01,2024-01-01`,
        `${randomUUID()},12345,github,${ivan},,2024-01-01,2024-01-01`,
      ].join("\n"),
    );
    const wrongFile = await t.run(accounts);
    assert.equal(wrongFile.code, 1);
    assert.match(wrongFile.errors, /this is Better Auth's account table: pass the user table as FILE/);

    const imported = await t.run(users, "--accounts", accounts, "--skip-rejected");
    assert.match(imported.text, /preset better-auth/);
    assert.match(imported.text, /line 3: rejected: no credential account \(signs in with a provider\)/);
    assert.match(imported.text, /imported 1 users \(1 admin, 1 verified/);
    await t.withApp(async (app) => {
      const h = await meAfterLogin(app, "hana@example.com", password);
      assert.deepEqual([h.status, h.user?.["role"], h.user?.["display_name"]], [200, "admin", "Hana Example"]);
    });
    const [row] = await t.query<{ password_hash: string }>(
      sql`select password_hash from users where email = 'hana@example.com'`,
    );
    assert.match(row!.password_hash, /^\$argon2id\$/);
  } finally {
    await t.cleanup();
  }
});
