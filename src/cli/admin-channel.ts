// The local admin channel: operator commands while the server runs on the embedded database.
// PGlite is one process's database, so `bulwark users promote` and the like cannot open it while
// `bulwark start` holds it. Instead the server listens on a unix socket in DATA_DIR, and the CLI,
// finding the data directory in use by a live server, sends it the command line; the server runs
// the command with its own services (its caches, in-memory counters and realtime connections see
// the change at once) and streams the output back.
//
// Who may use it: whoever can connect to the socket, which is created with mode 0600 (umask 0177
// while binding, then chmod) and owned by the server's user: the same people who could read the
// database files. Another local user gets EACCES. Only the operator commands below are accepted.
import { chmodSync, existsSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { isAbsolute, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/types.js";
import type { Logger } from "../core/logger.js";
import { MODULES } from "../modules/index.js";
import { orderModules, type ModuleName, type Services } from "../modules/module.js";
import {
  channelPath,
  isChannelCommand,
  MAX_REQUEST_BYTES,
  type ChannelCommand,
  type Message,
  type Request,
} from "./admin-client.js";
import { apiKeysCommand } from "./api-keys.js";
import { auditCommand } from "./audit.js";
import { keysCommand } from "./keys.js";
import { messagesCommand } from "./messages.js";
import type { Output } from "./output.js";
import { serveCommandsFrom } from "./services.js";
import { sessionsCommand } from "./sessions.js";
import { usersCommand } from "./users.js";

/** `users import FILE` and `messages import FILE` name files relative to the caller's directory, not the server's. */
function resolveFiles(argv: string[], cwd: string): string[] {
  if (argv[1] !== "import") return argv;
  return argv.map((arg, i) =>
    i >= 2 && !arg.startsWith("-") && !isAbsolute(arg) && existsSync(resolve(cwd, arg)) ? resolve(cwd, arg) : arg,
  );
}

/** Runs one operator command with the server's services. */
async function runCommand(config: Config, [command, ...rest]: string[], out: Output): Promise<number> {
  const line = (text: string) => out.line(text);
  const error = (text: string) => out.error(text);
  switch (command as ChannelCommand) {
    case "users":
      return usersCommand(rest, out, () => config);
    case "sessions":
      return sessionsCommand(rest, out, () => config);
    case "api-keys":
      return apiKeysCommand(rest, out, () => config);
    case "audit":
      return auditCommand(rest, line, error);
    case "keys":
      return keysCommand(rest, line, error);
    case "messages":
      return messagesCommand(rest, line, error);
  }
}

/**
 * Opens the channel of a server on the embedded database (DATA_DIR); undefined on PostgreSQL, where
 * commands open the database themselves. The caller holds the data directory's lock, so a socket
 * file found here was left by a server that died: it is removed.
 */
export async function openAdminChannel(
  config: Config,
  app: FastifyInstance,
  logger: Logger,
): Promise<{ path: string; close(): Promise<void> } | undefined> {
  if (app.bulwark.store.kind !== "pglite" || config.databaseUrl) return undefined;
  const path = channelPath(config.dataDir);
  const services = app.bulwark as unknown as Services & Record<string, unknown>;
  serveCommandsFrom({
    ...app.bulwark,
    modules: orderModules(MODULES).map((module) => ({
      module,
      service: services[module.name as ModuleName],
    })),
  });
  const server = createServer((socket) => serve(socket, config, logger));
  rmSync(path, { force: true });
  // Never reachable by others, not even between bind and chmod.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((done, fail) => {
      server.once("error", fail);
      server.listen(path, () => {
        server.off("error", fail);
        done();
      });
    });
  } catch (error) {
    logger.warn(
      { err: error },
      "admin channel not opened: operator commands need the server stopped (use a shorter DATA_DIR path)",
    );
    serveCommandsFrom(undefined);
    return undefined;
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  return {
    path,
    async close() {
      serveCommandsFrom(undefined);
      await new Promise<void>((done) => server.close(() => done()));
      rmSync(path, { force: true });
    },
  };
}

function serve(socket: Socket, config: Config, logger: Logger): void {
  let buffer = "";
  const send = (message: Message) => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
  };
  socket.setEncoding("utf8");
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    if (buffer.length > MAX_REQUEST_BYTES) return socket.destroy();
    const end = buffer.indexOf("\n");
    if (end < 0) return;
    const text = buffer.slice(0, end);
    buffer = "";
    socket.removeAllListeners("data");
    let request: Request;
    try {
      request = JSON.parse(text) as Request;
      if (!Array.isArray(request.argv) || !request.argv.every((a) => typeof a === "string")) throw new Error();
    } catch {
      send({ err: "malformed request" });
      send({ exit: 2 });
      return void socket.end();
    }
    if (!isChannelCommand(request.argv[0])) {
      send({ err: `"${request.argv[0] ?? ""}" is not an operator command the server runs` });
      send({ exit: 2 });
      return void socket.end();
    }
    const argv = resolveFiles(request.argv, typeof request.cwd === "string" ? request.cwd : process.cwd());
    const out: Output = {
      line: (text) => send({ out: text }),
      error: (text) => send({ err: text }),
      help: (text) => {
        send({ out: text });
        return 0;
      },
    };
    logger.info({ command: argv.slice(0, 2).join(" ") }, "operator command over the admin channel");
    runCommand(config, argv, out).then(
      (code) => {
        send({ exit: code });
        socket.end();
      },
      (error: unknown) => {
        const usage = (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ?? false;
        send({ err: usage ? `${(error as Error).message} (see --help)` : `failed: ${(error as Error).message}` });
        send({ exit: usage ? 2 : 1 });
        socket.end();
      },
    );
  });
}
