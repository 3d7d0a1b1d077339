// Helpers for tests of conversations and messages over the real HTTP API.
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import { bearer, type SignedIn } from "./identity.js";

/** Limits high enough that a test's own traffic never meets them. */
export const MESSAGE_LIMITS = {
  RATE_LIMIT_PER_MINUTE: "100000",
  RATE_LIMIT_PER_HOUR: "1000000",
  SENSITIVE_PER_MINUTE: "1000",
  AUTH_REGISTER_PER_MINUTE: "1000",
  AUTH_LOGIN_PER_MINUTE: "1000",
};

/** Creates a conversation of `owner` with `others`; returns its id. */
export async function conversation(
  app: FastifyInstance,
  owner: SignedIn,
  others: SignedIn[],
  type: "direct" | "group" = "group",
): Promise<string> {
  const res = await app.inject({
    method: "POST",
    url: "/api/conversations",
    headers: bearer(owner.access),
    payload: { type, member_ids: others.map((o) => o.userId) },
  });
  assert.ok(res.statusCode === 201 || res.statusCode === 200, res.body);
  return res.json().conversation.id as string;
}

/** Sends a message over REST; returns the message object. */
export async function send(app: FastifyInstance, user: SignedIn, conversationId: string, body: string) {
  const res = await app.inject({
    method: "POST",
    url: `/api/conversations/${conversationId}/messages`,
    headers: bearer(user.access),
    payload: { body },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().message as {
    id: string;
    conversation_id: string;
    author_id: string;
    body: string;
    created_at: string;
    edited_at: string | null;
  };
}
