// The messages module's refusals, one table: each maps onto a stable code of docs/errors.md.
import { errors } from "../../core/errors.js";

export const messageErrors = {
  /** Absent, or a conversation the caller is not a member of: the same answer, so membership does not leak. */
  conversation: () => errors.notFound("no such conversation"),
  message: () => errors.notFound("no such message"),
  user: () => errors.notFound("no such user"),
  /** A block between the two users: no new direct conversation or message. */
  blocked: () => errors.forbidden("you cannot message this user"),
  notOwner: () => errors.forbidden("only the conversation's creator may remove other members"),
  direct: () => errors.invalid("a direct conversation has exactly two members and cannot change them"),
  body: (why: string) => errors.invalid(`body: ${why}`, [{ path: "/body", message: why }]),
};
