// Schemas every module's routes share.
import { Type } from "typebox";

/** The body of a state-changing route that takes none: no body, or `{}`, and nothing else. */
export const NoBody = Type.Object({}, { additionalProperties: false });
