import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { hash as bcryptHash } from "@node-rs/bcrypt";
import { goodPassword } from "../../test/identity.js";
import { importSetup, meAfterLogin } from "../../test/users-import.js";

test("a Supabase auth.users export (JSON, and CSV from psql): logins work, confirmed addresses stay verified, admin only from app metadata", async () => {
  const t = await importSetup();
  try {
    const [erin, frank, gina] = [goodPassword(), goodPassword(), goodPassword()];
    const bcrypt2a = async (p: string) => (await bcryptHash(p, 4)).replace(/^\$2b\$/, "$2a$");
    const base = { aud: "authenticated", role: "authenticated", instance_id: "00000000-0000-0000-0000-000000000000" };
    const json = t.file(
      "auth-users.json",
      JSON.stringify([
        {
          ...base,
          id: randomUUID(),
          email: "erin@example.com",
          encrypted_password: await bcrypt2a(erin),
          email_confirmed_at: "2024-03-01T10:00:00.000000+00:00",
          raw_app_meta_data: { provider: "email", providers: ["email"], role: "admin" },
          raw_user_meta_data: { full_name: "Erin Example" },
          is_anonymous: false,
        },
        {
          ...base,
          id: randomUUID(),
          email: "frank@example.com",
          encrypted_password: await bcrypt2a(frank),
          email_confirmed_at: null,
          raw_app_meta_data: { provider: "email", providers: ["email"] },
          // The user writes their own user metadata: it never makes an admin.
          raw_user_meta_data: { role: "admin" },
        },
        {
          ...base,
          id: randomUUID(),
          email: "octo@example.com",
          encrypted_password: "",
          email_confirmed_at: "2024-03-01T10:00:00Z",
          raw_app_meta_data: { provider: "github", providers: ["github"] },
        },
      ]),
    );
    const refused = await t.run(json);
    assert.equal(refused.code, 1);
    assert.match(refused.text, /preset supabase/);
    assert.match(refused.text, /record 3: rejected: no password \(signs in with a provider or a magic link\)/);
    assert.match(
      refused.text,
      /nothing imported: 1 row\(s\) rejected; fix them, or pass --skip-rejected to import the other 2/,
    );
    assert.deepEqual(await t.users(), []);

    const partial = await t.run(json, "--skip-rejected");
    assert.equal(partial.code, 1, "rows were rejected");
    assert.match(partial.text, /imported 2 users \(1 admin, 1 verified, 0 disabled/);

    // psql's `\copy (select …) to … csv header`: booleans as t/f, jsonb as quoted JSON text.
    const csv = t.file(
      "auth-users.csv",
      [
        "id,email,encrypted_password,email_confirmed_at,raw_app_meta_data,raw_user_meta_data,is_anonymous,banned_until",
        `${randomUUID()},gina@example.com,${await bcrypt2a(gina)},2024-03-01 10:00:00.123+00,"{""provider"": ""email""}","{""name"": ""Gina, G.""}",f,`,
      ].join("\n"),
    );
    const fromCsv = await t.run(csv, "--preset", "supabase");
    assert.equal(fromCsv.code, 0, fromCsv.text);

    await t.withApp(async (app) => {
      const e = await meAfterLogin(app, "erin@example.com", erin);
      assert.deepEqual([e.status, e.user?.["email_verified"], e.user?.["role"]], [200, true, "admin"]);
      assert.equal(e.user?.["display_name"], "Erin Example");
      const f = await meAfterLogin(app, "frank@example.com", frank);
      assert.deepEqual([f.status, f.user?.["email_verified"], f.user?.["role"]], [200, false, "user"]);
      const g = await meAfterLogin(app, "gina@example.com", gina);
      assert.deepEqual([g.status, g.user?.["email_verified"], g.user?.["display_name"]], [200, true, "Gina, G."]);
    });
  } finally {
    await t.cleanup();
  }
});
