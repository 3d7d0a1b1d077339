// `bulwark sessions revoke --all | --user NAME`: the incident command; running instances stop
// accepting the revoked sessions' tokens on their next request (through Redis when configured).
import { parseArgs } from "node:util";
import type { Config } from "../config/types.js";
import type { Output } from "./output.js";
import { withServices } from "./services.js";

const HELP = `Usage:
  bulwark sessions revoke --all          end every session of every user
  bulwark sessions revoke --user NAME    end every session of one user

Access and refresh tokens of the ended sessions stop working on the next request, on every
instance that shares this database and Redis. Users sign in again. Audited.`;

/** Runs `bulwark sessions <sub>`; returns the exit code. */
export async function sessionsCommand(
  argv: string[],
  out: Output,
  loadConfig: () => Config | undefined,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { all: { type: "boolean" }, user: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help || positionals.length === 0) return out.help(HELP);
  if (
    positionals[0] !== "revoke" ||
    positionals.length !== 1 ||
    (values.all === true) === (values.user !== undefined)
  ) {
    out.error("usage: bulwark sessions revoke --all | --user NAME");
    return 2;
  }
  const config = loadConfig();
  if (!config) return 1;
  return withServices(config, async ({ accounts, sessions }) => {
    let count: number;
    if (values.all) {
      count = await sessions.revokeAll();
    } else {
      const user = await accounts.byUsername(values.user!);
      if (!user) {
        out.error(`no user named ${values.user}`);
        return 1;
      }
      count = await sessions.revokeUser(user.id, "operator", { userId: null });
    }
    out.line(`revoked ${count} session${count === 1 ? "" : "s"}`);
    return 0;
  });
}
