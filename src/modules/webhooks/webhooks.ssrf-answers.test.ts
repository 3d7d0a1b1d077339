// Attack: SSRF through a name with several DNS answers — a public address first, a private one (loopback, metadata, the LAN) after it.
import assert from "node:assert/strict";
import type { LookupAddress } from "node:dns";
import { test } from "node:test";
import { send } from "./delivery.js";
import { BlockedTargetError, guardedLookup, type ResolveAll } from "./ssrf.js";

/** A resolver that answers every name with the given addresses, in this order. */
function answers(...addresses: string[]): ResolveAll {
  const list: LookupAddress[] = addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  return (_hostname, _options, callback) => queueMicrotask(() => callback(null, list));
}

/** What the guarded lookup hands to the HTTP client: the error, or the address it would connect to. */
function lookUp(
  resolveAll: ResolveAll,
  options: { all?: boolean } = {},
): Promise<{ error: Error | null; address: unknown }> {
  return new Promise((resolve) => {
    guardedLookup(false, resolveAll)(
      "hook.example",
      options as never,
      ((error: Error | null, address: unknown) => resolve({ error, address })) as never,
    );
  });
}

const MIXED: string[][] = [
  ["93.184.215.14", "127.0.0.1"],
  ["93.184.215.14", "8.8.8.8", "169.254.169.254"],
  ["2606:4700:4700::1111", "fd00:ec2::254"],
  ["93.184.215.14", "::ffff:10.0.0.1"],
  ["93.184.215.14", "2606:4700:4700::1111", "::1"],
];

for (const list of MIXED) {
  test(`refused when any answer is not public, not only the first: ${list.join(", ")}`, async () => {
    for (const all of [false, true]) {
      const { error, address } = await lookUp(answers(...list), { all });
      assert.ok(error instanceof BlockedTargetError, `all=${all}: expected a refusal, got ${JSON.stringify(address)}`);
    }
  });
}

test("control: a name whose answers are all public resolves to its first answer", async () => {
  const { error, address } = await lookUp(answers("93.184.215.14", "2606:4700:4700::1111"));
  assert.equal(error, null);
  assert.equal(address, "93.184.215.14");
});

test("the sender uses the guarded lookup: a name answering public-then-private is never connected to", async () => {
  const result = await send("http://hook.example:9/", {}, "{}", {
    allowPrivate: false,
    timeoutMs: 2000,
    resolveAll: answers("93.184.215.14", "10.0.0.5"),
  });
  assert.deepEqual(result, { statusCode: null, error: "target address refused (not public)" });
});
