// `bulwark users promote|demote NAME`, `users disable|enable|reset-mfa|verify-email NAME` and `bulwark users import FILE`.
import { parseArgs } from "node:util";
import type { Config } from "../config/types.js";
import type { Output } from "./output.js";
import { withServices } from "./services.js";
import { importCommand, type ProgressStream } from "./users-import.js";

const HELP = `Usage:
  bulwark users promote NAME     give the user NAME the admin role (audited)
  bulwark users demote NAME      take the admin role from NAME (audited; never the last admin's);
                                 their API keys with the admin scope are revoked
  bulwark users disable NAME     lock the user out: every session ends at once, login is refused
  bulwark users enable NAME      let a disabled user sign in again
  bulwark users reset-mfa NAME   turn two-factor off for a user who lost the device and the
                                 recovery codes (check who they are first); ends their sessions
  bulwark users verify-email NAME
                                 mark the user's current address as proven (check it out of band
                                 first); never changes the role: an admin address still needs
                                 users promote, or the link confirmed in the account's session
  bulwark users import FILE      import accounts with their password hashes from a CSV or JSON export
                                 (fastapi-users, Supabase, Better Auth, username,email,password_hash);
                                 see "bulwark users import --help"`;

/** Runs `bulwark users <sub>`; returns the exit code. */
export async function usersCommand(
  argv: string[],
  out: Output,
  loadConfig: () => Config | undefined,
  progress?: ProgressStream,
): Promise<number> {
  if (argv[0] === "import") return importCommand(argv.slice(1), out, loadConfig, progress);
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  const [sub, target] = positionals;
  if (values.help || sub === undefined) return out.help(HELP);
  if (
    !["promote", "demote", "disable", "enable", "reset-mfa", "verify-email"].includes(sub) ||
    !target ||
    positionals.length !== 2
  ) {
    out.error(
      `usage: bulwark users promote|demote|disable|enable|reset-mfa|verify-email NAME | bulwark users import FILE`,
    );
    return 2;
  }
  const config = loadConfig();
  if (!config) return 1;
  return withServices(config, async ({ accounts, mfa }) => {
    if (sub === "promote") {
      const user = await accounts.promote(target, { userId: null });
      out.line(`${user.username} is now an admin`);
      return 0;
    }
    if (sub === "demote" || sub === "disable" || sub === "enable" || sub === "reset-mfa" || sub === "verify-email") {
      const user = await accounts.byUsername(target);
      if (!user) {
        out.error(`no user named ${target}`);
        return 1;
      }
      if (sub === "demote") {
        await accounts.setRole(user.id, "user", { userId: null });
        out.line(`${user.username} is no longer an admin; API keys with the admin scope are revoked`);
        return 0;
      }
      if (sub === "verify-email") {
        await accounts.markEmailVerified(user.id, { via: "cli" });
        out.line(`${user.username}'s address ${user.email} is verified`);
        return 0;
      }
      if (sub === "reset-mfa") {
        const ended = await mfa.reset(user.id, { via: "cli" });
        if (ended === undefined) {
          out.error(`${user.username} does not have two-factor on`);
          return 1;
        }
        out.line(`two-factor is off for ${user.username}; ${ended} session(s) ended; they were told by mail`);
        return 0;
      }
      await accounts.setDisabled(user.id, sub === "disable", { userId: null });
      out.line(
        sub === "disable"
          ? `${user.username} is disabled: sessions ended, login refused`
          : `${user.username} is enabled`,
      );
      return 0;
    }
    return 2;
  });
}
