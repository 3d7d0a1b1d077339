// Helpers for tests that run the real `bulwark` command in child processes: a server and commands beside it.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
/** tsx resolved from this project, since commands run in a scratch directory. */
const TSX = import.meta.resolve("tsx");

/** A port nobody listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const baseEnv = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? "", ...env });

/** Runs one `bulwark` command to its end. */
export function bulwark(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", TSX, MAIN, ...args], {
      cwd,
      env: baseEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

export type Server = { child: ChildProcess; output(): string; exited: Promise<number | null> };

/** Starts `bulwark start` and resolves once it has printed its first-start notice (or exited). */
export async function startServer(env: Record<string, string>, cwd: string): Promise<Server> {
  const child = spawn(process.execPath, ["--import", TSX, MAIN, "start"], {
    cwd,
    env: baseEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  await new Promise<void>((resolve) => {
    const look = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Bulwark is running at")) resolve();
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", look);
    void exited.then(() => resolve());
  });
  return { child, output: () => output, exited };
}
