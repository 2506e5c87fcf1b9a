// Copies the browser builds of the npm libraries the pages use into vendor/ (served locally by the
// platform; nothing is ever loaded from a CDN). Run by `npm run vendor`, which ./dev bootstrap calls.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const files = [
  ["node_modules/echarts/dist/echarts.common.min.js", "vendor/echarts.common.min.js"],
  ["node_modules/echarts/LICENSE", "vendor/echarts.LICENSE.txt"],
  // Swagger UI for every service's /docs (shared/app.py serves vendor/swagger-ui/ at /docs/assets/)
  ["node_modules/swagger-ui-dist/swagger-ui-bundle.js", "vendor/swagger-ui/swagger-ui-bundle.js"],
  ["node_modules/swagger-ui-dist/swagger-ui.css", "vendor/swagger-ui/swagger-ui.css"],
  ["node_modules/swagger-ui-dist/LICENSE", "vendor/swagger-ui/LICENSE.txt"],
];
mkdirSync(join(here, "vendor", "swagger-ui"), { recursive: true });
for (const [from, to] of files) {
  copyFileSync(join(here, from), join(here, to));
  console.log(`vendor: ${from} -> ${to}`);
}
