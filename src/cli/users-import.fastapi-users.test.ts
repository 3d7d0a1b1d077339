import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { hash as bcryptHash } from "@node-rs/bcrypt";
import { goodPassword } from "../../test/identity.js";
import { importSetup, meAfterLogin } from "../../test/users-import.js";

test("a fastapi-users export the old importer mangled (UUID as username, hash with ',true,true,true') is refused as plain CSV, imported right with the preset, and its users log in; bcrypt becomes Argon2id", async () => {
  const t = await importSetup();
  try {
    const passwords = [goodPassword(), goodPassword(), goodPassword()];
    // The cost fastapi-users' passlib writes ($2b$12$), and cheaper ones for the other rows.
    const hashes = [
      await bcryptHash(passwords[0]!, 12),
      await bcryptHash(passwords[1]!, 4),
      await bcryptHash(passwords[2]!, 4),
    ];
    assert.match(hashes[0]!, /^\$2b\$12\$/);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    // `\copy "user" to 'users.csv' csv`: no header, the table's column order.
    const headerless = [
      `${ids[0]},ada@example.com,${hashes[0]},true,true,true`,
      `${ids[1]},Bob.Smith+x@Example.com,${hashes[1]},true,false,false`,
      `${ids[2]},carol@example.com,${hashes[2]},false,false,true`,
    ].join("\n");
    const file = t.file("users.csv", headerless);

    const plain = await t.run(file);
    assert.equal(plain.code, 1);
    assert.match(
      plain.text,
      /line 1: rejected: 6 fields where csv has 3 \(a fastapi-users export\? use --preset fastapi-users\)/,
    );
    assert.match(plain.text, /line 3: rejected/);
    assert.match(plain.text, /nothing imported/);
    assert.deepEqual(await t.users(), [], "nothing was written");

    const imported = await t.run(file, "--preset", "fastapi-users");
    assert.equal(imported.code, 0, imported.text);
    assert.match(
      imported.text,
      /imported 3 users \(1 admin, 2 verified, 1 disabled, 3 username\(s\) made from the email\)/,
    );
    const rows = await t.users();
    assert.deepEqual(
      rows.map((r) => [r.username, r.email, r.role, r.email_verified, r.disabled_at !== null, r.password_hash]),
      [
        ["ada", "ada@example.com", "admin", true, false, hashes[0]],
        ["Bob_Smith_x", "Bob.Smith+x@Example.com", "user", false, false, hashes[1]],
        ["carol", "carol@example.com", "user", true, true, hashes[2]],
      ],
    );
    for (const id of ids) assert.ok(!rows.some((r) => r.username === id), "a UUID is never a username");

    await t.withApp(async (app) => {
      const ada = await meAfterLogin(app, "ada@example.com", passwords[0]!);
      assert.equal(ada.status, 200);
      assert.equal(ada.user?.["role"], "admin");
      assert.equal(ada.user?.["email_verified"], true);
      assert.equal((await meAfterLogin(app, "bob.smith+x@example.com", passwords[1]!)).status, 200);
      assert.equal((await meAfterLogin(app, "ada", "wrong " + passwords[0]!)).status, 401);
      assert.equal((await meAfterLogin(app, "carol@example.com", passwords[2]!)).status, 401, "inactive stays locked");
    });
    const after = await t.users();
    assert.match(after[0]!.password_hash, /^\$argon2id\$/, "re-hashed at the first login");
    assert.match(after[2]!.password_hash, /^\$2b\$/, "nobody logged in as carol");
    await t.withApp(async (app) => assert.equal((await meAfterLogin(app, "ada", passwords[0]!)).status, 200));

    // With its header line the preset is recognised; the rows already imported are unchanged.
    const withHeader = t.file(
      "with-header.csv",
      `id,email,hashed_password,is_active,is_superuser,is_verified\r\n${headerless.replace(/\n/g, "\r\n")}\r\n${randomUUID()},dave@example.com,${hashes[1]},t,f,t\r\n`,
    );
    const again = await t.run(withHeader);
    assert.equal(again.code, 0, again.text);
    assert.match(again.text, /preset fastapi-users \(recognised from the columns\)/);
    assert.match(again.text, /imported 1 users/);
    assert.match(again.text, /3 unchanged/);
  } finally {
    await t.cleanup();
  }
});
