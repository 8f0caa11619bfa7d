// README claims that can go stale, checked: the `simulate --json` sample has the fields and JSON
// types of what simulationDocument() prints (a real run of the demo it documents), lists the
// outcome, trigger and role values the code has, and agrees with the demo transcript above it
// (the same incident, RTO, virtual time, API calls and metrics); and every requirement of the
// design has a test named after it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { simulationDocument } from '../../cli/render.ts';
import { OUTCOMES, TRIGGER_KINDS } from '../../core/workflow-state.ts';
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';
import { NODE_ROLES, runSimulation } from '../../local/runtime/simulation.ts';
import { loadScenarioFile } from '../../local/scenario.ts';
import { REPO_ROOT } from './cli.ts';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The fenced block that follows `heading` in the README. */
function blockAfter(heading: string, language: string): string {
  const at = README.indexOf(heading);
  if (at < 0) throw new Error(`README has no '${heading}'`);
  const open = README.indexOf('```' + language, at);
  const close = README.indexOf('\n```', open + 3);
  return README.slice(README.indexOf('\n', open) + 1, close);
}

const SAMPLE_TEXT = blockAfter('### `simulate --json`', 'jsonc');
/** The sample as JSON: `// …` comments removed (none of its strings holds a '//'). */
const SAMPLE = JSON.parse(SAMPLE_TEXT.replace(/\s*\/\/.*$/gm, '')) as Document;
const TRANSCRIPT = blockAfter('### A real run: `npm start`', 'text');

