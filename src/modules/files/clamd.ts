// A malware scan through clamd's INSTREAM command: `zINSTREAM\0`, then chunks each prefixed with
// their length as a 4-byte big-endian integer, then a zero length; clamd answers `stream: OK` or
// `stream: <signature> FOUND`. Fails closed: a scanner that cannot be reached refuses the file.
import { createReadStream } from "node:fs";
import { createConnection } from "node:net";

export type ScanResult = { clean: true } | { clean: false; signature: string };

const CHUNK = 64 * 1024;

/** Scans the file at `path` with the clamd listening on the Unix socket `socket`. */
export async function clamdScan(socket: string, path: string): Promise<ScanResult> {
  const conn = createConnection({ path: socket });
  const reply: Buffer[] = [];
  const answered = new Promise<string>((resolve, reject) => {
    conn.on("data", (data) => reply.push(data));
    conn.on("end", () => resolve(Buffer.concat(reply).toString("utf8")));
    conn.on("error", reject);
  });
  // Awaited only after the upload; until then a connection error must not go unhandled.
  answered.catch(() => undefined);
  const write = (data: Buffer) =>
    new Promise<void>((resolve, reject) => conn.write(data, (error) => (error ? reject(error) : resolve())));
  try {
    await new Promise<void>((resolve, reject) => {
      conn.once("connect", resolve);
      conn.once("error", reject);
    });
    await write(Buffer.from("zINSTREAM\0"));
    for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) {
      const length = Buffer.alloc(4);
      length.writeUInt32BE((chunk as Buffer).length);
      await write(Buffer.concat([length, chunk as Buffer]));
    }
    await write(Buffer.alloc(4));
    const text = (await answered).replace(/\0+$/, "").trim();
    if (/^stream: OK$/.test(text)) return { clean: true };
    const found = /^stream: (.+) FOUND$/.exec(text);
    if (found) return { clean: false, signature: found[1]! };
    throw new Error(`clamd answered ${JSON.stringify(text.slice(0, 200))}`);
  } finally {
    conn.destroy();
  }
}
