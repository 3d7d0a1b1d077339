// Builds docs/configuration.md from the settings table (src/config/settings.ts). `npm run docs:config`
// writes the file; test/docs.test.ts fails when the committed file differs from what this renders.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { documentedDefault, SETTINGS, type Setting } from "../src/config/settings.js";

/** Where the rendered markdown is written, relative to this script. */
export const CONFIG_DOCS_PATH = fileURLToPath(new URL("../docs/configuration.md", import.meta.url));

/** Text safe inside a markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** Defaults that are literal values go in code spans; prose defaults ("none: …", "dev: …", "empty") stay prose. */
function defaultCell(setting: Setting): string {
  const value = documentedDefault(setting);
  if (value.includes("`") || /^(none|dev:|empty$)/.test(value)) return cell(value);
  return `\`${cell(value)}\``;
}

function settingsTable(): string {
  const rows = SETTINGS.map(
    (s) =>
      `| \`${s.name}\` | ${s.kind} | ${defaultCell(s)} | ${s.production ? cell(s.production) : "—"} | ${cell(s.description)} |`,
  );
  return ["| name | kind | default | production rule | description |", "| --- | --- | --- | --- | --- |", ...rows].join(
    "\n",
  );
}

const INTRO = `# Configuration

<!-- Generated from src/config/settings.ts by \`npm run docs:config\`. Do not edit by hand:
     test/docs.test.ts fails when this file and the settings table disagree. -->

Bulwark is configured by environment variables. Every setting has a safe default for
development; \`NODE_ENV=production\` turns every configuration warning into a refusal to start.

## How settings are read

- Settings come from the process environment and from a \`.env\` file in the working directory
  (the directory \`bulwark\` is started from). When a name is in both, **the environment wins**.
  A missing \`.env\` is not an error.
- The configuration is read and validated once, at start, and then frozen. Changing a setting
  means restarting the process.
- An empty value counts as unset and the default applies, except for \`CORS_ORIGINS\`: set but
  empty, it allows no browser origin at all.
- A value that cannot be parsed stops the start in every environment, development included,
  with a message naming the setting and what it accepts: a number that is not a whole number or
  is outside its range (\`PORT\` 0–65535, rate limits at least 1, \`MAX_BODY_BYTES\`
  1024–1073741824, …), a switch other than \`true\`/\`false\`/\`1\`/\`0\`, a \`LOG_LEVEL\` other than
  \`fatal\`, \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\` or \`silent\`, and \`TRUST_PROXY=true\`.
- \`PUBLIC_URL\` loses any trailing \`/\`. Its default is \`http://HOST:PORT\`: set it whenever
  clients reach Bulwark at another address (a proxy, TLS in front).
- Settings marked **secret** are never sent to browsers and never written to the log by
  Bulwark; as a second line of defence the logger also removes from every log line the value of
  every secret setting (of \`ENCRYPTION_KEYS\` the whole spec and each key, of a list each entry)
  and the passwords inside the URL-valued ones. Only \`PUBLIC_*\`
  settings (other than \`PUBLIC_URL\`) reach browsers, through \`GET /env.js\` and
  \`GET /api/config/public\`.

What uses which secret: \`METRICS_TOKEN\` guards \`GET /metrics\`. \`SECRET_KEY\` keys the HMACs
under which refresh tokens and login-failure records are stored and device tokens are signed;
\`ENCRYPTION_KEYS\` (the keyring, see
[security-model.md](security-model.md#encryption-at-rest-the-keyring)) encrypts the token-signing
keys at rest. Changing either invalidates what was made with it ([operations.md](operations.md)).
The identity settings (token lifetimes, lockout, password rules) are described in
[identity.md](identity.md); admins are made with \`bulwark users promote NAME\`, or by
\`ADMIN_EMAILS\` and \`SUPER_ADMIN_EMAIL\` once the address is verified.
\`REDIS_URL\` holds the rate-limit counters and carries revocations, user changes and
signing-key changes between instances: without it, several instances would each see only their own.

## Settings
`;

