// The SSRF guard of outbound webhooks. An admin-supplied URL must not make Bulwark call its own
// loopback services, the private network, or a cloud metadata endpoint. The check runs at delivery
// time, after DNS resolution, and the connection goes to the very address that was checked (a
// custom `lookup`), so a DNS answer that changes between check and connect (rebinding) cannot win.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";

const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  blocked.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  // unspecified, loopback, discard, documentation, unique-local (fd00:ec2::254, the AWS metadata
  // address over IPv6, is in fc00::/7), link-local, site-local (deprecated), multicast
  ["::", 128],
  ["::1", 128],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const)
  blocked.addSubnet(net, prefix, "ipv6");

/** The IPv4 address embedded in an IPv4-mapped, -compatible or NAT64 IPv6 address, if any. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const hi = parseInt(hex[1]!, 16);
  const lo = parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Whether an IP address is loopback, private, link-local, CGNAT, unique-local, metadata or otherwise not public. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, "ipv4");
  if (family === 6) {
    // ::ffff:127.0.0.1 reaches 127.0.0.1: judge the IPv4 address it carries.
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return isIP(v4) !== 4 || blocked.check(v4, "ipv4");
    return blocked.check(address, "ipv6");
  }
  // Not an address at all: refuse rather than guess.
  return true;
}

/** Raised when a target resolves to an address the guard refuses. */
export class BlockedTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BlockedTargetError";
  }
}

/** Resolves a name to every address it has (dns.lookup with `all: true`); tests pass their own. */
export type ResolveAll = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * A `lookup` for http.request: resolves the name, refuses the connection when any answer is not a
 * public address (unless private targets are allowed), and hands back the address it checked.
 */
export function guardedLookup(allowPrivate: boolean, resolveAll: ResolveAll = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolveAll(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 0);
      // Every answer is checked, not only the first: a host that also resolves to 10.0.0.1 is refused.
      const bad = addresses.find((a) => isPrivateAddress(a.address));
      if (!allowPrivate && bad)
        return callback(new BlockedTargetError(`target ${hostname} resolves to a non-public address`), "", 0);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "", 0);
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, first.address, first.family);
    });
  };
}

/** The host of a URL as an IP literal (brackets removed), or undefined for a name. */
export function literalAddress(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return isIP(host) ? host : undefined;
}
