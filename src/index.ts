// The library surface: `import { createApp, loadConfig } from "bulwark"`.
export { createApp, type AppDeps, type Bulwark } from "./app.js";
export { loadConfig, readEnv, ConfigError, type Config } from "./config/index.js";
export { AppError, errors, type ErrorCode } from "./core/errors.js";
export { createFakeClock, systemClock, type Clock } from "./core/clock.js";
export type { Principal, AuthResolver, AuthRequirement, RateLimitClass } from "./http/types.js";
export { defineModule, type Kernel, type Module, type Services, type Use } from "./modules/module.js";
export type { AuditEventSpec, AuditEventTypes, AuditVocabulary } from "./modules/audit/index.js";
export { Type } from "typebox";
export type {
  OutboundEvent,
  WebhookContext,
  WebhookEvent,
  WebhookHandler,
  WebhookService,
} from "./modules/webhooks/index.js";
