// Attack: a login flood that exhausts the CPU with password hashing and starves every other request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AppError } from "../errors.js";
import { createPasswordHasher } from "./password.js";

const PASSWORD = "flood password 1";

test("with 1 slot and a queue of 2, ten verifications at once: 3 accepted, 7 refused at once with 503 and Retry-After", async () => {
  const setup = createPasswordHasher({ maxConcurrent: 1, maxQueue: 2 });
  const stored = await setup.hash(PASSWORD);
  const hasher = createPasswordHasher({ maxConcurrent: 1, maxQueue: 2 });

  let maxInFlight = 0;
  let samples = 0;
  const sampler = setInterval(() => {
    const { inFlight } = hasher.stats();
    maxInFlight = Math.max(maxInFlight, inFlight);
    samples += 1;
  }, 1);

  const settled: Array<{ index: number; ok: boolean }> = [];
  const calls = Array.from({ length: 10 }, (_, index) =>
    hasher.verify(stored, PASSWORD).then(
      (value) => {
        settled.push({ index, ok: true });
        return value;
      },
      (error: unknown) => {
        settled.push({ index, ok: false });
        throw error;
      },
    ),
  );
  // Right after the burst: one running, two waiting, nothing more admitted.
  assert.deepEqual({ inFlight: hasher.stats().inFlight, queued: hasher.stats().queued }, { inFlight: 1, queued: 2 });
  maxInFlight = Math.max(maxInFlight, hasher.stats().inFlight);

  const results = await Promise.allSettled(calls);
  clearInterval(sampler);

  const accepted = results.filter((r) => r.status === "fulfilled");
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  assert.ok(accepted.length <= 3, `accepted ${accepted.length}`);
  assert.equal(accepted.length, 3);
  for (const r of accepted) assert.equal(r.value, true);
  assert.equal(refused.length, 7);
  for (const r of refused) {
    assert.ok(r.reason instanceof AppError);
    assert.equal(r.reason.code, "service_unavailable");
    assert.equal(r.reason.status, 503);
    assert.equal(r.reason.headers?.["retry-after"], "1");
    assert.ok(!r.reason.message.includes(PASSWORD));
  }

  // Refusals come at once: every refused call settled before the first accepted one finished hashing.
  const firstAccepted = settled.findIndex((s) => s.ok);
  assert.equal(firstAccepted, 7, JSON.stringify(settled));
  // The first three callers (FIFO) are the ones served.
  assert.deepEqual(
    settled.filter((s) => s.ok).map((s) => s.index),
    [0, 1, 2],
  );

  assert.ok(samples > 0);
  assert.ok(maxInFlight <= 1, `inFlight reached ${maxInFlight}`);
  assert.equal(maxInFlight, 1);
  assert.deepEqual({ inFlight: hasher.stats().inFlight, queued: hasher.stats().queued }, { inFlight: 0, queued: 0 });

  // The flood is over: new calls are served again.
  assert.equal(await hasher.verify(stored, PASSWORD), true);
  assert.equal(await hasher.verify(stored, "not it"), false);
  assert.equal(hasher.stats().verifications, 5);
});

test("hash and verifyDummy share the same cap and queue", async () => {
  const hasher = createPasswordHasher({ maxConcurrent: 1, maxQueue: 1 });
  const first = hasher.hash(PASSWORD);
  const second = hasher.verifyDummy(PASSWORD);
  await assert.rejects(
    hasher.hash(PASSWORD),
    (error: unknown) => error instanceof AppError && error.code === "service_unavailable",
  );
  await assert.rejects(
    hasher.verifyDummy(PASSWORD),
    (error: unknown) => error instanceof AppError && error.code === "service_unavailable",
  );
  assert.match(await first, /^\$argon2id\$/);
  assert.equal(await second, false);
  assert.deepEqual(hasher.stats(), { hashes: 1, verifications: 1, inFlight: 0, queued: 0, admitted: 0 });
});

test("a queue of 0 admits only maxConcurrent calls", async () => {
  const hasher = createPasswordHasher({ maxConcurrent: 2, maxQueue: 0 });
  const results = await Promise.allSettled([1, 2, 3, 4].map(() => hasher.verifyDummy(PASSWORD)));
  assert.deepEqual(
    results.map((r) => r.status),
    ["fulfilled", "fulfilled", "rejected", "rejected"],
  );
});
