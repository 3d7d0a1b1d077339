// The module list: every capability Bulwark serves, one line each. The order here is only the
// order of their routes in docs/routes.md; start-up orders them by `needs`.
import { accountsModule } from "./accounts/index.js";
import { apiDocsModule } from "./api-docs/index.js";
import { apiKeysModule } from "./api-keys/index.js";
import { auditModule } from "./audit/index.js";
import { externalModule } from "./external-identity/index.js";
import { filesModule } from "./files/index.js";
import { messagesModule } from "./messages/index.js";
import { introspectionModule } from "./introspection/index.js";
import { gatewayModule } from "./gateway/index.js";
import { mfaModule } from "./mfa/index.js";
import type { AnyModule } from "./module.js";
import { observabilityModule } from "./observability/index.js";
import { pagesModule } from "./pages/index.js";
import { publicConfigModule } from "./public-config/index.js";
import { realtimeModule } from "./realtime/index.js";
import { sessionsModule } from "./sessions/index.js";
import { signInModule } from "./signin/index.js";
import { tokensModule } from "./tokens/index.js";
import { webhooksModule } from "./webhooks/index.js";

export const MODULES: readonly AnyModule[] = [
  observabilityModule,
  publicConfigModule,
  apiDocsModule,
  auditModule,
  tokensModule,
  accountsModule,
  sessionsModule,
  signInModule,
  mfaModule,
  apiKeysModule,
  introspectionModule,
  externalModule,
  webhooksModule,
  filesModule,
  messagesModule,
  realtimeModule,
  pagesModule,
  // Last: its rules are checked against every route registered before it.
  gatewayModule,
];
