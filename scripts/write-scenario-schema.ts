// Writes examples/scenario.schema.json, the JSON Schema of the scenario format, from the zod
// schema in local/scenario.ts (editors use it through each scenario's "$schema").
//   npx tsx scripts/write-scenario-schema.ts          write the file
//   npx tsx scripts/write-scenario-schema.ts --check  exit 1 if the committed file differs
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { scenarioJsonSchema } from '../local/scenario.ts';

export const SCENARIO_SCHEMA_FILE = fileURLToPath(new URL('../examples/scenario.schema.json', import.meta.url));

/** The file's exact text: two-space JSON and a final newline. */
export function scenarioSchemaText(): string {
  return `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
}

function main(args: string[]): number {
  const text = scenarioSchemaText();
  if (args.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(SCENARIO_SCHEMA_FILE, 'utf8');
    } catch {
      // missing: reported below as out of date
    }
    if (committed === text) return 0;
    process.stderr.write(`${SCENARIO_SCHEMA_FILE} is out of date; run: npx tsx scripts/write-scenario-schema.ts\n`);
    return 1;
  }
  writeFileSync(SCENARIO_SCHEMA_FILE, text);
  process.stdout.write(`wrote ${SCENARIO_SCHEMA_FILE}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