const AFTER_TABLE = `
## Development secrets

Outside production, a missing \`SECRET_KEY\`, \`ENCRYPTION_KEYS\` or \`METRICS_TOKEN\` is generated
from the operating system's CSPRNG on first start and stored in \`DATA_DIR/secrets.json\` with
file mode 0600 (\`DATA_DIR\`, when Bulwark creates it, gets mode 0700). Later starts reuse the
stored values, so tokens and encrypted data survive a restart. A value set in the environment or \`.env\` always takes precedence, and the
start logs a warning naming the secrets that came from the file. Production never reads or
writes \`secrets.json\`: a missing secret there is a refusal.

To read the development metrics token, for example:

\`\`\`sh
node -e 'console.log(JSON.parse(require("fs").readFileSync("data/secrets.json","utf8")).METRICS_TOKEN)'
\`\`\`

## Production refuses to start on an unsafe configuration

With \`NODE_ENV=production\`, every rule in the "production rule" column above is enforced. The
start checks all of them and reports **every problem at once**, each with the setting's name and
how to fix it, then exits with status 1 before opening the database or a port:

\`\`\`
bulwark: refusing to start: the configuration is not safe
bulwark:   SECRET_KEY: is an example or placeholder value: generate one with \`bulwark secrets generate\`
bulwark:   METRICS_TOKEN: is missing: generate one with \`bulwark secrets generate\`
bulwark:   ENCRYPTION_KEYS: is missing: generate one with \`bulwark secrets generate\`
bulwark:   PUBLIC_URL: must be an https URL (got "http://127.0.0.1:8080"): terminate TLS in front of Bulwark and set PUBLIC_URL=https://your.domain
bulwark:   CORS_ORIGINS: \`*\` lets every site call the API with the user's credentials: list the exact origins, e.g. https://app.example.com
\`\`\`

In development the same rules are checked and each failure is a warning: \`bulwark start\` logs
it with "(refused in production)", and a library user finds the list in \`config.warnings\`, so a
configuration can be fixed before it is deployed. Besides the
rules in the table, production also refuses \`RATE_LIMIT_ENABLED=false\`.

Messages never contain a secret's value.

### What counts as a weak secret

\`SECRET_KEY\` and \`METRICS_TOKEN\` are refused in production when they are:

- **missing** (unset or empty);
- **an example or placeholder**: the value contains, in any letter case, a phrase seen in
  tutorials and sample files, such as \`changeme\`, \`example\`, \`your-api-key\`, \`placeholder\` or
  \`replace-me\`, whatever the value's length; or it begins with a word such as \`secret\`,
  \`password\`, \`default\`, \`test\` or \`dev\`, unless what follows that word is random on its own
  (base64 characters with upper case, lower case and digits, no repeating unit, 128 bits by its
  histogram), since a generated value begins with such letters about once in 30,000 (the full
  lists are in \`src/config/production.ts\`);
- **a placeholder**: the value contains \`<\`, \`>\`, \`…\` or white space, as the docs'
  \`<output of bulwark secrets generate>\` does;
- **published**: the value was printed in Bulwark's docs, README or tests (their SHA-256 hashes
  are in \`src/config/published-secrets.ts\`; a test fails when the docs show a value that is not
  refused). This holds for every secret setting, the keys of \`ENCRYPTION_KEYS\`, webhook
  secrets and the passwords inside \`DATABASE_URL\`, \`REDIS_URL\` and \`SMTP_URL\` included;
- **shorter than 32 bytes** once decoded: an even-length hex string counts half its length,
  a string of letters, digits, \`-\` and \`_\` (base64url) three quarters of its length, and
  anything else its UTF-8 length;
- **low in entropy**: one unit repeated (\`abcabcabc…\`), fewer than 10 distinct characters, or
  less than 128 bits of entropy measured over its characters.

\`ENCRYPTION_KEYS\` must parse as \`id:key[,id:key…]\`: each id matches \`[A-Za-z0-9_-]{1,32}\` and
is unique; each key is base64 or base64url (canonical, padding optional) of exactly 32 bytes, is
not one byte repeated, and passes the checks above. The first key encrypts; the others only
decrypt.

### Generating secrets

\`\`\`sh
npx bulwark secrets generate          # prints SECRET_KEY=…, ENCRYPTION_KEYS=…, METRICS_TOKEN=… lines
npx bulwark secrets generate --json   # the same as one JSON object
npx bulwark init                      # writes them into ./.env (mode 0600) and adds .env to .gitignore
\`\`\`

\`bulwark init\` never replaces an existing \`.env\` unless given \`--force\`; replacing it changes the
secrets, which invalidates everything signed or encrypted with the old ones. \`bulwark secrets
generate\` writes nothing; copy its output into your secret manager or deployment environment.
\`SECRET_KEY\` and \`METRICS_TOKEN\` are 32 random bytes in base64url; an \`ENCRYPTION_KEYS\` entry is
a dated key id and 32 random bytes in base64 (\`k20260101-Ab3x:…\`). Values from other tools are
accepted when they pass the rules, for example \`openssl rand -hex 32\` for \`SECRET_KEY\` and
\`echo "k1:$(openssl rand -base64 32)"\` for \`ENCRYPTION_KEYS\`.

## TRUST_PROXY: the client's IP address behind proxies

The client IP is what rate limits count and what the audit log records, so it must not be
something a client can choose. \`X-Forwarded-For\` is written by whoever sends the request;
\`TRUST_PROXY\` says which of its entries were added by proxies you run.

- \`false\` (default): \`X-Forwarded-For\` is ignored and the client IP is the address of the TCP
  peer. Right when clients connect to Bulwark directly. Behind a proxy, every client would share
  the proxy's address and therefore its rate limits.
- **A comma list of proxy addresses or CIDRs (preferred)**, e.g.
  \`TRUST_PROXY=10.0.0.0/8,fd00::/8\`. The chain is read from the TCP peer backwards, skipping
  addresses in the list; the first address that is not one of your proxies is the client. A
  client that adds its own \`X-Forwarded-For\` entries gains nothing, because its entries sit
  behind an address that is not trusted. The names \`loopback\`, \`linklocal\` and \`uniquelocal\`
  stand for the matching address ranges.
- **A hop count**, e.g. \`TRUST_PROXY=1\`: the nearest N addresses (the TCP peer and N−1
  \`X-Forwarded-For\` entries) are believed to be proxies without looking at them. This is safe
  only when clients cannot reach Bulwark except through exactly those N proxies: a client that
  connects directly is taken for a proxy, and the \`X-Forwarded-For\` it sends names whatever
  address it likes. Use a list when you can.
- \`true\` is refused, in development too: it would believe every entry, letting any client
  choose its IP.

With \`TRUST_PROXY\` set, \`X-Forwarded-Proto\` and \`X-Forwarded-Host\` are believed only from a
trusted TCP peer.

## Rate limits

Every route names its rate-limit class: \`config: { rateLimit: "<class>" }\` (\`default\` for the
global budget alone); a route that names none is refused when it is registered. Only
\`GET /health\`, \`GET /ready\` and \`GET /metrics\` opt out (\`rateLimit: false\`, spelled out), so
that load balancers and Prometheus can poll them; those routes resolve no credentials at all.
[routes.md](routes.md) lists every route's class.

| class | policies checked on each request | counted per |
| --- | --- | --- |
| \`default\` | \`minute\`: \`RATE_LIMIT_PER_MINUTE\` per 60 s; \`hour\`: \`RATE_LIMIT_PER_HOUR\` per 3600 s | client |
| \`auth-login\` | \`minute\`, \`hour\`, and \`login\`: \`AUTH_LOGIN_PER_MINUTE\` per 60 s | client; \`login\` per IP |
| \`auth-register\` | \`minute\`, \`hour\`, and \`register\`: \`AUTH_REGISTER_PER_MINUTE\` per 60 s | client; \`register\` per IP |
| \`sensitive\` | \`minute\`, \`hour\`, and \`sensitive\`: \`SENSITIVE_PER_MINUTE\` per 60 s | client |

"Client" is the authenticated principal (the user, or the API key) when the request carries
valid credentials, and the client IP otherwise. "Per IP" ignores who claims to be calling:
for login and registration the attacker's cost is its addresses. The \`minute\` and \`hour\`
budgets are shared by every route; the extra policy of a class is shared by the routes of that
class.

- **Fixed windows aligned to the clock.** A 60-second window starts at second 0 of each minute,
  a 3600-second window at the start of each hour (UTC). A client can therefore spend up to twice a
  budget in a short burst that straddles a window boundary.
- **IPv6 by /64.** An IPv6 client is counted by its /64 prefix, since one host usually holds a
  whole /64; an IPv4-mapped IPv6 address is counted as its IPv4 address.
- **Headers** follow the IETF httpapi RateLimit header draft. The response to every counted
  request carries the policies of its class and the state of one of them: the policy that
  refused the request, or else the one closest to running out.

  \`\`\`
  RateLimit-Policy: "minute";q=60;w=60, "hour";q=1000;w=3600
  RateLimit: "minute";r=59;t=30
  \`\`\`

  \`q\` is the quota, \`w\` the window in seconds, \`r\` the requests remaining and \`t\` the seconds
  until the window resets.
- **Refusal**: \`429\` with error code \`rate_limited\` and \`Retry-After\` (seconds until the window
  that refused resets). Each refusal increments \`bulwark_rate_limit_exceeded_total{policy}\` and is
  recorded in the audit log as \`rate_limit.exceeded\`, at most once per counted key, policy and
  window, so a flood cannot flood the audit log.
- **Storage.** Without \`REDIS_URL\` the counters live in the process, so each instance has its
  own budget. With \`REDIS_URL\` they are shared by every instance. If Redis stops answering,
  an in-memory insurance limiter takes over on each instance (limits keep holding, per instance),
  Redis calls time out after 500 ms instead of queueing, and \`GET /ready\` reports
  \`"cache": "degraded"\` with status 200.
- A CORS preflight (\`OPTIONS\` with \`Access-Control-Request-Method\`) is answered before rate
  limiting and is not counted.
- \`RATE_LIMIT_ENABLED=false\` turns every limit off; production refuses it.
`;

/** The whole of docs/configuration.md, rendered from SETTINGS. Pure: it reads and writes nothing. */
export function renderConfigDocs(): string {
  return `${INTRO}\n${settingsTable()}\n${AFTER_TABLE}`;
}

// Write only when run as a script (`npm run docs:config`), never when imported by the docs test.
const invokedAs = process.argv[1];
if (invokedAs !== undefined && import.meta.url === pathToFileURL(resolve(invokedAs)).href) {
  writeFileSync(CONFIG_DOCS_PATH, renderConfigDocs());
  process.stdout.write(`wrote ${CONFIG_DOCS_PATH}\n`);
}
