import { test } from "node:test";
import assert from "node:assert/strict";
import { hash as bcryptHash } from "@node-rs/bcrypt";
import { goodPassword } from "../../test/identity.js";
import { importSetup } from "../../test/users-import.js";
import { createProgress } from "./users-import.js";

test("made usernames stay unique against the file and the database; --map takes columns of any export", async () => {
  const t = await importSetup();
  try {
    const hash = await bcryptHash(goodPassword(), 4);
    const first = t.file("first.csv", `username,email,password_hash\nsam,someone@example.com,${hash}\n`);
    assert.equal((await t.run(first)).code, 0);
    const mapped = t.file(
      "export.json",
      [
        JSON.stringify({ mail: "sam@example.com", pw: hash, confirmed: true, group: "admin" }),
        JSON.stringify({ mail: "sam@example.org", pw: hash, confirmed: false, group: "staff" }),
        JSON.stringify({ mail: "s@example.net", pw: hash, confirmed: "2024-01-01T00:00:00Z" }),
      ].join("\n"),
    );
    const run = await t.run(
      mapped,
      "--map",
      "mail=email,pw=password_hash",
      "--map",
      "confirmed=email_verified,group=role",
    );
    assert.equal(run.code, 0, run.text);
    assert.deepEqual(
      (await t.users()).map((u) => [u.username, u.email, u.email_verified, u.role]),
      [
        ["s__", "s@example.net", true, "user"],
        ["sam-2", "sam@example.com", true, "admin"],
        ["sam-3", "sam@example.org", false, "user"],
        ["sam", "someone@example.com", false, "user"],
      ],
    );
    assert.equal((await t.run(mapped, "--map", "mail=nonsense")).code, 1);
  } finally {
    await t.cleanup();
  }
});

test("progress: a bar with rows per second on a terminal, plain lines elsewhere", () => {
  let now = 0;
  const tty: string[] = [];
  const bar = createProgress({ isTTY: true, write: (s: string) => tty.push(s) }, () => now);
  bar.update({ phase: "writing", done: 0, total: 4000 });
  now = 1000;
  bar.update({ phase: "writing", done: 2000, total: 4000 });
  now = 2000;
  bar.update({ phase: "writing", done: 4000, total: 4000 });
  assert.match(tty.join(""), /\r\x1b\[2Kwriting  \[#{15}\.{15}\] 2000\/4000 rows, 2000 rows\/s/);
  assert.match(tty.join(""), /\[#{30}\] 4000\/4000 rows, 2000 rows\/s\n$/);
  const plain: string[] = [];
  now = 0;
  const lines = createProgress({ isTTY: false, write: (s: string) => plain.push(s) }, () => now);
  lines.update({ phase: "checking", done: 0, total: 10 });
  now = 100;
  lines.update({ phase: "checking", done: 5, total: 10 });
  now = 500;
  lines.update({ phase: "checking", done: 10, total: 10 });
  assert.ok(!plain.join("").includes("\r"));
  assert.equal(plain.at(-1), "checking: 10/10 rows, 20 rows/s\n");
});
