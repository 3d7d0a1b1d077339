// GATEWAY_IDENTITY=jwt: the upstream gets a 60-second token signed with Bulwark's keys, verifiable
// through the JWKS. Attack: that token replayed to Bulwark as an access token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { bearer, signedIn } from "../../../test/identity.js";
import { startGateway, startUpstream, type Upstream } from "../../../test/gateway.js";
import type { TestApp } from "../../../test/harness.js";

let upstream: Upstream;
let t: TestApp & { base: string; secret: string };
before(async () => {
  upstream = await startUpstream();
  t = await startGateway(upstream, { env: { GATEWAY_IDENTITY: "jwt" } });
});
after(async () => {
  await t.close();
  await upstream.close();
});

test("the upstream receives a short EdDSA token verifiable with the JWKS, bound to the request", async () => {
  const user = await signedIn(t.app);
  const res = await fetch(`${t.base}/app/orders?x=1`, {
    headers: { ...bearer(user.access), "x-bulwark-identity": "forged" },
  });
  assert.equal(res.status, 200);
  const h = upstream.seen.at(-1)!.headers;
  assert.equal(h["x-bulwark-signature"], undefined);
  const jwks = (await (await fetch(`${t.base}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  const { payload, protectedHeader } = await jwtVerify(h["x-bulwark-identity"] as string, createLocalJWKSet(jwks), {
    algorithms: ["EdDSA"],
    typ: "bulwark-identity+jwt",
    issuer: t.config.publicUrl,
    audience: `${t.config.publicUrl}/gateway`,
    currentDate: new Date(t.clock.now()),
  });
  assert.equal(protectedHeader.alg, "EdDSA");
  assert.equal(payload.sub, user.userId);
  assert.equal(payload.role, "user");
  assert.equal(payload.htm, "GET");
  assert.equal(payload.htu, "/app/orders?x=1");
  assert.equal(payload.exp! - payload.iat!, 60);
});

test("the identity token is refused as an access token by Bulwark", async () => {
  const user = await signedIn(t.app);
  await fetch(`${t.base}/app/x`, { headers: bearer(user.access) });
  const token = upstream.seen.at(-1)!.headers["x-bulwark-identity"] as string;
  const res = await t.app.inject({ method: "GET", url: "/api/users/me", headers: bearer(token) });
  assert.equal(res.statusCode, 401);
});
