// Helpers for realtime tests: tickets over HTTP and real WebSocket clients (the `ws` package).
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import WebSocket from "ws";
import { bearer, type SignedIn } from "./identity.js";

/** An origin in the development CORS_ORIGINS default. */
export const ORIGIN = "http://localhost:5173";

/** Starts listening on a free port of 127.0.0.1 (once) and returns the base URL. */
export async function listening(app: FastifyInstance): Promise<string> {
  if (!app.server.listening) await app.listen({ host: "127.0.0.1", port: 0 });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

/** A ticket for the user's session, requested from `remoteAddress`. */
export async function ticket(app: FastifyInstance, user: SignedIn, remoteAddress = "127.0.0.1"): Promise<string> {
  const res = await app.inject({
    method: "POST",
    url: "/api/realtime/ticket",
    headers: bearer(user.access),
    remoteAddress,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().ticket as string;
}

export type Frame = { type: string; [key: string]: unknown };

export type Client = {
  ws: WebSocket;
  /** The next frame matching `match` (frames already received count), in arrival order. */
  next(match?: (frame: Frame) => boolean): Promise<Frame>;
  send(frame: unknown): void;
  /** Resolves with the close code and reason once the server closed the socket. */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
};

/** Opens a WebSocket with a ticket; rejects with `{ status }` when the upgrade is refused. */
export function connect(
  base: string,
  ticketValue: string,
  options: { origin?: string | null; maxPayload?: number; localAddress?: string } = {},
): Promise<Client> {
  const url = `${base.replace(/^http/, "ws")}/api/realtime?ticket=${encodeURIComponent(ticketValue)}`;
  const origin = options.origin === undefined ? ORIGIN : options.origin;
  const ws = new WebSocket(url, {
    ...(origin === null ? {} : { origin }),
    perMessageDeflate: false,
    maxPayload: options.maxPayload ?? 100 * 1024 * 1024,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  const frames: Frame[] = [];
  const waiting: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  ws.on("message", (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    const w = waiting.find((x) => x.match(frame));
    if (w) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(frame);
    } else {
      frames.push(frame);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return new Promise((resolve, reject) => {
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      res.on("end", () =>
        reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })),
      );
    });
    ws.once("error", reject);
    ws.once("open", () =>
      resolve({
        ws,
        next(match = () => true) {
          const i = frames.findIndex(match);
          if (i >= 0) return Promise.resolve(frames.splice(i, 1)[0]!);
          return new Promise((r) => waiting.push({ match, resolve: r }));
        },
        send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
        closed,
        close: () => ws.close(),
      }),
    );
  });
}

/** The status of a refused upgrade (fails if the upgrade succeeded). */
export async function refused(attempt: Promise<Client>): Promise<{ status: number; body: string }> {
  try {
    const client = await attempt;
    client.close();
  } catch (error) {
    const e = error as { status?: number; body?: string };
    if (e.status !== undefined) return { status: e.status, body: e.body ?? "" };
    throw error;
  }
  assert.fail("the upgrade was accepted");
}

/** Waits until `check()` holds (state another socket or instance changes); the test's timeout is the bound. */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}
