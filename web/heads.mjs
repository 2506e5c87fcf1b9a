// Writes the public pages' common <head> (partials/head.html) into every public page, between its
// two markers, so that the pages share one head block (charset, viewport, robots, icon, style sheet,
// the deferred config script). Each page keeps its own title, description and scripts after it.
// It also names each library a page loads from vendor/ with its content's fingerprint
// (vendor/x.js?v=<first 12 hex of its SHA-256>), which the platform lets browsers keep for a year
// (shared/app.py PageAssets). Run by `npm run heads` after editing the partial and by `npm run vendor`
// after building vendor/; tests/web/test_heads.py fails when a page differs.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
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
  const headed = html.slice(0, from + START.length) + partial + html.slice(to);
  const stamped = headed.replace(/(src|href)="(vendor\/[^"?]+)(\?v=[0-9a-f]*)?"/g, (whole, attr, file) => {
    const built = join(here, file);
    if (!existsSync(built)) return `${attr}="${file}"`; // not built yet: npm run vendor stamps it
    return `${attr}="${file}?v=${createHash("sha256").update(readFileSync(built)).digest("hex").slice(0, 12)}"`;
  });
  writeFileSync(path, stamped);
  console.log(`heads: partials/head.html -> ${page}`);
}

// The inspectors' app (inspector/index.html, its own head) names the map's libraries as ../vendor/x.
export const APP_PAGES = ["inspector/index.html"];
for (const page of APP_PAGES) {
  const path = join(here, page);
  const html = readFileSync(path, "utf-8");
  const stamped = html.replace(/(src|href)="\.\.\/(vendor\/[^"?]+)(\?v=[0-9a-f]*)?"/g, (whole, attr, file) => {
    const built = join(here, file);
    if (!existsSync(built)) return `${attr}="../${file}"`;
    return `${attr}="../${file}?v=${createHash("sha256").update(readFileSync(built)).digest("hex").slice(0, 12)}"`;
  });
  writeFileSync(path, stamped);
  console.log(`heads: vendor fingerprints -> ${page}`);
}
