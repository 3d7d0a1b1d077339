// The rules file is validated at start: a wrong rule stops the start with a message naming the
// rule and the field, never leaving a path open or half-protected.
import assert from "node:assert/strict";
import { test } from "node:test";
import { rulesFile, startUpstream } from "../../../test/gateway.js";
import { startApp } from "../../../test/harness.js";
import { randomToken } from "../../core/crypto/index.js";
import { parseRules } from "./rules.js";

const parse = (text: string) => () => parseRules(text, { bodyLimit: 1024 });

test("a rule with a wrong field is refused naming the rule and the field", () => {
  assert.throws(
    parse("rules:\n  - { name: orders, prefix: /orders, methods: [GET], auth: users }"),
    /rule "orders" \(rules\[0\]\): auth: .*public, optional, user, admin/,
  );
  assert.throws(
    parse("rules:\n  - { name: orders, prefix: /orders, methods: [GET], auth: user, rate_limit: fast }"),
    /rule "orders" \(rules\[0\]\): rate_limit/,
  );
  assert.throws(
    parse("rules:\n  - { name: orders, prefix: /orders, methods: [GET], auth: user, bodylimit: 5 }"),
    /rule "orders" \(rules\[0\]\): .*unknown field "bodylimit"/,
  );
  assert.throws(
    parse("rules:\n  - { name: orders, prefix: /orders, methods: [GET] }"),
    /rule "orders" \(rules\[0\]\): .*missing "auth"/,
  );
  assert.throws(
    parse("rules:\n  - { name: orders, prefix: /orders, methods: [GET], auth: { apiKey: 'Bad Scope' } }"),
    /rule "orders".*auth/,
  );
  assert.throws(
    parse("rules:\n  - { name: orders, prefix: /orders/, methods: [GET], auth: user }"),
    /rule "orders" \(rules\[0\]\): prefix/,
  );
  assert.throws(
    parse(
      "rules:\n  - { name: a, prefix: /x, methods: [GET], auth: user }\n  - { name: a, prefix: /y, methods: [GET], auth: user }",
    ),
    /rule "a": name: used by two rules/,
  );
  assert.throws(
    parse(
      "rules:\n  - { name: a, prefix: /x, methods: [GET], auth: user }\n  - { name: b, prefix: /x, methods: [GET], auth: public }",
    ),
    /rule "b": methods: GET \/x is already covered/,
  );
  assert.throws(
    parse("rules:\n  - { name: a, prefix: /api/auth/login, methods: [POST], auth: public }"),
    /rule "a": prefix: .*inside \/api\/auth/,
  );
  assert.throws(parse("rules: [\n"), /is not valid YAML or JSON/);
  // YAML aliases could expand without bound; they are refused.
  assert.throws(parse("x: &a [1]\nrules: *a"), /not valid YAML/);
});

test("JSON rules are read too, with their defaults", () => {
  const [rule] = parseRules(
    JSON.stringify({ rules: [{ name: "a", prefix: "/a", methods: ["GET"], auth: { apiKey: "a:read" } }] }),
    { bodyLimit: 2048 },
  );
  assert.deepEqual(rule, {
    name: "a",
    prefix: "/a",
    methods: ["GET"],
    auth: { apiKey: "a:read" },
    rate_limit: "default",
    body_limit: 2048,
    content_types: ["application/json"],
    audit: undefined,
    cors: true,
    websocket: false,
  });
});

test("the app does not start on a bad rules file, nor with a rule inside Bulwark's routes", async () => {
  const upstream = await startUpstream();
  try {
    const env = (rules: string) => ({
      UPSTREAM_URL: upstream.url,
      GATEWAY_SECRET: randomToken(32),
      GATEWAY_RULES: rulesFile(rules),
    });
    await assert.rejects(
      startApp({ env: env("rules:\n  - { name: orders, prefix: /orders, methods: [GET], auth: anyone }") }),
      /GATEWAY_RULES .*rule "orders" \(rules\[0\]\): auth/,
    );
    await assert.rejects(
      startApp({ env: env("rules:\n  - { name: k, prefix: /api/keys/x, methods: [GET], auth: public }") }),
      /rule "k": prefix: .*\/api\/keys/,
    );
    await assert.rejects(
      startApp({ env: { UPSTREAM_URL: upstream.url, GATEWAY_SECRET: randomToken(32) } }),
      /GATEWAY_RULES: is required with UPSTREAM_URL/,
    );
    await assert.rejects(
      startApp({ env: { UPSTREAM_URL: upstream.url, GATEWAY_RULES: rulesFile("rules: []") } }),
      /GATEWAY_SECRET: is required/,
    );
    await assert.rejects(
      startApp({ env: { ...env("rules: []"), UPSTREAM_URL: `${upstream.url}/v1` } }),
      /UPSTREAM_URL: must be an origin/,
    );
  } finally {
    await upstream.close();
  }
});

test("bulwark check judges the rules file", async () => {
  const { runChecks } = await import("../../cli/check.js");
  const env = {
    UPSTREAM_URL: "http://127.0.0.1:9",
    GATEWAY_SECRET: randomToken(32),
    SECRET_KEY: randomToken(32),
    LOG_LEVEL: "silent",
  };
  const bad = await runChecks(
    { ...env, GATEWAY_RULES: rulesFile("rules:\n  - { name: x, prefix: /x, methods: [GET], auth: nobody }") },
    "/nonexistent",
    undefined,
  );
  assert.match(bad.find((r) => r.name === "gateway rules")?.message ?? "", /rule "x" \(rules\[0\]\): auth/);
  const good = await runChecks(
    { ...env, GATEWAY_RULES: rulesFile("rules:\n  - { name: x, prefix: /x, methods: [POST], auth: public }") },
    "/nonexistent",
    undefined,
  );
  assert.equal(good.find((r) => r.name === "gateway rules")?.status, "pass");
  assert.equal(good.find((r) => r.name === "gateway public writes")?.status, "warn");
});
