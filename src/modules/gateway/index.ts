// Gateway mode's public surface: with `UPSTREAM_URL` and a rules file, requests to an existing
// backend pass Bulwark's pipeline first, and the backend receives an identity it can trust
// (signed headers or a short internal JWT). docs/gateway.md is the operator's guide.
import { defineModule } from "../module.js";
import { gatewayRoutes } from "./routes.js";
import { createGatewayService, type GatewayService } from "./service.js";

export {
  IDENTITY_HEADERS,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  IDENTITY_TOKEN_HEADER,
  IDENTITY_TOKEN_TYP,
  signIdentity,
  signatureBase,
} from "./identity.js";
export { parseRules, loadRules, RulesError, type ResolvedRule } from "./rules.js";
export type { GatewayService } from "./service.js";

declare module "../module.js" {
  interface Services {
    /** Undefined without `UPSTREAM_URL`: Bulwark serves only its own routes. */
    gateway: GatewayService | undefined;
  }
}

/** The gateway: rules validated at start, proxied routes behind every protection, the upstream in `/ready`. */
export const gatewayModule = defineModule({
  name: "gateway",
  needs: ["tokens", "sessions", "accounts"],
  create: ({ config, clock, metrics }, use) =>
    config.gateway
      ? createGatewayService({
          config: config.gateway,
          maxBodyBytes: config.maxBodyBytes,
          clock,
          metrics,
          tokens: use("tokens"),
          publicUrl: config.publicUrl,
        })
      : undefined,
  routes: async (app, gateway, use, { audit, config, counters }) => {
    if (gateway)
      await gatewayRoutes(app, gateway, {
        audit,
        sessions: use("sessions"),
        accounts: use("accounts"),
        config,
        counters,
      });
  },
  ready: async (gateway): Promise<Record<string, "ok" | "down">> => (gateway ? { upstream: await gateway.ping() } : {}),
});
