// Writes the public pages' common <head> (partials/head.html) into every public page, between its
// two markers, so that the pages share one head block (charset, viewport, robots, icon, style sheet,
// the deferred config script). Each page keeps its own title, description and scripts after it.
// Run by `npm run heads` after editing the partial; tests/web/test_heads.py fails when a page differs.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const PUBLIC_PAGES = ["index.html", "institution.html", "results.html", "credit.html", "dashboard.html", "complaint.html"];
const START = "  <!-- common head: web/partials/head.html (npm run heads) -->\n";
const END = "  <!-- /common head -->\n";
const partial = readFileSync(join(here, "partials", "head.html"), "utf-8");
for (const page of PUBLIC_PAGES) {
  const path = join(here, page);
  const html = readFileSync(path, "utf-8");
  const from = html.indexOf(START);
  const to = html.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${page}: no common head markers`);
  writeFileSync(path, html.slice(0, from + START.length) + partial + html.slice(to));
  console.log(`heads: partials/head.html -> ${page}`);
}
