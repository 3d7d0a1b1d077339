import { test } from "node:test";
import assert from "node:assert/strict";
import { hash as bcryptHash } from "@node-rs/bcrypt";
import { sql } from "drizzle-orm";
import { goodPassword } from "../../test/identity.js";
import { importSetup } from "../../test/users-import.js";

test("dry run writes nothing; a second run changes nothing; rejects are listed by line and, by default, nothing of the file is written; one audit event a run", async () => {
  const t = await importSetup();
  try {
    const hash = await bcryptHash(goodPassword(), 4);
    const good = t.file(
      "good.csv",
      `username,email,password_hash,email_verified\nkim,kim@example.com,${hash},true\nlee,lee@example.com,"${hash}",false\n`,
    );
    const audits = () =>
      t.query<{ metadata: Record<string, unknown> }>(
        sql`select metadata from audit_logs where event_type = 'user.import' order by seq`,
      );

    const dry = await t.run(good, "--dry-run");
    assert.equal(dry.code, 0, dry.text);
    assert.match(dry.text, /dry run, nothing written: 2 users would be imported \(0 admin, 1 verified/);
    assert.deepEqual(await t.users(), []);
    assert.deepEqual(await audits(), []);

    const first = await t.run(good);
    assert.equal(first.code, 0, first.text);
    assert.match(first.text, /imported 2 users/);
    assert.match(first.progress, /writing: 2\/2 rows, \d+ rows\/s/, "plain progress lines when not on a terminal");
    const second = await t.run(good);
    assert.equal(second.code, 0, second.text);
    assert.match(second.text, /nothing to import/);
    assert.match(second.text, /2 unchanged/);
    const events = await audits();
    assert.equal(events.length, 1, "one event for the run that wrote, none for the run that did not");
    assert.deepEqual(
      [events[0]!.metadata["imported"], events[0]!.metadata["rows"], events[0]!.metadata["source"]],
      [2, 2, "csv"],
    );

    const bad = t.file(
      "bad.csv",
      [
        "username,email,password_hash",
        `mia,mia@example.com,${hash}`,
        `mia2,MIA@example.com,${hash}`, // 3: the same address as line 2 (ASCII case does not matter)
        `ned,not-an-address,${hash}`, // 4
        `oli,oli@example.com,5f4dcc3b5aa765d61d8327deb882cf99`, // 5: an MD5, not a password hash
        `"pat`,
        `rick",pat@example.com,${hash}`, // 6-7: a quoted newline in the username
        `kim2,kim@example.com,${hash}`, // 8: kim@ belongs to kim
        `lee,new-lee@example.com,${hash}`, // 9: lee is someone else's username
        `mia,mia-again@example.com,${hash}`, // 10: the same username as line 2
      ].join("\n"),
    );
    const refused = await t.run(bad);
    assert.equal(refused.code, 1);
    const rejects = refused.text.split("\n").filter((l) => l.includes("rejected:"));
    assert.deepEqual(rejects, [
      "line 3: rejected: same email as line 2",
      "line 4: rejected: email is not a valid address",
      "line 5: rejected: unknown password hash format (expected bcrypt $2a$/$2b$/$2y$, Argon2, or Better Auth's scrypt)",
      "line 6: rejected: username contains a control character",
      "line 8: rejected: the email belongs to existing user kim",
      "line 9: rejected: username lee is taken by another account",
      "line 10: rejected: same username as line 2",
    ]);
    assert.match(refused.text, /nothing imported: 7 row\(s\) rejected/);
    assert.equal((await t.users()).length, 2, "nothing of the file was written");

    const partial = await t.run(bad, "--skip-rejected");
    assert.equal(partial.code, 1);
    assert.match(partial.text, /imported 1 users/);
    assert.deepEqual(
      (await t.users()).map((u) => u.username),
      ["kim", "lee", "mia"],
    );
    assert.equal((await audits())[1]!.metadata["rejected"], 7);
  } finally {
    await t.cleanup();
  }
});
