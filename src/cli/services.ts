// Commands build the same runtime the server runs (never HTTP, no Fastify, no timers) against the
// configured database, and close it afterwards.
import { ConfigError, loadConfig, secretValues, type Config } from "../config/load.js";
import { createLogger } from "../core/logger.js";
import { createRuntime, type Created } from "../kernel.js";
import type { Kernel, Services } from "../modules/module.js";
import type { Write } from "./common.js";
import { explainConfigError } from "./output.js";

/** The kernel, every module's service, and the modules themselves (for cross-cutting commands). */
export type CliServices = Kernel & Readonly<Services> & { readonly modules: readonly Created[] };

/** Inside a running server, the services commands over its admin channel use (set by admin-channel.ts). */
let serving: CliServices | undefined;

/** Makes commands run in this process use these services (the server's own) instead of opening the database. */
export function serveCommandsFrom(services: CliServices | undefined): void {
  serving = services;
}

/** Runs `work` with the services of the runtime the server runs (the server's own, over its admin channel). */
export async function withServices<T>(config: Config, work: (services: CliServices) => Promise<T>): Promise<T> {
  if (serving) return work(serving);
  const runtime = await createRuntime(config, {
    logger: createLogger({ level: "warn", secrets: secretValues(config) }),
    background: false,
    serving: false,
  });
  try {
    return await work({ ...runtime.kernel, ...runtime.services, modules: runtime.created });
  } finally {
    await runtime.close();
  }
}

/** Loads the configuration (reporting what is wrong with it, exit code 1) and runs `work` with the services. */
export async function withConfiguredServices(
  err: Write,
  work: (services: CliServices) => Promise<number>,
): Promise<number> {
  if (serving) return work(serving);
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err("the configuration is not usable");
    explainConfigError(error, err);
    return 1;
  }
  return withServices(config, work);
}
