// The CLI's side of the local admin channel (the server's side is admin-channel.ts): when a live
// server holds the embedded database, an operator command is sent to it over DATA_DIR/bulwark.sock
// instead of opening the database here. Kept light: no module is loaded to decide.
import { existsSync, readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import type { Config } from "../config/types.js";
import { processAlive } from "../core/process.js";
import type { Output } from "./output.js";

/** The commands the channel runs; the others (start, init, migrate, check, …) never travel over it. */
export const CHANNEL_COMMANDS = ["users", "sessions", "api-keys", "audit", "keys", "messages"] as const;
export type ChannelCommand = (typeof CHANNEL_COMMANDS)[number];

/** A request line larger than this is refused (a command line is a few hundred bytes). */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** The socket's path in the data directory. */
export const channelPath = (dataDir: string) => join(dataDir, "bulwark.sock");

export type Request = { argv: string[]; cwd: string };
export type Message = { out: string } | { err: string } | { exit: number };

export const isChannelCommand = (command: string | undefined): command is ChannelCommand =>
  (CHANNEL_COMMANDS as readonly string[]).includes(command ?? "");

/** The pid in DATA_DIR/bulwark.lock when it names a live process other than this one. */
function liveOwner(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, "bulwark.lock"), "utf8"));
  } catch {
    return undefined;
  }
  return pid !== process.pid && processAlive(pid) ? pid : undefined;
}

/** As `forwardToServer`, loading the configuration; a configuration that does not load runs the command here (which explains it). */
export async function forwardIfServed(
  argv: string[],
  out: Output,
  load: () => Pick<Config, "databaseUrl" | "dataDir">,
): Promise<number | undefined> {
  if (!isChannelCommand(argv[0])) return undefined;
  let config: Pick<Config, "databaseUrl" | "dataDir">;
  try {
    config = load();
  } catch {
    return undefined;
  }
  return forwardToServer(argv, config, out);
}

/**
 * When `argv` is an operator command and a live server holds the embedded database in `dataDir`,
 * runs the command on that server and returns its exit code; undefined to run it here.
 */
export async function forwardToServer(
  argv: string[],
  config: Pick<Config, "databaseUrl" | "dataDir">,
  out: Output,
): Promise<number | undefined> {
  if (!isChannelCommand(argv[0]) || config.databaseUrl) return undefined;
  const path = channelPath(config.dataDir);
  if (liveOwner(config.dataDir) === undefined || !existsSync(path)) return undefined;
  return new Promise<number>((done) => {
    const socket = createConnection(path);
    let buffer = "";
    let exit: number | undefined;
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify({ argv, cwd: process.cwd() })}\n`));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const message = JSON.parse(buffer.slice(0, end)) as Message;
        buffer = buffer.slice(end + 1);
        if ("out" in message) out.line(message.out);
        else if ("err" in message) out.error(message.err);
        else exit = message.exit;
      }
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      out.error(`the server holding ${config.dataDir} did not take the command (${error.code ?? error.message})`);
      exit ??= 1;
    });
    socket.on("close", () => {
      if (exit === undefined) out.error("the server closed the admin channel before the command finished");
      done(exit ?? 1);
    });
  });
}