type Document = ReturnType<typeof simulationDocument>;
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Objects whose keys are data (an event's detail, the metrics by name): only their values' types are compared. */
const RECORDS = new Set(['$.serviceEvents[].detail', '$.metrics']);

function jsonType(value: Json): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/**
 * Where the sample's shape differs from a real document's: a field missing or extra, or a value
 * of another JSON type. A sample array's first element is compared with the real element
 * `pick` chooses (default: the first). A real null says the field is nullable: any sample value fits.
 */
function shapeProblems(sample: Json, real: Json, path: string, pick: (path: string, sample: Json, real: Json[]) => Json | undefined): string[] {
  if (real === null) return [];
  if (jsonType(sample) !== jsonType(real)) return [`${path}: the sample has ${jsonType(sample)}, the document ${jsonType(real)}`];
  if (Array.isArray(sample) && Array.isArray(real)) {
    if (sample.length === 0 || real.length === 0) return [];
    const match = pick(path, sample[0]!, real);
    return match === undefined ? [`${path}: no element of the document to compare the sample's with`] : shapeProblems(sample[0]!, match, `${path}[]`, pick);
  }
  if (typeof sample !== 'object' || sample === null || typeof real !== 'object' || real === null || Array.isArray(real)) return [];
  const s = sample as Record<string, Json>;
  const r = real as Record<string, Json>;
  if (RECORDS.has(path)) {
    const types = new Set(Object.values(r).map(jsonType));
    return Object.entries(s).filter(([, v]) => !types.has(jsonType(v))).map(([k, v]) => `${path}.${k}: the sample has ${jsonType(v)}, the document's values are ${[...types].join(', ')}`);
  }
  const missing = Object.keys(r).filter((k) => !(k in s)).map((k) => `${path}.${k}: in the document, not in the sample`);
  const extra = Object.keys(s).filter((k) => !(k in r)).map((k) => `${path}.${k}: in the sample, not in the document`);
  const nested = Object.keys(s).filter((k) => k in r).flatMap((k) => shapeProblems(s[k]!, r[k]!, `${path}.${k}`, pick));
  return [...missing, ...extra, ...nested];
}

/** The values a `// a | b | c` comment on the sample's line with `"field":` lists. */
function listedValues(field: string): string[] {
  const line = SAMPLE_TEXT.split('\n').find((l) => l.includes(`"${field}":`) && /\/\/.*\|/.test(l));
  if (!line) throw new Error(`the sample lists no values for ${field}`);
  return line
    .slice(line.indexOf('//') + 2)
    .split('|')
    .map((v) => v.trim());
}

describe("README's simulate --json sample", () => {
  const dynamoEndpoint = sharedDynamoEndpoint();
  let real: Document;

  beforeAll(async () => {
    real = simulationDocument(await runSimulation(loadScenarioFile(join(REPO_ROOT, 'examples', 'demo.json')), { dynamoEndpoint }));
  }, 180_000);

  it('has the fields and JSON types of the document simulate --json prints (a run of the demo it documents)', () => {
    const pick = (path: string, sample: Json, elements: Json[]): Json | undefined => {
      const s = sample as Record<string, Json>;
      const same = (key: string) => elements.find((e) => (e as Record<string, Json>)[key] === s[key]);
      if (path === '$.incidents') return same('outcome');
      if (path === '$.fleet') return same('role');
      return elements[0];
    };
    expect(shapeProblems(SAMPLE as unknown as Json, real as unknown as Json, '$', pick)).toEqual([]);
  });

  it('lists every outcome, trigger and node role the code has, and no other', () => {
    expect(listedValues('outcome')).toEqual([...OUTCOMES]);
    expect(listedValues('trigger').sort()).toEqual([...TRIGGER_KINDS].sort());
    expect(listedValues('role')).toEqual([...NODE_ROLES]);
  });

  it('agrees with the demo transcript above it: the incident and its RTO, virtual time, wall time, API calls, metrics', () => {
    const incident = SAMPLE.incidents[0]!;
    const at = TRANSCRIPT.indexOf(`  incident ${incident.incidentId}`);
    expect(at, `the transcript shows incident ${incident.incidentId}`).toBeGreaterThan(0);
    const heading = TRANSCRIPT.slice(0, at).trimEnd().split('\n').at(-1)!;
    const rto = incident.rtoSeconds?.toFixed(1) ?? 'none';
    expect(heading, 'the transcript line of the incident').toMatch(new RegExp(`^${incident.app} · ${incident.trigger} → ${incident.outcome} · i-\\S+ → i-\\S+ · ${incident.attempts} attempt\\(s\\), RTO ${rto.replace('.', '\\.')} s$`));

    const summary = /Simulated ([\d.]+) s of AWS time in ([\d.]+) s of wall time; (\d+) AWS API calls\./.exec(TRANSCRIPT);
    expect(summary, 'the transcript has its summary line').not.toBeNull();
    expect(SAMPLE.virtualSeconds.toFixed(1)).toBe(summary![1]);
    expect((SAMPLE.wallMs / 1000).toFixed(1)).toBe(summary![2]);
    expect(SAMPLE.apiCalls).toBe(Number(summary![3]));

    const rtos = [...TRANSCRIPT.matchAll(/RTO ([\d.]+) s$/gm)].map((m) => Number(m[1]));
    const moved = [...TRANSCRIPT.matchAll(/^\S+ · \S+ → (failed-over|switched-over) · /gm)].length;
    expect(SAMPLE.metrics.FailoversSucceeded, 'FailoversSucceeded: the incidents that moved').toBe(moved);
    expect(Math.abs(SAMPLE.metrics.RtoSeconds! - rtos.reduce((a, b) => a + b, 0)), `RtoSeconds: the sum of ${rtos.join(' + ')}`).toBeLessThanOrEqual(0.1 * rtos.length);
  });
});

// ---- requirements named by tests ---------------------------------------------------------------

const REQUIREMENTS = [...Array.from({ length: 16 }, (_, i) => `A${i + 1}`), ...Array.from({ length: 3 }, (_, i) => `B${i + 1}`), ...Array.from({ length: 9 }, (_, i) => `C${i + 1}`)];

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? testFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The titles given to it(), test() and describe() (and their .each/.concurrent forms) as string literals. */
function testTitles(source: string): string[] {
  return [...source.matchAll(/\b(?:it|test|describe)(?:\.\w+(?:\([^)]*\))?)*\(\s*(['"`])((?:(?!\1)[^\\]|\\.)*)\1/g)].map((m) => m[2]!);
}

it('every requirement id of the design (DESIGN.md §1) has a test named after it', () => {
  const here = join(REPO_ROOT, 'test', 'cli', 'readme.test.ts');
  const titles = testFiles(join(REPO_ROOT, 'test'))
    .filter((file) => file !== here)
    .flatMap((file) => testTitles(readFileSync(file, 'utf8')));
  const unnamed = REQUIREMENTS.filter((id) => !titles.some((title) => new RegExp(`\\b${id}\\b`).test(title)));
  expect(unnamed, 'requirements no test title names').toEqual([]);
});
