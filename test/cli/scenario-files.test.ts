// The example scenarios as files: the committed JSON Schema is what the script generates now,
// every example points at it and parses, says which requirements it shows, and is in the
// examples README; together the examples cover the design's requirements.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenarioFile } from '../../local/scenario.ts';
import { SCENARIO_SCHEMA_FILE, scenarioSchemaText } from '../../scripts/write-scenario-schema.ts';
import { REPO_ROOT } from './cli.ts';

const EXAMPLES = join(REPO_ROOT, 'examples');
const files = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.json') && f !== 'scenario.schema.json')
  .sort();

/** DESIGN.md's requirements. */
const REQUIREMENTS = [
  ...Array.from({ length: 16 }, (_, i) => `A${i + 1}`),
  ...Array.from({ length: 3 }, (_, i) => `B${i + 1}`),
  ...Array.from({ length: 9 }, (_, i) => `C${i + 1}`),
];
/** Requirements no example can show yet, and why (see examples/README.md). */
const NOT_SHOWN: Record<string, string> = {
  A16: 'resuming checkpointed state on the new node is not implemented by the engine',
};

function idsIn(text: string): string[] {
  return [...text.matchAll(/\b([ABC]\d{1,2})\b/g)].map((m) => m[1]!).filter((id) => REQUIREMENTS.includes(id));
}

describe('examples/scenario.schema.json', () => {
  it('is exactly what scripts/write-scenario-schema.ts generates from local/scenario.ts', () => {
    expect(readFileSync(SCENARIO_SCHEMA_FILE, 'utf8')).toBe(scenarioSchemaText());
  });

  it('describes the scenario format: the timeline events and the outcomes', () => {
    const schema = JSON.parse(scenarioSchemaText()) as { required: string[]; properties: Record<string, unknown> };
    expect(schema.required).toEqual(expect.arrayContaining(['name', 'fleet', 'timeline']));
    const text = JSON.stringify(schema);
    for (const event of ['performance-degraded', 'instance-failed', 'provisioning-fails', 'switchover', 'duplicate-alarm']) expect(text).toContain(`"${event}"`);
    for (const outcome of ['failed-over', 'stayed', 'alerted', 'switched-over', 'deduplicated']) expect(text).toContain(`"${outcome}"`);
  });
});

describe.each(files)('examples/%s', (file) => {
  const path = join(EXAMPLES, file);
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { $schema?: string; description?: string; expect?: Record<string, string[]> };

  it('points at the schema, parses as a scenario, and says what it shows and expects', () => {
    expect(raw.$schema).toBe('./scenario.schema.json');
    const scenario = loadScenarioFile(path);
    expect(scenario.name).toBe(file.replace(/\.json$/, ''));
    expect(Object.keys(scenario.expect).length).toBeGreaterThan(0);
    // The demo is the README's walk-through; every other example names the requirements (or design section) it shows.
    const named = idsIn(scenario.description).length > 0 || /\bDesign §\d/.test(scenario.description);
    expect(file === 'demo.json' || named, 'the description names the requirement ids it shows').toBe(true);
  });

  it('is listed in examples/README.md with its requirement ids', () => {
    const readme = readFileSync(join(EXAMPLES, 'README.md'), 'utf8');
    const row = readme.split('\n').find((line) => line.startsWith('|') && line.includes(`(${file})`));
    expect(row, `no table row links ${file}`).toBeDefined();
    for (const id of idsIn(raw.description ?? '')) expect(row).toMatch(new RegExp(`\\b${id}\\b`));
  });
});

it('the examples together show every requirement of the design but those listed as not shown', () => {
  const shown = new Set(files.flatMap((file) => idsIn((JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as { description?: string }).description ?? '')));
  const missing = REQUIREMENTS.filter((id) => !shown.has(id));
  expect(missing).toEqual(Object.keys(NOT_SHOWN));
});
