// Builds the typed client's types from the live OpenAPI document: the app is built on throwaway
// settings, its document (generated from the route registry) goes through openapi-typescript, and
// the result is src/client/openapi.ts. `npm run client:generate` writes it; src/client/client.test.ts
// fails when the committed file differs from what this renders, so the client cannot drift.
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeFileSync } from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";
import { withThrowawayApp } from "./throwaway-app.js";

export const CLIENT_TYPES_PATH = fileURLToPath(new URL("../src/client/openapi.ts", import.meta.url));

/** The OpenAPI document of Bulwark's own routes, on default settings. */
export async function currentOpenApiDocument(): Promise<Record<string, unknown>> {
  return withThrowawayApp((app) => structuredClone(app.swagger()) as Record<string, unknown>);
}

/** The TypeScript source of src/client/openapi.ts. */
export async function renderClientTypes(): Promise<string> {
  const ast = await openapiTS((await currentOpenApiDocument()) as never, { alphabetize: true });
  return `// Generated from Bulwark's OpenAPI document by \`npm run client:generate\`. Do not edit by hand:
// src/client/client.test.ts fails when this file and the registered routes disagree.
/* eslint-disable */
${astToString(ast)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  writeFileSync(CLIENT_TYPES_PATH, await renderClientTypes());
  console.log(`wrote ${CLIENT_TYPES_PATH}`);
}
