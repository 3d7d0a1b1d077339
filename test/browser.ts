// A real headless Chromium (Debian's `chromium` package) driven by playwright-core, for the pages
// Bulwark serves. Tests that need it skip when it is not installed, unless TEST_REQUIRE_SERVICES=1.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { TEST_REQUIRE_SERVICES } from "./harness.js";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** The `skip` option of a browser test: false when Chromium is there. */
export function needsChromium(): false | string {
  if (existsSync(CHROMIUM)) return false;
  if (TEST_REQUIRE_SERVICES)
    throw new Error(`TEST_REQUIRE_SERVICES=1 but ${CHROMIUM} is missing (apt-get install -y chromium)`);
  return `needs ${CHROMIUM}`;
}

/** Launches headless Chromium with no network of its own beyond what the page asks for. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
