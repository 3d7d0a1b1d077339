// The messages routes: each shows its schema, who may call it, its rate-limit class and audit event.
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { NoBody } from "../../http/schemas.js";
import { requestActor } from "../audit/index.js";
import {
  AddMemberBody,
  ConversationPage,
  ConversationParams,
  ConversationReply,
  CreateConversationBody,
  HistoryQuery,
  MemberParams,
  MessageBody,
  MessagePage,
  MessageParams,
  MessageReply,
  PageQuery,
  UserParams,
} from "./schema.js";
import type { MessagesService } from "./service.js";

/** Registers the conversation, message and block routes. */
export async function messageRoutes(app: FastifyInstance, messages: MessagesService): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/api/conversations",
    {
      schema: { body: CreateConversationBody, response: { 200: ConversationReply, 201: ConversationReply } },
      config: { auth: "user", rateLimit: "default", audit: "conversation.create" },
    },
    async (req, reply) => {
      const { conversation, created } = await messages.createConversation(
        req.principal!.userId,
        req.body,
        requestActor(req),
      );
      return reply.code(created ? 201 : 200).send({ conversation });
    },
  );

  r.get(
    "/api/conversations",
    {
      schema: { querystring: PageQuery, response: { 200: ConversationPage } },
      config: { auth: "user", rateLimit: "default" },
    },
    async (req) => messages.listConversations(req.principal!.userId, req.query.cursor, req.query.limit ?? 50),
  );

  r.post(
    "/api/conversations/:id/members",
    {
      schema: { params: ConversationParams, body: AddMemberBody, response: { 200: ConversationReply } },
      config: { auth: "user", rateLimit: "default", audit: "conversation.member_add" },
    },
    async (req) => ({
      conversation: await messages.addMember(req.principal!.userId, req.params.id, req.body.user_id, requestActor(req)),
    }),
  );

  r.delete(
    "/api/conversations/:id/members/:user_id",
    {
      schema: { params: MemberParams, body: NoBody },
      config: { auth: "user", rateLimit: "default", audit: "conversation.member_remove" },
    },
    async (req, reply) => {
      await messages.removeMember(req.principal!.userId, req.params.id, req.params.user_id, requestActor(req));
      return reply.code(204).send();
    },
  );

  r.post(
    "/api/conversations/:id/messages",
    {
      schema: { params: ConversationParams, body: MessageBody, response: { 201: MessageReply } },
      config: { auth: "user", rateLimit: "default" },
    },
    async (req, reply) =>
      reply.code(201).send({ message: await messages.send(req.principal!.userId, req.params.id, req.body.body) }),
  );

  r.get(
    "/api/conversations/:id/messages",
    {
      schema: { params: ConversationParams, querystring: HistoryQuery, response: { 200: MessagePage } },
      config: { auth: "user", rateLimit: "default" },
    },
    async (req) => messages.history(req.principal!.userId, req.params.id, req.query.before, req.query.limit ?? 50),
  );

  r.patch(
    "/api/conversations/:id/messages/:message_id",
    {
      schema: { params: MessageParams, body: MessageBody, response: { 200: MessageReply } },
      config: { auth: "user", rateLimit: "default", audit: "message.edit" },
    },
    async (req) => ({
      message: await messages.edit(
        req.principal!.userId,
        req.params.id,
        req.params.message_id,
        req.body.body,
        requestActor(req),
      ),
    }),
  );

  r.delete(
    "/api/conversations/:id/messages/:message_id",
    {
      schema: { params: MessageParams, body: NoBody },
      config: { auth: "user", rateLimit: "default", audit: "message.delete" },
    },
    async (req, reply) => {
      await messages.remove(req.principal!.userId, req.params.id, req.params.message_id, requestActor(req));
      return reply.code(204).send();
    },
  );

  r.post(
    "/api/users/:id/block",
    {
      schema: { params: UserParams, body: NoBody },
      config: { auth: "user", rateLimit: "default", audit: "user.block" },
    },
    async (req, reply) => {
      await messages.block(req.principal!.userId, req.params.id, requestActor(req));
      return reply.code(204).send();
    },
  );

  r.delete(
    "/api/users/:id/block",
    {
      schema: { params: UserParams, body: NoBody },
      config: { auth: "user", rateLimit: "default", audit: "user.unblock" },
    },
    async (req, reply) => {
      await messages.unblock(req.principal!.userId, req.params.id, requestActor(req));
      return reply.code(204).send();
    },
  );
}
