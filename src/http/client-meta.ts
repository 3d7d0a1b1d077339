// Who is on the other end of a request, as services record it (sessions, audit rows, mails).
import type { FastifyRequest } from "fastify";

export type ClientMeta = { ip: string | null; userAgent: string | null };

/** The client's IP (TRUST_PROXY honoured) and user agent, for services that never see a request. */
export function clientMeta(req: FastifyRequest): ClientMeta {
  return { ip: req.ip ?? null, userAgent: req.headers["user-agent"]?.slice(0, 512) ?? null };
}
