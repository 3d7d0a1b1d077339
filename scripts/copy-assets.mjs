// Copies non-TypeScript assets (SQL migrations) next to the compiled code in dist/.
import { cpSync, chmodSync } from "node:fs";

cpSync("src/store/migrations", "dist/store/migrations", { recursive: true });
chmodSync("dist/main.js", 0o755);
