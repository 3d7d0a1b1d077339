// The test run uses the services it was given: a set TEST_DATABASE_URL or TEST_REDIS_URL must answer and be the one
// the harness uses, so a misconfigured CI run fails here instead of passing on embedded defaults and skipped tests.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Redis } from "ioredis";
import pg from "pg";
import { createFakeClock } from "../src/core/clock.js";
import {
  needs,
  storeUrl,
  testCounters,
  testStore,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  TEST_REQUIRE_SERVICES,
} from "./harness.js";

test(
  "with TEST_REQUIRE_SERVICES=1 both services are configured",
  { skip: !TEST_REQUIRE_SERVICES && "TEST_REQUIRE_SERVICES is not set" },
  () => {
    assert.ok(TEST_DATABASE_URL, "TEST_DATABASE_URL is set");
    assert.ok(TEST_REDIS_URL, "TEST_REDIS_URL is set");
  },
);

test(
  "a set TEST_DATABASE_URL answers, and test stores are made on it (not on PGlite)",
  { skip: needs("postgres") },
  async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      assert.equal((await client.query("select 1 as one")).rows[0].one, 1);
    } finally {
      await client.end();
    }
    const store = await testStore();
    try {
      assert.equal(store.driver.kind, "postgres");
      assert.ok(storeUrl(store));
    } finally {
      await store.close();
    }
  },
);

test("a set TEST_REDIS_URL answers, and test counters live in it", { skip: needs("redis") }, async () => {
  const redis = new Redis(TEST_REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000 });
  try {
    await redis.connect();
    assert.equal(await redis.ping(), "PONG");
  } finally {
    redis.disconnect();
  }
  const counters = testCounters(createFakeClock());
  try {
    assert.equal(counters.kind, "redis");
  } finally {
    await counters.close();
  }
});
