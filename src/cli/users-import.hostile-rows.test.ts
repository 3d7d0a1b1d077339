// Attack: a hostile or corrupt import file (NUL and control characters, bidi overrides, huge fields, an endless line,
// a squatter's unconfirmed registration waiting for the real owner's import) slips bad data in or half-imports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hash as bcryptHash } from "@node-rs/bcrypt";
import { goodPassword } from "../../test/identity.js";
import { importSetup, meAfterLogin } from "../../test/users-import.js";

test("hostile rows are rejected with their line, an endless line stops the file, formula-looking text stays text", async () => {
  const t = await importSetup();
  try {
    const password = goodPassword();
    const hash = await bcryptHash(password, 4);
    const file = t.file(
      "hostile.csv",
      [
        "username,email,password_hash,display_name",
        `nul\u0000name,nul@example.com,${hash},`, // 2
        `esc,esc@example.com,${hash},"\u001b[31mred"`, // 3
        `bidi,bidi@example.com,${hash},"admin\u202egnp.exe"`, // 4
        `huge,${"a".repeat(5000)}@example.com,${hash},`, // 5
        `long,long@example.com,${hash},${"n".repeat(150)}`, // 6
        `"tab\tname",tab@example.com,${hash},`, // 7
        `bell,bell@example.com,${hash}\u0007,`, // 8
        `formula,formula@example.com,${hash},"=HYPERLINK(""http://evil.example"",""x"")"`, // 9
      ].join("\n"),
    );
    const run = await t.run(file, "--skip-rejected");
    assert.equal(run.code, 1);
    assert.deepEqual(
      run.text.split("\n").filter((l) => l.includes("rejected:")),
      [
        "line 2: rejected: username contains a control character",
        "line 3: rejected: display_name contains a control character",
        "line 4: rejected: display_name contains a control character",
        "line 5: rejected: a field is longer than 4096 characters",
        "line 6: rejected: display_name is longer than 100 characters",
        "line 7: rejected: username contains a control character",
        "line 8: rejected: password_hash contains a control character",
      ],
    );
    const users = await t.users();
    assert.deepEqual(
      users.map((u) => [u.username, u.display_name]),
      [["formula", '=HYPERLINK("http://evil.example","x")']],
      "stored as the text it is: Bulwark never writes it into a spreadsheet",
    );

    // A record past 64 KiB stops the whole file at its line, before anything is written.
    const endless = t.file(
      "endless.csv",
      `username,email,password_hash\nfine,fine@example.com,${hash}\nx,x@example.com,${"y".repeat(70_000)}\n`,
    );
    const stopped = await t.run(endless);
    assert.equal(stopped.code, 1);
    assert.match(stopped.errors, /not valid CSV: .*Max Record Size.* line 3/);
    assert.equal((await t.users()).length, 1, "nothing of that file was written");

    // Not CSV at all: an unclosed quote is reported, nothing is written.
    const broken = t.file("broken.csv", `username,email,password_hash\n"open,open@example.com,${hash}\n`);
    const unclosed = await t.run(broken);
    assert.equal(unclosed.code, 1);
    assert.match(unclosed.errors, /not valid CSV/);

    // JSON lines: a line that is not JSON, or not an object, is a rejected row.
    const jsonl = t.file(
      "users.jsonl",
      [
        JSON.stringify({ username: "json_ok", email: "json@example.com", password_hash: hash }),
        "{not json",
        "[1,2]",
        JSON.stringify({ username: "json_nul", email: "j\u0000@example.com", password_hash: hash }),
      ].join("\n"),
    );
    const lines = await t.run(jsonl, "--preset", "csv");
    assert.deepEqual(
      lines.text.split("\n").filter((l) => l.includes("rejected:")),
      [
        "line 2: rejected: not valid JSON",
        "line 3: rejected: not an object",
        "line 4: rejected: email contains a control character",
      ],
    );
    assert.match(lines.text, /nothing imported/);
  } finally {
    await t.cleanup();
  }
});

test("an import never hands the real owner's account to a squatter's unconfirmed registration of the address", async () => {
  const t = await importSetup();
  try {
    const squatter = goodPassword();
    await t.withApp(async (app) => {
      const res = await app.inject({
        method: "POST",
        url: "/api/auth/register",
        payload: { username: "squatter", email: "victim@example.com", password: squatter },
      });
      assert.equal(res.statusCode, 201, res.body);
    });
    const owner = goodPassword();
    const file = t.file(
      "owner.csv",
      `id,email,hashed_password,is_active,is_superuser,is_verified\n6f1c2a8e-0000-4000-8000-000000000001,victim@example.com,${await bcryptHash(owner, 4)},true,true,true\n`,
    );
    const run = await t.run(file);
    assert.equal(run.code, 1);
    assert.match(run.text, /line 2: rejected: the email belongs to an existing registration nobody has confirmed/);
    const [row] = await t.users();
    assert.deepEqual([row!.username, row!.role, row!.email_verified], ["squatter", "user", false]);
    await t.withApp(async (app) => {
      assert.equal((await meAfterLogin(app, "victim@example.com", owner)).status, 401);
    });
  } finally {
    await t.cleanup();
  }
});
