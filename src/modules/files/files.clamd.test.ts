// Threat: malware uploaded to be served to other users. The clamd here is a small fake in the test
// that speaks clamd's real INSTREAM protocol on a Unix socket (length-prefixed chunks, zero-length end).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp, type TestApp } from "../../../test/harness.js";
import { bearer, signedIn } from "../../../test/identity.js";
import { upload } from "../../../test/files.js";

const EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
const LIMITS = { SENSITIVE_PER_MINUTE: "1000", AUTH_REGISTER_PER_MINUTE: "1000", AUTH_LOGIN_PER_MINUTE: "1000" };

/** A clamd that answers INSTREAM: FOUND for the EICAR test string, OK otherwise. */
function fakeClamd(path: string): Promise<Server & { scanned: number }> {
  const server = Object.assign(
    createServer((socket) => {
      let buffer = Buffer.alloc(0);
      let command = false;
      const body: Buffer[] = [];
      socket.on("data", (data) => {
        buffer = Buffer.concat([buffer, data]);
        if (!command) {
          const end = buffer.indexOf(0);
          if (end < 0) return;
          if (buffer.subarray(0, end).toString() !== "zINSTREAM") return void socket.end("UNKNOWN COMMAND\0");
          command = true;
          buffer = buffer.subarray(end + 1);
        }
        while (buffer.length >= 4) {
          const length = buffer.readUInt32BE(0);
          if (length === 0) {
            server.scanned++;
            return void socket.end(
              Buffer.concat(body).includes(EICAR) ? "stream: Eicar-Test-Signature FOUND\0" : "stream: OK\0",
            );
          }
          if (buffer.length < 4 + length) return;
          body.push(buffer.subarray(4, 4 + length));
          buffer = buffer.subarray(4 + length);
        }
      });
    }),
    { scanned: 0 },
  );
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

let clamd: Server & { scanned: number };
let t: TestApp;
const socket = join(mkdtempSync(join(tmpdir(), "bulwark-clamd-")), "clamd.sock");
before(async () => {
  clamd = await fakeClamd(socket);
  t = await startApp({ env: { ...LIMITS, CLAMD_SOCKET: socket } });
});
after(async () => {
  await t.close();
  await new Promise((resolve) => clamd.close(resolve));
});

test("an upload clamd flags is refused with 422 and not stored; a clean one is scanned and stored", async () => {
  const user = await signedIn(t.app);
  const infected = await upload(t.app, user.access, { name: "eicar.txt", data: EICAR });
  assert.equal(infected.statusCode, 422, infected.body);
  assert.equal(infected.json().error.code, "file_infected");
  assert.ok(!infected.body.includes("Eicar"), "the signature is logged, not returned");
  const clean = await upload(t.app, user.access, { name: "fine.txt", data: "nothing to see\n" });
  assert.equal(clean.statusCode, 201);
  assert.equal(clamd.scanned, 2);
  assert.equal(
    (await t.app.inject({ method: "GET", url: "/api/files", headers: bearer(user.access) })).json().files.length,
    1,
  );
});

test("when clamd cannot be reached the upload fails closed with 503", async () => {
  const unreachable = await startApp({ env: { ...LIMITS, CLAMD_SOCKET: join(tmpdir(), "no-such-clamd.sock") } });
  try {
    const user = await signedIn(unreachable.app);
    const res = await upload(unreachable.app, user.access, { name: "fine.txt", data: "nothing to see\n" });
    assert.equal(res.statusCode, 503, res.body);
    assert.deepEqual(
      (await unreachable.app.inject({ method: "GET", url: "/api/files", headers: bearer(user.access) })).json().files,
      [],
    );
  } finally {
    await unreachable.close();
  }
});
