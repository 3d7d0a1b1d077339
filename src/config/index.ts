// The configuration's public surface.
export { loadConfig, readEnv, ConfigError, type Config, type Env, type TrustProxy } from "./load.js";
export { checkConfig, secretWeakness, type Problem } from "./production.js";
export { generateSecrets } from "./dev-secrets.js";
export { SETTINGS, SECRET_SETTINGS, type Setting } from "./settings.js";
