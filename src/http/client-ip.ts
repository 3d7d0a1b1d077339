// The key a client is counted under: its IP as Fastify computed it from TRUST_PROXY, with IPv6
// addresses reduced to their /64, since one host usually holds a whole /64.
import { isIPv6 } from "node:net";
import type { TrustProxy } from "../config/load.js";

/**
 * Fastify's `trustProxy` for TRUST_PROXY. A hop count trusts that many addresses from the socket
 * end of X-Forwarded-For; it is only safe when clients cannot reach Bulwark except through those
 * proxies (docs/configuration.md), which is why a list of proxy addresses is preferred.
 */
export function trustProxyOption(
  setting: TrustProxy,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting !== "number") return setting;
  const hops = setting;
  return (_address, hop) => hop < hops;
}

/** The rate-limit identity of an address: IPv4 as is, IPv6 as its /64 prefix. */
export function clientKey(ip: string): string {
  // Most clients are IPv4: a colon test spares them the IPv6 validation regex.
  if (!ip.includes(":") || !isIPv6(ip)) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const [head = "", tail = ""] = ip.toLowerCase().split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = ip.includes("::") ? [...headGroups, ...Array<string>(missing).fill("0"), ...tailGroups] : headGroups;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
