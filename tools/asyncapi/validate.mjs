// Validate an AsyncAPI document (with its $ref'd JSON Schemas) using the official parser.
// Usage: node validate.mjs path/to/asyncapi.yaml   -> exit 0 if valid, 1 with diagnostics if not.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Parser, fromFile } from '@asyncapi/parser';

const file = resolve(process.argv[2] ?? '../../schemas/asyncapi.yaml');
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, file).parse({
  source: pathToFileURL(file).href,
});
// severity 0 = error, 1 = warning; warnings are printed but do not fail the check.
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics) {
  console.log(`${d.severity === 0 ? 'error' : 'warning'} ${d.code}: ${d.message} at ${d.path.join('.')}`);
}
if (!document || errors.length > 0) {
  console.log(`INVALID: ${errors.length} errors`);
  process.exit(1);
}
console.log(`VALID: ${document.channels().length} channels, ${document.allMessages().length} messages`);
