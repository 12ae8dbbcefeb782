// Installs npm dependencies on a fresh clone so `npm test` / `npm run demo` work with only
// node+npm present (npm runs no install before "test" by itself).
import { existsSync } from "node:fs";
import { execSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const need = [
  "node_modules/.bin/deno",
  "node_modules/.bin/bun",
  "node_modules/cbor-x",
  "node_modules/tldts",
];
if (need.some((p) => !existsSync(join(root, p)))) {
  console.error("[ensure-deps] installing npm dependencies…");
  execSync("npm install --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}
