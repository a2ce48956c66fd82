// Writes rules/schema.json from the zod schemas of rule files (a unit test fails when it drifts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ruleFileJsonSchema } from '../src/rules/json-schema.js';

const out = join(import.meta.dirname, '..', 'rules', 'schema.json');
writeFileSync(out, ruleFileJsonSchema());
process.stdout.write(`wrote ${out}\n`);
