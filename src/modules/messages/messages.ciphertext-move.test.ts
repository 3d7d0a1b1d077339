// Threat: someone with write access to the database copies a message's ciphertext into another row or conversation to have it shown there.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { parseKeyring } from "../../core/crypto/index.js";
import { rowsOf } from "../../store/db.js";
import { captureLog, startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { conversation, MESSAGE_LIMITS, send } from "../../../test/messages.js";
import { bodyContext } from "./service.js";

let t: TestApp;
const log = captureLog();
before(async () => {
  t = await startApp({ env: MESSAGE_LIMITS, log: log.stream });
});
after(() => t.close());

const bodyOf = async (id: string) =>
  rowsOf<{ body: string }>(await t.store.db.execute(sql`select body from messages where id = ${id}`))[0]!.body;

test("a body copied to another message of the same conversation, or of another conversation, does not decrypt", async () => {
  const [ada, bob, eve] = [await signedIn(t.app), await signedIn(t.app), await signedIn(t.app)];
  const theirs = await conversation(t.app, ada, [bob]);
  const secret = await send(t.app, ada, theirs, "the launch code is 0000");
  const decoy = await send(t.app, ada, theirs, "decoy");
  const eves = await conversation(t.app, eve, [ada]);
  const planted = await send(t.app, eve, eves, "placeholder");

  const envelope = await bodyOf(secret.id);
  const keyring = parseKeyring(t.config.encryptionKeys);
  assert.equal(keyring.decryptString(envelope, bodyContext(theirs, secret.id)), "the launch code is 0000");
  assert.throws(() => keyring.decryptString(envelope, bodyContext(theirs, decoy.id)), { code: "ERR_DECRYPT_FAILED" });
  assert.throws(
    () => keyring.decryptString(envelope, bodyContext(eves, secret.id)),
    { code: "ERR_DECRYPT_FAILED" },
    "the same id under another conversation",
  );

  await t.store.db.execute(sql`update messages set body = ${envelope} where id = ${planted.id}`);
  const res = await t.app.inject({
    method: "GET",
    url: `/api/conversations/${eves}/messages`,
    headers: bearer(eve.access),
  });
  assert.equal(res.statusCode, 500, "a row that fails authentication is an integrity failure, never shown");
  assert.equal(res.json().error.code, "internal_error");
  assert.ok(!res.body.includes("launch code"));
  await log.waitFor(/ERR_DECRYPT_FAILED|failed authentication/);
  assert.ok(!log.text().includes("launch code"), "nor logged");

  // Moving a row wholesale into another conversation (changing its conversation_id) fails the same way.
  const decoyEnvelope = await bodyOf(decoy.id);
  await t.store.db.execute(sql`update messages set conversation_id = ${eves} where id = ${decoy.id}`);
  assert.throws(() => keyring.decryptString(decoyEnvelope, bodyContext(eves, decoy.id)), {
    code: "ERR_DECRYPT_FAILED",
  });
});
