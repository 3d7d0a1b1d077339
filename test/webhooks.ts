// Helpers for webhook tests: secrets generated at run time, signed requests, an admin to call the admin routes.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import Stripe from "stripe";
import { Webhook } from "standardwebhooks";
import { login, register } from "./identity.js";

/** A fresh Stripe endpoint secret (`whsec_` and random characters), never a committed literal. */
export function stripeSecret(): string {
  return `whsec_${randomBytes(24).toString("hex")}`;
}

/** A fresh Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes. */
export function standardSecret(): string {
  return ["whsec", randomBytes(32).toString("base64")].join("_");
}

// The official SDK signs (an API key is required to build the client; it never leaves the process).
const stripe = new Stripe(`sk_test_${randomBytes(12).toString("hex")}`);

/** The `Stripe-Signature` header the official SDK computes for a payload. */
export function stripeHeader(payload: string, secret: string, timestampSeconds: number): string {
  return stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: timestampSeconds });
}

/** A Stripe event body, as Stripe sends it (pretty-printed, so re-serialised JSON would differ). */
export function stripeEvent(
  type: string,
  object: Record<string, unknown>,
  id = `evt_${randomBytes(12).toString("hex")}`,
): { id: string; body: string } {
  return {
    id,
    body: JSON.stringify({ id, object: "event", type, api_version: "2024-06-20", data: { object } }, null, 2),
  };
}

/** POSTs a Stripe event signed by the official SDK. */
export async function postStripe(
  app: FastifyInstance,
  body: string,
  secret: string,
  nowSeconds: number,
  extra: { header?: string; remoteAddress?: string } = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: "POST",
    url: "/api/webhooks/stripe",
    payload: body,
    remoteAddress: extra.remoteAddress ?? "127.0.0.1",
    headers: {
      "content-type": "application/json; charset=utf-8",
      "stripe-signature": extra.header ?? stripeHeader(body, secret, nowSeconds),
    },
  });
}

/** The three Standard Webhooks headers the official `standardwebhooks` package computes. */
export function standardHeaders(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): Record<string, string> {
  const signature = new Webhook(secret).sign(id, new Date(timestampSeconds * 1000), body);
  return { "webhook-id": id, "webhook-timestamp": String(timestampSeconds), "webhook-signature": signature };
}

/** Registers a user, makes it an admin and signs it in; returns its Authorization header. */
export async function signedInAdmin(
  app: FastifyInstance,
): Promise<{ authorization: string; userId: string; username: string; password: string }> {
  const user = await register(app);
  await app.bulwark.accounts.promote(user.username, { userId: null });
  const res = await login(app, user);
  assert.equal(res.statusCode, 200, res.body);
  return {
    authorization: `Bearer ${res.json().access_token as string}`,
    userId: user.userId,
    username: user.username,
    password: user.password,
  };
}
