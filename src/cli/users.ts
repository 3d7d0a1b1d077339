// `bulwark users promote|demote NAME`, `users disable|enable|reset-mfa|verify-email NAME` and `bulwark users import FILE`.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Config } from "../config/types.js";
import type { Output } from "./output.js";
import { withServices } from "./services.js";

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
  bulwark users import FILE      import users from a CSV of username,email,password_hash

The CSV may start with a header line. Hashes may be bcrypt ($2a$, $2b$, $2y$, as Python's bcrypt
and passlib write them) or Argon2 PHC strings; each is re-hashed to Argon2id at the user's next
successful login. Rows whose username or email is taken, or whose fields are invalid, are skipped
and listed. Passwords never pass through this command.`;

/** Parses the CSV of `users import`: username, email, then the hash (the rest of the line: Argon2 PHC strings contain commas). */
export function parseUsersCsv(text: string): { username: string; email: string; passwordHash: string }[] {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines[0]?.toLowerCase().replace(/\s/g, "") === "username,email,password_hash") lines.shift();
  return lines.map((line, i) => {
    const first = line.indexOf(",");
    const second = line.indexOf(",", first + 1);
    if (first < 0 || second < 0) throw new Error(`line ${i + 1}: expected username,email,password_hash`);
    return {
      username: line.slice(0, first).trim(),
      email: line.slice(first + 1, second).trim(),
      passwordHash: line.slice(second + 1).trim(),
    };
  });
}

/** Runs `bulwark users <sub>`; returns the exit code. */
export async function usersCommand(argv: string[], out: Output, loadConfig: () => Config | undefined): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  const [sub, target] = positionals;
  if (values.help || sub === undefined) return out.help(HELP);
  if (
    !["promote", "demote", "import", "disable", "enable", "reset-mfa", "verify-email"].includes(sub) ||
    !target ||
    positionals.length !== 2
  ) {
    out.error(
      `usage: bulwark users promote|demote|disable|enable|reset-mfa|verify-email NAME | bulwark users import FILE`,
    );
    return 2;
  }
  const rows = sub === "import" ? parseUsersCsv(readFileSync(target, "utf8")) : [];
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
    const result = await accounts.importUsers(rows);
    out.line(`imported ${result.imported} of ${rows.length} users`);
    for (const skip of result.skipped) out.line(`skipped ${skip.username}: ${skip.reason}`);
    return result.skipped.length > 0 ? 1 : 0;
  });
}
