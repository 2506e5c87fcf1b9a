// Validates AsyncAPI documents with the official parser (@asyncapi/parser: the AsyncAPI JSON Schema
// of the document's version plus the spectral ruleset the AsyncAPI CLI runs). Works offline.
// usage: node validate.mjs <file>...   exit 1 on any error or warning, printing every diagnostic.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const SEVERITY = ["error", "warning", "info", "hint"];
const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const text = await readFile(file, "utf8");
  const { document, diagnostics } = await parser.parse(text, { source: file });
  for (const d of diagnostics) {
    const where = d.path && d.path.length ? d.path.join(".") : "<root>";
    console.log(`${file}: ${SEVERITY[d.severity] ?? d.severity} ${d.code} at ${where}: ${d.message}`);
    if (d.severity <= 1) failed = true;
  }
  if (document === undefined) {
    failed = true;
    console.log(`${file}: not a valid AsyncAPI document`);
  } else {
    console.log(
      `${file}: AsyncAPI ${document.version()}, ${document.channels().length} channels, ` +
        `${document.operations().length} operations, ${document.messages().length} messages`,
    );
  }
}
process.exit(failed ? 1 : 0);
