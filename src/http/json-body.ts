// The JSON body parser: Fastify's own (which refuses `__proto__` and `constructor.prototype` keys)
// behind a cheap depth scan, so deeply nested JSON is refused before anything recursive walks it.
import type { FastifyInstance } from "fastify";
import { AppError } from "../core/errors.js";

/** Deepest nesting of arrays and objects a request body may have; API bodies use three or four. */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether `text` nests arrays or objects deeper than `max`, counting brackets outside strings.
 * One pass over the characters, stopping at the first level too deep: JSON.parse copes with a
 * 100k-deep array, but the validator, the serializer, a handler or a logger walking the value
 * recursively would not, and no API body needs such depth.
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Replaces the application/json parser of `app` with the depth-capped one. */
export function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    // parseAs "string" hands a string; the Buffer case exists only in the type.
    const text = typeof body === "string" ? body : body.toString("utf8");
    // `fetch(url, { method: "POST", headers: { "Content-Type": "application/json" } })` sends no
    // body: treat it as no body (as without the header), so the route's schema decides, not the parser.
    if (text.trim() === "") return done(null, undefined);
    if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
      return done(
        new AppError("invalid_request", `body is nested too deeply (at most ${MAX_JSON_DEPTH} levels)`),
        undefined,
      );
    }
    parse(req, text, done);
  });
}
