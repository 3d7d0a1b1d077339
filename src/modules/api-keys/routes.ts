// The API keys routes: a user's own keys, and the admin views of anyone's.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError, errors } from "../../core/errors.js";
import type { SessionService } from "../sessions/index.js";
import { requestActor } from "../audit/index.js";
import { CreateKeyBody, KeyCreated, KeyList, KeyParams, RotateKeyBody } from "./schema.js";
import type { ApiKeyService, KeyActor } from "./service.js";
import { NoBody } from "../../http/schemas.js";

/** The actor of a request in the shape the service records. */
function actorOf(req: FastifyRequest): KeyActor {
  const { actor, ip, userAgent } = requestActor(req);
  return { userId: actor.userId, keyId: actor.keyId, ip, userAgent };
}

/**
 * Registers the API keys routes; a key's own rate limit may not exceed `maxRateLimit`
 * (RATE_LIMIT_PER_MINUTE), and creating one needs a step-up within `stepUpTtl` seconds.
 */
export async function apiKeyRoutes(
  app: FastifyInstance,
  keys: ApiKeyService,
  options: { maxRateLimit: number; sessions: Pick<SessionService, "steppedUpWithin">; stepUpTtl: number },
): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { maxRateLimit, sessions, stepUpTtl } = options;

  // `auth: "user"` refuses API keys: a leaked key cannot mint, rotate or list keys.
  r.post(
    "/api/keys",
    {
      schema: { body: CreateKeyBody, response: { 201: KeyCreated } },
      config: { auth: "user", rateLimit: "sensitive", audit: "api_key.create" },
    },
    async (req, reply) => {
      // Sudo mode: a key outlives the session that made it, so a stolen session alone must not mint one.
      if (!(await sessions.steppedUpWithin(req.principal!.sessionId, stepUpTtl))) {
        throw new AppError(
          "step_up_required",
          "creating an API key needs a recent step-up: POST /api/auth/step-up, then retry",
        );
      }
      return reply.code(201).send(await keys.create(req.principal!.userId, req.body, actorOf(req), { maxRateLimit }));
    },
  );

  r.get(
    "/api/keys",
    {
      schema: { response: { 200: KeyList } },
      config: { auth: "user", rateLimit: "default" },
    },
    async (req) => ({ keys: await keys.list(req.principal!.userId) }),
  );

  r.delete(
    "/api/keys/:id",
    {
      schema: { params: KeyParams, body: NoBody },
      config: { auth: "user", rateLimit: "default", audit: "api_key.revoke" },
    },
    async (req, reply) => {
      // Someone else's key is "not found", exactly like a key that does not exist.
      if (!(await keys.revoke(req.params.id, { userId: req.principal!.userId, reason: "user", actor: actorOf(req) })))
        throw errors.notFound("no such key");
      return reply.code(204).send();
    },
  );

  r.post(
    "/api/keys/:id/rotate",
    {
      // The body is optional (grace_seconds has a default): no body validates as an empty object.
      schema: { params: KeyParams, body: RotateKeyBody, response: { 201: KeyCreated } },
      config: { auth: "user", rateLimit: "sensitive", audit: "api_key.rotate" },
    },
    async (req, reply) => {
      const body = req.body ?? {};
      return reply.code(201).send(
        await keys.rotate(req.params.id, {
          userId: req.principal!.userId,
          graceSeconds: body.grace_seconds,
          actor: actorOf(req),
        }),
      );
    },
  );

  r.get(
    "/api/admin/users/:id/keys",
    {
      schema: { params: KeyParams, response: { 200: KeyList } },
      config: { auth: "admin", rateLimit: "default" },
    },
    async (req) => ({ keys: await keys.list(req.params.id) }),
  );

  r.delete(
    "/api/admin/keys/:id",
    {
      schema: { params: KeyParams, body: NoBody },
      config: { auth: "admin", rateLimit: "default", audit: "api_key.revoke" },
    },
    async (req, reply) => {
      if (!(await keys.revoke(req.params.id, { reason: "admin", actor: actorOf(req) })))
        throw errors.notFound("no such key");
      return reply.code(204).send();
    },
  );
}
