// `node --import tsx bench/realtime.ts [--clients 1000] [--messages 50] [--sends 200]`: message send
// latency over REST and over the socket (p50/p99), fan-out deliveries per second to N connected
// members of one conversation, idle sockets per GiB of RSS, and RSS while a consumer stops reading.
// Server and clients share this process (both ends of every socket count in RSS and CPU, so the
// figures are conservative). Embedded defaults: PGlite, memory counters and pub/sub.
import { mkdtempSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import WebSocket from "ws";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { testSecrets } from "../test/harness.js";
import { bearer, signedIn } from "../test/identity.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "1000" },
    messages: { type: "string", default: "50" },
    sends: { type: "string", default: "200" },
  },
});
const CLIENTS = Number(values.clients);
const MESSAGES = Number(values.messages);
const SENDS = Number(values.sends);
const ORIGIN = "http://localhost:5173";

const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-rt-"));
const config = loadConfig(
  {
    DATA_DIR: join(dir, "data"),
    LOG_LEVEL: "silent",
    ...testSecrets(),
    RATE_LIMIT_PER_MINUTE: "100000000",
    RATE_LIMIT_PER_HOUR: "100000000",
    AUTH_REGISTER_PER_MINUTE: "1000",
    AUTH_LOGIN_PER_MINUTE: "1000",
    REALTIME_MAX_CONNECTIONS_PER_IP: "100000",
    REALTIME_MESSAGES_PER_MINUTE: "100000",
  },
  { generateDevSecrets: false },
);
const app = await createApp(config);
await app.listen({ host: "127.0.0.1", port: 0 });
const port = (app.server.address() as { port: number }).port;
const { messages, realtime } = app.bulwark;

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const mb = (n: number) => (n / 1024 / 1024).toFixed(0);

/** Opens a socket for a user through a ticket issued by the service (no login per client). */
async function open(userId: string): Promise<WebSocket> {
  const { ticket } = await realtime.tickets.issue({
    userId,
    sessionId: `bench-${userId}`,
    sessionEndsAt: Date.now() + 3_600_000,
    ip: "127.0.0.1",
  });
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/realtime?ticket=${ticket}`, {
    origin: ORIGIN,
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return ws;
}

// 1. Send latency: REST and socket, one author, sequential.
const ada = await signedIn(app);
const bob = await signedIn(app);
const conv = (
  await app.inject({
    method: "POST",
    url: "/api/conversations",
    headers: bearer(ada.access),
    payload: { type: "group", member_ids: [bob.userId] },
  })
).json().conversation.id as string;
const rest: number[] = [];
for (let i = 0; i < SENDS; i++) {
  const start = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/api/conversations/${conv}/messages`, {
    method: "POST",
    headers: { ...bearer(ada.access), "content-type": "application/json" },
    body: JSON.stringify({ body: `rest ${i}` }),
  });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`send failed: ${res.status}`);
  rest.push(performance.now() - start);
}
const adaWs = await open(ada.userId);
const socket: number[] = [];
for (let i = 0; i < SENDS; i++) {
  const start = performance.now();
  const acked = new Promise<void>((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const frame = JSON.parse(String(data)) as { type: string; ref?: string };
      if (frame.type === "message.sent" && frame.ref === String(i)) {
        adaWs.off("message", onMessage);
        resolve();
      }
    };
    adaWs.on("message", onMessage);
  });
  adaWs.send(JSON.stringify({ type: "message.send", conversation_id: conv, body: `socket ${i}`, ref: String(i) }));
  await acked;
  socket.push(performance.now() - start);
}
adaWs.close();
console.log(
  `send latency (${SENDS} sequential, one author): REST p50 ${pct(rest, 0.5).toFixed(1)} ms p99 ${pct(rest, 0.99).toFixed(1)} ms; socket p50 ${pct(socket, 0.5).toFixed(1)} ms p99 ${pct(socket, 0.99).toFixed(1)} ms`,
);

// 2. Idle sockets per GiB, and fan-out to CLIENTS members of one conversation.
const now = new Date();
const ids: string[] = [];
for (let i = 0; i < CLIENTS; i++) ids.push(`bench${String(i).padStart(27, "0")}`);
for (let i = 0; i < CLIENTS; i += 500) {
  const chunk = ids.slice(i, i + 500);
  await app.bulwark.db.execute(
    sql`insert into users (id, username, username_key, email, email_key, created_at, updated_at) select x, x, x, x || '@example.com', x || '@example.com', ${now}, ${now} from unnest(${sql.raw(`array[${chunk.map((x) => `'${x}'`).join(",")}]`)}::text[]) as x`,
  );
}
const room = await app.bulwark.db.transaction((tx) =>
  messages.importConversation(tx, {
    type: "group",
    title: "bench",
    members: [ada.userId, ...ids],
    createdBy: ada.userId,
    createdAt: now,
  }),
);
global.gc?.();
const before = process.memoryUsage().rss;
const clients: WebSocket[] = [];
for (const id of ids) clients.push(await open(id));
global.gc?.();
const idle = process.memoryUsage().rss - before;
console.log(
  `${CLIENTS} idle sockets: RSS +${mb(idle)} MB (both ends in this process) → ${Math.floor(CLIENTS / (idle / 2 ** 30)).toLocaleString("en")} sockets per GiB`,
);

let received = 0;
const expected = CLIENTS * MESSAGES;
const done = new Promise<void>((resolve) => {
  for (const ws of clients)
    ws.on("message", () => {
      if (++received === expected) resolve();
    });
});
const start = performance.now();
for (let i = 0; i < MESSAGES; i++) await messages.send(ada.userId, room, `fan-out ${i}`);
await done;
const seconds = (performance.now() - start) / 1000;
console.log(
  `fan-out: ${MESSAGES} messages to ${CLIENTS} sockets = ${expected} deliveries in ${seconds.toFixed(2)} s → ${Math.round(expected / seconds).toLocaleString("en")} deliveries/s (goal ≥ 20,000)`,
);

// 3. A consumer that stops reading: memory stays flat, the socket is dropped.
const stalled = clients[0]!;
(stalled as unknown as { _socket: Socket })._socket.pause();
const rssBefore = process.memoryUsage().rss;
const droppedBefore = realtime.dropped();
const big = JSON.stringify({ type: "message.created", message: { body: "x".repeat(60_000) } });
let peak = rssBefore;
for (let i = 0; i < 400 && realtime.dropped() === droppedBefore; i++) {
  realtime.deliverLocal([ids[0]!], big);
  peak = Math.max(peak, process.memoryUsage().rss);
  if (i % 8 === 0) await new Promise((r) => setImmediate(r));
}
console.log(
  `stalled consumer: dropped=${realtime.dropped() - droppedBefore} after at most ${mb(config.realtime.maxBufferedBytes)} MB queued; RSS ${mb(rssBefore)} → peak ${mb(peak)} MB`,
);

for (const ws of clients) ws.terminate();
await app.close();
rmSync(dir, { recursive: true, force: true });
