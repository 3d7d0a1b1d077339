// Route schemas compile when their route first needs them, not while the app starts: compiling the
// validators (Ajv) and response serializers (fast-json-stringify) of every route took about 250 ms
// of a 1.1 s warm restart (bench/results/2026-12-01.md). Once the server listens, the rest
// compile in the background, one per turn of the event loop, so the first request to a route finds
// its code ready and a schema that does not compile is reported (logged) seconds after the start.
import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";

export type DeferredCompiles = {
  /**
   * `compile()` runs at the first call of the function returned, or in `compileRemaining`. One
   * argument: Fastify calls validators and serializers with the value alone.
   */
  defer<A, R>(compile: () => (arg: A) => R): (arg: A) => R;
  /** Compiles every deferred function not compiled yet, yielding between them; returns every compile that failed so far. */
  compileRemaining(): Promise<Error[]>;
};

export function deferredCompiles(): DeferredCompiles {
  const pending = new Set<() => unknown>();
  const failed: Error[] = [];
  return {
    defer(compile) {
      let compiled: ReturnType<typeof compile> | undefined;
      const force = () => {
        if (compiled) return compiled;
        const first = pending.delete(force);
        try {
          compiled = compile();
        } catch (error) {
          // Every call fails as the first did (a request answers 500, its handler never runs).
          if (first) failed.push(error instanceof Error ? error : new Error(String(error)));
          throw error;
        }
        return compiled;
      };
      pending.add(force);
      return (arg) => (compiled ?? force())(arg);
    },
    async compileRemaining() {
      for (const force of [...pending]) {
        await new Promise((resolve) => setImmediate(resolve));
        try {
          force();
        } catch {
          // Recorded in `failed`.
        }
      }
      return [...failed];
    },
  };
}

type SerializerFactory = ReturnType<typeof SerializerSelector>;

/** Fastify's own serializer factory (fast-json-stringify), each route's serializer deferred. */
export function deferredSerializers(deferred: DeferredCompiles): SerializerFactory {
  const build = SerializerSelector();
  return (externalSchemas, options) => {
    const compiler = build(externalSchemas, options);
    return (route) => deferred.defer(() => compiler(route));
  };
}
