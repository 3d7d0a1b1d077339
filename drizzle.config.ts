// drizzle-kit reads every module's tables and writes SQL migrations into src/store/migrations.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/modules/*/tables.ts",
  out: "./src/store/migrations",
});
