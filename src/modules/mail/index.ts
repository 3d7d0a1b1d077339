// The mail module's public surface: the mailer other services are given, and the templates.
export { createMailer, requiresStartTls, type Mailer, type MailerOptions, type OutgoingMail } from "./mailer.js";
export { escapeHtml, renderMail, type MailTemplate, type MailTemplateType, type RenderedMail } from "./templates.js";

/** A mailer that drops every mail: for code paths built without one (never the server). */
export const nullMailer = {
  send: () => undefined,
  idle: async () => undefined,
  close: async () => undefined,
};
export { createMailRenderer, TEMPLATE_VARIABLES } from "./overrides.js";
export { allowedRedirect, linkBase, pageLink, PAGES, type Page } from "./links.js";
