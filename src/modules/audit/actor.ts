// Who made a request, in the shape audit events take.
import type { FastifyRequest } from "fastify";
import "../../http/types.js";

export type RequestActor = {
  actor: { userId: string | null; keyId: string | null };
  ip: string | null;
  userAgent: string | null;
};

/** The actor, client IP and user agent of a request, for `audit.record({ ...requestActor(req), … })`. */
export function requestActor(req: FastifyRequest): RequestActor {
  const ua = req.headers["user-agent"];
  return {
    actor: { userId: req.principal?.userId ?? null, keyId: req.principal?.keyId ?? null },
    // req.ip already honours TRUST_PROXY: a client cannot choose what is recorded here.
    ip: req.ip || null,
    userAgent: typeof ua === "string" ? ua : null,
  };
}
