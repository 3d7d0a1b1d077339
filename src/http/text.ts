// Shared TypeBox string schemas for request input: free text without control characters, secrets
// without control bytes, and dates within a sane range. Every string a route takes uses one of
// these or a stricter pattern of its own (test/input.control-characters.test.ts checks each).
import { Type, type TString } from "typebox";

/**
 * No character of Unicode category C: controls (NUL, CR, LF, ESC…), format characters (bidi
 * overrides, zero-width), surrogates, private use, unassigned. A NUL makes PostgreSQL refuse the
 * text (a 500 were it not refused here); CR/LF forge log and mail lines; bidi overrides disguise
 * names. Ajv compiles patterns with the `u` flag, so `\p{…}` classes work.
 */
const NO_CONTROL = "^[^\\p{C}]*$";
/**
 * Text a person writes in several lines (a message body): the same, except for the line breaks
 * and tabs they type — LF, CRLF and TAB. A lone CR (which returns a terminal's cursor over what
 * was written), NUL and every other control or format character stay refused.
 */
export const MULTILINE_PATTERN = "^(?:[^\\p{C}]|\\t|\\n|\\r\\n)*$";
/** Passwords and tokens: no control characters or lone surrogates, but format characters stay allowed (an emoji's zero-width joiner). */
const NO_CONTROL_BYTES = "^[^\\p{Cc}\\p{Cs}]*$";

type Bounds = { minLength?: number; maxLength: number };

/** Free text of at most `maxLength` characters, none of them a control or format character. */
export function Text(bounds: Bounds): TString {
  return Type.String({ ...bounds, pattern: NO_CONTROL });
}

/** Free text of at most `maxLength` characters over several lines: LF, CRLF and TAB allowed, no other control or format character. */
export function MultilineText(bounds: Bounds): TString {
  return Type.String({ ...bounds, pattern: MULTILINE_PATTERN });
}

/** A password or other secret typed by a person: any printable character, no control characters. */
export function SecretText(bounds: Bounds): TString {
  return Type.String({ ...bounds, pattern: NO_CONTROL_BYTES });
}

/** An RFC 3339 date-time in the years 1970 to 2199: year 0 or 9999 is no date anyone means, and year 0 makes PostgreSQL fail. */
export function DateTime(): TString {
  return Type.String({ format: "date-time", pattern: "^(19[7-9][0-9]|2[01][0-9]{2})-" });
}

/** A calendar date (`YYYY-MM-DD`) in the years 1900 to 2099, such as a birth date. */
export function CalendarDate(): TString {
  return Type.String({ format: "date", pattern: "^(19|20)[0-9]{2}-" });
}
