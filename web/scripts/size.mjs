// After the build: the app's JavaScript, raw and gzipped, and the first-load budget.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const OUT = new URL("../../src/helios/apps/http/webapp/", import.meta.url).pathname;
const BUDGET_GZIP = 150 * 1024;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const index = readFileSync(join(OUT, "index.html"), "utf8");
let firstLoad = 0;
const rows = [];
for (const path of files(OUT).filter((p) => p.endsWith(".js"))) {
  const raw = readFileSync(path);
  const gzip = gzipSync(raw, { level: 9 }).length;
  const name = path.slice(OUT.length);
  const initial = index.includes(name);
  if (initial) firstLoad += gzip;
  rows.push(`  ${name.padEnd(40)} ${(raw.length / 1024).toFixed(1).padStart(7)} kB  ${(gzip / 1024).toFixed(1).padStart(6)} kB gzip${initial ? "  (first load)" : ""}`);
}
console.log("app JavaScript:");
console.log(rows.join("\n"));
console.log(`first load: ${(firstLoad / 1024).toFixed(1)} kB gzipped JavaScript (budget ${BUDGET_GZIP / 1024} kB)`);
if (firstLoad > BUDGET_GZIP) {
  console.error("over the first-load budget");
  process.exit(1);
}
