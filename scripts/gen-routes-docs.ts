// Builds docs/routes.md from the running route registry: every route with its declared
// protections, and every audit event type with the module that declares it. `npm run docs:routes`
// writes the file; test/docs.test.ts fails when the committed file differs from what this renders.
import { writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { RouteRecord } from "../src/app.js";
import { MODULES } from "../src/modules/index.js";
import type { AuditEventSpec } from "../src/modules/audit/index.js";
import { CORE_EVENTS } from "../src/modules/audit/index.js";
import { withThrowawayApp } from "./throwaway-app.js";

export const ROUTES_DOCS_PATH = fileURLToPath(new URL("../docs/routes.md", import.meta.url));

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
const code = (text: string) => `\`${cell(text)}\``;

/** How a route's `auth` reads in the table. */
function authCell(auth: unknown): string {
  if (typeof auth === "string") return auth;
  const a = auth as { apiKey?: string; user?: boolean; token?: string };
  if (a.token) return `${a.token.toUpperCase()}_TOKEN`;
  return `API key \`${a.apiKey}\`${a.user ? " or user" : ""}`;
}

/** The markdown of docs/routes.md for a list of routes (as registered) and the audit vocabulary by module. */
export function renderRoutesDocs(
  routes: readonly RouteRecord[],
  events: readonly { module: string; type: string; spec: AuditEventSpec }[],
): string {
  const rows = [...routes]
    .sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method))
    .map(
      (r) =>
        `| ${r.method} | ${code(r.url)} | ${authCell(r.auth)} | ${r.rateLimit === false ? "none" : cell(String(r.rateLimit))} | ${r.audit ? code(r.audit) : "—"} | ${r.body === "none" ? "—" : r.body} | ${r.response ? "yes" : "—"} |`,
    );
  const eventRows = events.map(
    ({ module, type, spec }) =>
      `| ${code(type)} | ${module} | ${spec.webhook ? `${code(spec.webhook.event)} (${spec.webhook.results.join(", ")})` : "—"} | ${cell(spec.description)} |`,
  );
  return `# Routes

<!-- Generated from the route registry by \`npm run docs:routes\`. Do not edit by hand:
     test/docs.test.ts fails when this file and the registered routes disagree. -->

Every route Bulwark registers, with what it declares about its protections. A route must declare
\`auth\` and \`rateLimit\` (a route that does not is refused when it is registered), may name an
audit event type (refused calls are recorded under it; successes are recorded by the service in
the transaction of the change), and every state-changing route has a closed body schema (the
empty object when it takes no body). Inbound webhooks take raw bytes authenticated by their
signature instead (\`raw\`); gateway mode's routes, which come from its rules file and are not
listed here, stream theirs to the upstream (\`proxied\`, see [gateway.md](gateway.md)). A body schema that accepts unknown fields must be declared
\`openBody: true\` and shows as \`open\` here; there are none. See [architecture.md](architecture.md) for the module contract.

- **auth**: \`public\` (anyone), \`optional\` (anyone, but credentials sent must be good),
  \`user\` (a signed-in user; API keys are refused), \`admin\`, an API key scope (\`or user\`:
  signed-in users pass too), or an operator token (\`METRICS_TOKEN\`).
- **rate limit**: the class counted on top of the global per-minute and per-hour budgets
  (\`default\` is the global budget alone); \`none\` for health checks and metrics, which also
  resolve no credentials.

| method | path | auth | rate limit | audit event | body | response schema |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

## Audit event types

The vocabulary: every type the audit log can hold, declared by the module that records it. The
audit service refuses any other type. Types with a webhook become signed outbound security events
(see [webhooks.md](webhooks.md)) for the results listed.

| event type | module | outbound webhook | meaning |
| --- | --- | --- | --- |
${eventRows.join("\n")}
`;
}

/** Builds the app on throwaway settings and renders its routes. */
export async function currentRoutesDocs(): Promise<string> {
  const events = [
    ...Object.entries(CORE_EVENTS).map(([type, spec]) => ({ module: "core", type, spec: spec as AuditEventSpec })),
    ...MODULES.flatMap((m) =>
      Object.entries(m.auditEvents ?? {}).map(([type, spec]) => ({ module: m.name, type, spec })),
    ),
  ];
  return withThrowawayApp((app) => renderRoutesDocs(app.bulwark.routes(), events));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  writeFileSync(ROUTES_DOCS_PATH, await currentRoutesDocs());
  console.log(`wrote ${ROUTES_DOCS_PATH}`);
}
