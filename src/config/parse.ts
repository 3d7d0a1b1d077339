// Reads every setting of the table from the environment by its parse kind. A value that cannot be
// parsed is a problem (fatal in every environment) and its default stands in for it.
import { isIP } from "node:net";
import { SETTINGS, type Setting, type SettingParse, type SettingValues } from "./settings.js";
import type { Env, Problem, TrustProxy } from "./types.js";

/** The parsed value of every setting of SETTINGS; problems are appended to `problems`. */
export function readSettings(env: Env, production: boolean, problems: Problem[]): SettingValues {
  const values: Record<string, unknown> = {};
  for (const setting of SETTINGS) values[setting.name] = readSetting(setting, env, production, problems);
  // One value per row, each of the type its parse kind names (see Parsed in settings.ts).
  return values as SettingValues;
}

function readSetting(setting: Setting, env: Env, production: boolean, problems: Problem[]): unknown {
  const { name, parse } = setting;
  const raw = env[name];
  const problem = (message: string): void => void problems.push({ setting: name, message });
  switch (parse.type) {
    case "string":
      return raw || parse.default;
    case "int":
      return readInt(raw, parse, problem);
    case "bool":
      return readBool(raw, parse.default, problem);
    case "enum":
      return readEnum(raw, parse.values, parse.default, problem);
    case "list":
      return raw === undefined ? (production ? [] : [...(parse.devDefault ?? [])]) : list(raw);
    case "url":
      if (raw && parse.http && !/^https?:\/\/[^\s]+$/.test(raw)) problem(`"${raw}" is not an http(s) URL`);
      return raw || undefined;
    case "trust-proxy":
      return readTrustProxy(raw, problem);
    case "prefix":
      return byPrefix(name.slice(0, -1), env);
  }
}

/** A comma list, trimmed, without empty entries. */
function list(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function readInt(
  raw: string | undefined,
  parse: Extract<SettingParse, { type: "int" }>,
  problem: (message: string) => void,
): number {
  if (raw === undefined || raw === "") return parse.default;
  const value = Number(raw);
  const max = parse.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isInteger(value) || value < parse.min || value > max) {
    problem(`must be a whole number from ${parse.min} to ${max}, got "${raw}"`);
    return parse.default;
  }
  return value;
}

function readBool(raw: string | undefined, fallback: boolean, problem: (message: string) => void): boolean {
  const value = raw?.toLowerCase();
  if (value === undefined || value === "") return fallback;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  problem(`must be true or false, got "${raw}"`);
  return fallback;
}

function readEnum(
  raw: string | undefined,
  values: readonly string[],
  fallback: string,
  problem: (message: string) => void,
): string {
  if (raw === undefined || raw === "") return fallback;
  if (values.includes(raw)) return raw;
  problem(
    values.length === 2 ? `must be ${values[0]} or ${values[1]}, got "${raw}"` : `must be one of ${values.join(", ")}`,
  );
  return fallback;
}

/** The variables named `prefix…` that are not settings of their own (`PUBLIC_URL` is not a `PUBLIC_*`). */
function byPrefix(prefix: string, env: Env): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(prefix) && value !== undefined && !SETTINGS.some((s) => s.name === name)) found[name] = value;
  }
  return found;
}

function readTrustProxy(raw: string | undefined, problem: (message: string) => void): TrustProxy {
  const value = (raw ?? "").trim();
  if (value === "" || value === "false" || value === "0") return false;
  // `true` trusts every hop, which lets any client forge its IP; refuse it rather than guess.
  if (value === "true") {
    problem(
      "`true` would let any client choose its IP: list your proxies' addresses or CIDRs (e.g. 10.0.0.0/8), or give their number",
    );
    return false;
  }
  if (/^\d+$/.test(value)) return Number(value);
  const entries = list(value);
  const bad = entries.filter((entry) => !isProxyAddress(entry));
  if (bad.length > 0) problem(`not an IP address or CIDR: ${bad.join(", ")}`);
  // A prefix of 0 (`0.0.0.0/0`, `::/0`) covers every address: the same as `true`, so refused the same way.
  const everything = entries.filter((entry) => isProxyAddress(entry) && /\/0+$/.test(entry));
  if (everything.length > 0) {
    problem(
      `${everything.join(", ")} covers every address, which would let any client choose its IP: list your proxies' addresses or CIDRs`,
    );
    return false;
  }
  return entries;
}

/** An IP, a CIDR, or one of proxy-addr's named ranges. */
function isProxyAddress(entry: string): boolean {
  if (["loopback", "linklocal", "uniquelocal"].includes(entry)) return true;
  const [ip = "", prefix] = entry.split("/");
  const version = isIP(ip);
  if (version === 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128));
}
