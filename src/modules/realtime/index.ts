// The realtime module's public surface: one-time tickets and WebSockets that carry message events,
// fanned out across instances, closed when their session ends. docs/realtime.md describes it.
import { defineModule } from "../module.js";
import { realtimeRoutes } from "./routes.js";
import { createRealtimeService, type RealtimeService } from "./service.js";

export { CLOSE, type RealtimeService } from "./service.js";
export { MAX_FRAME_BYTES } from "./routes.js";
export { TICKET_TTL_SECONDS } from "./tickets.js";

declare module "../module.js" {
  interface Services {
    realtime: RealtimeService;
  }
}

/** Realtime: authenticated WebSockets with limits, fan-out over pub/sub, closed on revocation. */
export const realtimeModule = defineModule({
  name: "realtime",
  needs: ["messages", "sessions", "accounts"],
  create: ({ clock, logger, pubsub, counters, config }, use) => {
    const realtime = createRealtimeService({
      clock,
      logger,
      pubsub,
      counters,
      messages: use("messages"),
      settings: config.realtime,
    });
    // Every session revoked on any instance reaches this listener (sessions' own broadcast).
    use("sessions").onRevoked((ids) => realtime.closeSessions(ids));
    return realtime;
  },
  routes: (app, realtime, use, { config }) =>
    realtimeRoutes(app, {
      realtime,
      sessions: use("sessions"),
      accounts: use("accounts"),
      corsOrigins: config.corsOrigins,
    }),
  // Revoked sessions (logout, revocation, reuse, disabling, password change) reach every instance
  // through the sessions module's broadcast; these hooks also close by user, for credentials that
  // end without a session revocation of their own.
  async onUserDisabled(realtime, _tx, userId) {
    return { count: realtime.count(userId), announce: () => realtime.revokeUser(userId) };
  },
  async onCredentialsRevoked(realtime, _tx, userId, why) {
    return { count: realtime.count(userId), announce: () => realtime.revokeUser(userId, why.exceptSessionId) };
  },
  async start(realtime) {
    await realtime.start();
  },
  stop: (realtime) => realtime.stop(),
});
