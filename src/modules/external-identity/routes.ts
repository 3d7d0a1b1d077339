// The external identity route: the signed-in owner of a local account links an outside identity to it.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { errors } from "../../core/errors.js";
import { clientMeta } from "../../http/client-meta.js";
import { Password } from "../accounts/index.js";
import type { ExternalIdentityService } from "./service.js";

export const LinkBody = Type.Object(
  {
    // A provider token (a compact JWS); verified like any bearer token of the provider.
    token: Type.String({
      minLength: 1,
      maxLength: 8192,
      pattern: "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*$",
    }),
    current_password: Password,
    code: Type.Optional(Type.String({ pattern: "^[0-9A-Za-z-]{6,20}$" })),
  },
  { additionalProperties: false },
);

/** Registers the link route; it answers 404 when no provider is configured. */
export async function externalRoutes(
  app: FastifyInstance,
  external: ExternalIdentityService | undefined,
): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/api/auth/external/link",
    {
      schema: { body: LinkBody },
      // Never implicit: the account's owner, in a Bulwark session, proves the password (and code) again.
      config: { auth: "user", rateLimit: "sensitive", audit: "external.link" },
    },
    async (req, reply) => {
      if (!external) throw errors.notFound("no outside identity provider is configured");
      const principal = req.principal!;
      if (principal.type !== "user") throw errors.forbidden("linking needs a signed-in Bulwark session");
      await external.link(
        principal.userId,
        req.body.token,
        { password: req.body.current_password, code: req.body.code },
        clientMeta(req),
      );
      return reply.code(204).send();
    },
  );
}
