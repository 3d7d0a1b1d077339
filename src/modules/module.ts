// The module contract. Each capability exports one value that says everything the rest of the
// system needs to know about it: its name, the modules it uses, how its service is built, its
// routes, credential resolvers, encrypted columns, audit vocabulary, what it does when a user's
// credentials are revoked, and its background work. `app.ts` walks a list of these values; the
// CLI, the key rotation, the route table and the docs read the same list, so nothing is forgotten.
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/types.js";
import type { Clock } from "../core/clock.js";
import type { Keyring } from "../core/crypto/keyring.js";
import type { PasswordHasher } from "../core/crypto/password.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "../core/metrics.js";
import type { AuthResolver } from "../http/types.js";
import type { Counters } from "../store/counters.js";
import type { Database, Executor, Store } from "../store/db.js";
import type { PubSub } from "../store/pubsub.js";
import type { EncryptedColumn } from "../store/reencrypt.js";
import type { AuditService, AuditVocabulary } from "./audit/index.js";
import type { Mailer } from "./mail/index.js";

/** Every module's service by module name; each module adds itself (`declare module "../module.js"`). */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Services {}

export type ModuleName = keyof Services;

/** Revokes a user's credentials of one kind inside a transaction; returns how many and how to tell every instance. */
export type Revocation = {
  count: number;
  announce(): Promise<void>;
  /** Credentials of this kind the change leaves alive, described for the owner's notice (names, never secrets). */
  kept?: readonly string[];
};

/** Why a user's credentials are being revoked, and which session (the caller's own) survives. */
export type RevokeReason = {
  reason: string;
  exceptSessionId?: string | undefined;
  /** A password reset: when the account first proved its address before this reset (null: never). Two-factor enrolled before it ends. */
  provenAt?: Date | null | undefined;
};

/** Who made a change that revokes credentials, for the audit rows of what it revokes. */
export type RevocationActor = { userId: string | null; ip?: string | null; userAgent?: string | null };

/** The shared ground every module is built on. */
export type Kernel = {
  readonly config: Config;
  readonly store: Store;
  readonly db: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly audit: AuditService;
  readonly pubsub: PubSub;
  readonly counters: Counters;
  readonly keyring: Keyring;
  readonly mailer: Mailer;
  readonly hasher: PasswordHasher;
  /** Revokes credentials across every module that holds some (sessions, API keys, …), inside `tx`. */
  readonly credentials: {
    /** A user was disabled: everything they hold stops working. */
    userDisabled(tx: Executor, userId: string): Promise<Record<string, Revocation>>;
    /** The password changed or was reset: credentials derived from the old one end. */
    revoked(tx: Executor, userId: string, why: RevokeReason): Promise<Record<string, Revocation>>;
    /** The user lost the admin role: credentials that carry admin power end. */
    adminRoleRemoved(tx: Executor, userId: string, actor: RevocationActor): Promise<Record<string, Revocation>>;
  };
  /** The readiness of what modules depend on beyond the database and Redis (the gateway's upstream), by name. */
  readonly readiness: () => Promise<Record<string, "ok" | "down">>;
  /** Whether timers and workers run (the server: yes; a CLI command or a test driving the clock: no). */
  readonly background: boolean;
  /** Whether this runtime answers requests (false in a CLI command: nothing is made just in case, such as a first signing key). */
  readonly serving: boolean;
};

/** Hands out the service of a module this one declared in `needs`. */
export type Use<Needs extends ModuleName> = <M extends Needs>(name: M) => Services[M];

/** A credential resolver (none when the service is off) and where it stands in the order they are tried (lowest first). */
export type ResolverEntry<S> = { order: number; create(service: S): AuthResolver | undefined };

/**
 * One capability. Hooks use method syntax on purpose: a module list holds modules of every name,
 * and each hook sees its own module's service.
 */
export type Module<N extends ModuleName, Needs extends ModuleName = never> = {
  readonly name: N;
  /** Modules whose services `create` may `use`; they are created first. A cycle stops the start. */
  readonly needs: readonly Needs[];
  /** Builds the service; must not start timers or subscriptions (that is `start`). */
  create(kernel: Kernel, use: Use<Needs>): Services[N] | Promise<Services[N]>;
  /** Registers the module's routes; every route declares `auth` and `rateLimit` (checked at registration). */
  routes?(app: FastifyInstance, service: Services[N], use: Use<Needs>, kernel: Kernel): Promise<void>;
  readonly resolver?: ResolverEntry<Services[N]>;
  /** Columns sealed with the keyring: `bulwark keys rotate-encryption` re-encrypts exactly these. */
  readonly encryptedColumns?: readonly EncryptedColumn[];
  /** The audit event types this module records, with how each is sent out. */
  readonly auditEvents?: AuditVocabulary;
  /** Revokes what the user holds of this module's credentials inside `tx`, when the user is disabled. */
  onUserDisabled?(service: Services[N], tx: Executor, userId: string): Promise<Revocation>;
  /** The same when the user's password changed or was reset. */
  onCredentialsRevoked?(
    service: Services[N],
    tx: Executor,
    userId: string,
    why: RevokeReason,
  ): Promise<Revocation | undefined>;
  /** The same when the user lost the admin role: credentials that carry admin power end (`actor` did it). */
  onAdminRoleRemoved?(
    service: Services[N],
    tx: Executor,
    userId: string,
    actor: RevocationActor,
  ): Promise<Revocation | undefined>;
  /** Whether what the module depends on outside Bulwark answers (`/ready` reports it), by check name. */
  ready?(service: Services[N]): Promise<Record<string, "ok" | "down">>;
  /** Deletes what has outlived its use; returns counts by kind. Runs hourly; must be idempotent. */
  prune?(service: Services[N]): Promise<Record<string, number>>;
  /** Subscriptions, caches, timers: runs once every module is created, in module order. */
  start?(service: Services[N], kernel: Kernel): Promise<void> | void;
  /** Ends what `start` began; runs in reverse order when the app closes. */
  stop?(service: Services[N]): Promise<void> | void;
};

/** Any module, as a list holds it. */
export type AnyModule = Module<ModuleName, ModuleName>;

/** Declares a module; the compiler checks that `create` uses only what `needs` names. */
export function defineModule<N extends ModuleName, const Needs extends ModuleName = never>(
  module: Module<N, Needs>,
): Module<N, Needs> {
  return module;
}

/** The modules in an order where each comes after what it needs; throws naming a cycle or a missing module. */
export function orderModules(modules: readonly AnyModule[]): AnyModule[] {
  const byName = new Map(modules.map((m) => [m.name as string, m]));
  if (byName.size !== modules.length) throw new Error("modules: a module name appears twice in the list");
  const ordered: AnyModule[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (module: AnyModule, path: string[]) => {
    const seen = state.get(module.name);
    if (seen === "done") return;
    if (seen === "visiting")
      throw new Error(
        `modules: dependency cycle ${[...path.slice(path.indexOf(module.name)), module.name].join(" -> ")}`,
      );
    state.set(module.name, "visiting");
    for (const need of module.needs) {
      const dependency = byName.get(need);
      if (!dependency) throw new Error(`modules: ${module.name} needs ${need}, which is not in the module list`);
      visit(dependency, [...path, module.name]);
    }
    state.set(module.name, "done");
    ordered.push(module);
  };
  for (const module of modules) visit(module, []);
  return ordered;
}
