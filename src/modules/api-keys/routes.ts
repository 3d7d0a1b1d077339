// The API keys routes: a user's own keys, and the admin views of anyone's.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { errors } from "../../core/errors.js";
import { requestActor } from "../audit/index.js";
import { CreateKeyBody, KeyCreated, KeyList, KeyParams, RotateKeyBody } from "./schema.js";
import type { ApiKeyService, CreateKeyInput, KeyActor } from "./service.js";

/** The actor of a request in the shape the service records. */
function actorOf(req: FastifyRequest): KeyActor {
  const { actor, ip, userAgent } = requestActor(req);
  return { userId: actor.userId, keyId: actor.keyId, ip, userAgent };
}

/** Registers the API keys routes. */
export async function apiKeyRoutes(app: FastifyInstance, { keys }: { keys: ApiKeyService }): Promise<void> {
  const maxRateLimit = app.bulwark.config.rateLimit.perMinute;

  // `auth: "user"` refuses API keys: a leaked key cannot mint, rotate or list keys.
  app.post("/api/keys", {
    schema: { body: CreateKeyBody, response: { 201: KeyCreated } },
    config: { auth: "user", rateLimit: "sensitive", audit: "api_key.create" },
  }, async (req, reply) => reply.code(201).send(await keys.create(req.principal!.userId, req.body as CreateKeyInput, actorOf(req), { maxRateLimit })));

  app.get("/api/keys", { schema: { response: { 200: KeyList } }, config: { auth: "user" } }, async (req) => ({
    keys: await keys.list(req.principal!.userId),
  }));

  app.delete("/api/keys/:id", { schema: { params: KeyParams }, config: { auth: "user", audit: "api_key.revoke" } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    // Someone else's key is "not found", exactly like a key that does not exist.
    if (!(await keys.revoke(id, { userId: req.principal!.userId, reason: "user", actor: actorOf(req) }))) throw errors.notFound("no such key");
    return reply.code(204).send();
  });

  app.post("/api/keys/:id/rotate", {
    schema: { params: KeyParams, body: RotateKeyBody, response: { 201: KeyCreated } },
    config: { auth: "user", rateLimit: "sensitive", audit: "api_key.rotate" },
    // The body is optional (grace_seconds has a default): no body validates as an empty object.
    preValidation: async (req) => {
      if (req.body === undefined || req.body === null) req.body = {};
    },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const body = req.body as { grace_seconds?: number };
    return reply.code(201).send(await keys.rotate(id, { userId: req.principal!.userId, graceSeconds: body.grace_seconds, actor: actorOf(req) }));
  });

  app.get("/api/admin/users/:id/keys", { schema: { params: KeyParams, response: { 200: KeyList } }, config: { auth: "admin" } }, async (req) => ({
    keys: await keys.list((req.params as { id: string }).id),
  }));

  app.delete("/api/admin/keys/:id", { schema: { params: KeyParams }, config: { auth: "admin", audit: "api_key.revoke" } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!(await keys.revoke(id, { reason: "admin", actor: actorOf(req) }))) throw errors.notFound("no such key");
    return reply.code(204).send();
  });
}
