// `bulwark api-keys create | revoke | list`: API keys for services and scripts, made by an operator.
// The key is printed once, on its own line, and never again (it is stored only as an HMAC).
import { parseArgs } from "node:util";
import type { Config } from "../config/types.js";
import type { Output } from "./output.js";
import { withServices } from "./services.js";

const HELP = `Usage:
  bulwark api-keys create --user NAME --name N --scopes a,b [--expires DAYS] [--rate-limit PER_MINUTE]
  bulwark api-keys revoke ID
  bulwark api-keys list [--user NAME]

create prints the new key once: store it in your secret manager at once, it cannot be shown again.
--scopes is a comma list (may be empty: --scopes ""); the admin scope needs an admin user.
--rate-limit gives the key its own bucket (requests per minute); without it the key shares its
owner's budget. revoke stops the key on the next request on every instance sharing this database
and Redis. list shows live keys (never a secret). Every create and revoke is audited.`;

/** Runs `bulwark api-keys <sub>`; returns the exit code. */
export async function apiKeysCommand(
  argv: string[],
  out: Output,
  loadConfig: () => Config | undefined,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      user: { type: "string" },
      name: { type: "string" },
      scopes: { type: "string" },
      expires: { type: "string" },
      "rate-limit": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  const [sub, id] = positionals;
  if (values.help || sub === undefined) return out.help(HELP);
  const usage = (message: string) => {
    out.error(`${message} (see "bulwark api-keys --help")`);
    return 2;
  };
  if (sub === "create") {
    if (positionals.length !== 1 || !values.user || !values.name || values.scopes === undefined)
      return usage("create needs --user, --name and --scopes");
    const days = values.expires === undefined ? undefined : Number(values.expires);
    if (days !== undefined && !(Number.isFinite(days) && days > 0 && days <= 3650))
      return usage("--expires is a number of days from 1 to 3650");
    const limit = values["rate-limit"] === undefined ? undefined : Number(values["rate-limit"]);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1_000_000))
      return usage("--rate-limit is a whole number of requests per minute");
    const scopes = values.scopes
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (scopes.some((s) => !/^[a-z][a-z0-9_.:-]{0,63}$/.test(s)))
      return usage("each scope is lower-case letters, digits and _ . : - (such as files:read)");
    if (values.name.length > 100) return usage("--name is at most 100 characters");
    const config = loadConfig();
    if (!config) return 1;
    return withServices(config, async ({ accounts, apiKeys, clock }) => {
      const user = await accounts.byUsername(values.user!);
      if (!user) {
        out.error(`no user named ${values.user}`);
        return 1;
      }
      const created = await apiKeys.create(
        user.id,
        {
          name: values.name!,
          scopes,
          expires_at: days === undefined ? undefined : new Date(clock.now() + days * 86_400_000),
          rate_limit_per_minute: limit,
        },
        { userId: null },
      );
      out.line(
        `created key ${created.id} for ${user.username} (scopes: ${created.scopes.join(",") || "none"}; expires: ${created.expires_at ?? "never"})`,
      );
      out.line("the key, shown this once:");
      out.line(created.key);
      return 0;
    });
  }
  if (sub === "revoke") {
    if (positionals.length !== 2 || !id || !/^[0-9a-f]{32}$/.test(id))
      return usage("revoke needs the key id (32 hex characters, as listed)");
    const config = loadConfig();
    if (!config) return 1;
    return withServices(config, async ({ apiKeys }) => {
      if (!(await apiKeys.revoke(id, { reason: "operator", actor: { userId: null } }))) {
        out.error(`no live key ${id}`);
        return 1;
      }
      out.line(`revoked key ${id}`);
      return 0;
    });
  }
  if (sub === "list") {
    if (positionals.length !== 1) return usage("list takes no arguments besides --user");
    const config = loadConfig();
    if (!config) return 1;
    return withServices(config, async ({ accounts, apiKeys }) => {
      let userId: string | undefined;
      if (values.user) {
        const user = await accounts.byUsername(values.user);
        if (!user) {
          out.error(`no user named ${values.user}`);
          return 1;
        }
        userId = user.id;
      }
      const keys = await apiKeys.list(userId);
      for (const k of keys) {
        out.line(
          `${k.id}  ${k.name}  user=${k.user_id}  scopes=${k.scopes.join(",") || "-"}  created=${k.created_at}  expires=${k.expires_at ?? "never"}  last_used=${k.last_used_at ?? "never"}`,
        );
      }
      out.line(`${keys.length} live key${keys.length === 1 ? "" : "s"}`);
      return 0;
    });
  }
  return usage(`unknown subcommand "${sub}"`);
}
