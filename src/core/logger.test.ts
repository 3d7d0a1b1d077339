// Threat: credentials copied into logs (headers, cookies, query strings, bodies, settings) and read by whoever can read logs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Type } from "typebox";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { randomToken } from "./crypto/index.js";
import { createLogger } from "./logger.js";
import { captureLog, startApp } from "../../test/harness.js";

test("request logs carry no credential, cookie, query string, body or secret setting", async () => {
  const log = captureLog();
  const bearer = `eyJ${randomToken(24)}.${randomToken(24)}.${randomToken(24)}`;
  const cookie = `bulwark_session=${randomToken(24)}`;
  const queryToken = randomToken(24);
  const password = `pw-${randomToken(12)}`;
  const dbPassword = `db-${randomToken(12)}`;
  const t = await startApp({
    env: {
      DATABASE_URL: `postgres://app:${dbPassword}@db.internal:5432/app`,
      REDIS_URL: `redis://:${dbPassword}r@cache.internal:6379`,
    },
    log: log.stream,
    extend: (app) => {
      app.post(
        "/login-like",
        {
          schema: { body: Type.Object({ password: Type.String() }, { additionalProperties: false }) },
          config: { auth: "public", rateLimit: "default" },
        },
        async (req) => {
          // Even a careless handler that logs an object with secret fields gets them redacted.
          req.log.info({ body: req.body, headers: req.headers }, "careless handler log");
          return { ok: true };
        },
      );
    },
  });
  try {
    await t.app.inject({
      method: "GET",
      url: `/health?token=${queryToken}`,
      headers: { authorization: `Bearer ${bearer}`, cookie },
    });
    await t.app.inject({
      method: "POST",
      url: "/login-like",
      payload: { password },
      headers: { authorization: `Bearer ${bearer}`, cookie, "x-api-key": queryToken },
    });
    await t.app.inject({
      method: "GET",
      url: "/metrics",
      headers: { authorization: `Bearer ${t.config.metricsToken}` },
    });
    t.app.log.info({ config: t.config }, "someone logs the whole configuration");
    t.app.log.info(`a message that embeds the secret key ${t.config.secretKey} in free text`);
    t.app.log.error(
      { err: new Error(`connect ECONNREFUSED postgres://app:${dbPassword}@db.internal:5432/app`) },
      "a driver error quoting the URL",
    );
    // Before asserting what is absent, prove the lines that could carry it were written: each
    // request line and each message above (resolves as soon as the line arrives; no sleeping).
    for (const line of [
      /"route":"\/health"/,
      /"route":"\/login-like"/,
      /"route":"\/metrics"/,
      /careless handler log/,
      /someone logs the whole configuration/,
      /a message that embeds the secret key/,
      /a driver error quoting the URL/,
    ]) {
      await log.waitFor(line);
    }
    const text = log.text();
    for (const secret of [
      bearer,
      cookie.split("=")[1]!,
      queryToken,
      password,
      dbPassword,
      t.config.secretKey,
      t.config.metricsToken,
      t.config.encryptionKeys,
    ]) {
      assert.equal(text.includes(secret), false, `a secret leaked into the log: ${secret.slice(0, 6)}…`);
    }
    assert.match(text, /\[redacted\]/);
  } finally {
    await t.close();
  }
});

test("a failed query's values stay out of the log, whatever field holds the error or its message", async () => {
  const log = captureLog();
  const logger = createLogger({ level: "info", destination: log.stream });
  const failed = new DrizzleQueryError(
    "insert into users (email) values ($1)",
    ["erin@example.com"],
    new Error("duplicate key"),
  );
  logger.error({ err: failed }, "under err");
  logger.warn({ failure: failed }, "under another key");
  logger.warn({ err: failed.message }, "as a message string");
  await new Promise((resolve) => logger.flush(resolve));
  assert.equal(log.lines.length, 3);
  assert.doesNotMatch(log.text(), /erin@example\.com/);
  assert.match(log.text(), /insert into users/);
});
