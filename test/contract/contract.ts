// The contract-case harness: one moto server per test file (reset before each case), a fresh
// simulated fleet per case, and the same adapter code run on both sides. Answers are compared
// after ids are replaced by the labels they were seeded under (each side makes its own ids).
//
// Adding a case for a new AWS call (say ssm:CancelCommand): in a *.contract.test.ts file, a
// describeCall('ssm:CancelCommand', ...) block whose cases call bothSides(scenario) with a scenario
// that seeds the side (side.seed...) and runs the adapter function with side.ssm; then expect
// the moto outcome to equal the simulator's, and the simulator's to equal what AWS documents.
// test/contract/coverage.test.ts finds the call from the describeCall title.
import { afterAll, afterEach, beforeAll, beforeEach, describe } from 'vitest';
import { startMotoServer, type MotoServer } from './moto-server.ts';
import { makeSides, type Side } from './sides.ts';

export type Outcome = { ok: true; value: unknown } | { ok: false; error: string; message?: string };

export interface CallOptions {
  /** moto answers this call 500 / NotImplemented: the case checks the request against the SDK's input shape instead. */
  notCoveredByMoto?: boolean;
}

/** A describe block for one AWS call, `service:Operation` as in the SDK's command name. */
export function describeCall(call: string, body: () => void): void;
export function describeCall(call: string, options: CallOptions, body: () => void): void;
export function describeCall(call: string, optionsOrBody: CallOptions | (() => void), maybeBody?: () => void): void {
  const options = typeof optionsOrBody === 'function' ? {} : optionsOrBody;
  const body = typeof optionsOrBody === 'function' ? optionsOrBody : maybeBody!;
  describe(`${call}${options.notCoveredByMoto ? ' (not covered by moto)' : ''}`, () => {
    body();
  });
}

let server: MotoServer | undefined;
let current: { moto: Side; simulator: Side } | undefined;

/** "Now" for a case, on a whole minute, shared by both sides (metric timestamps line up). */
export const CASE_START = new Date(Math.floor(Date.now() / 60_000) * 60_000);

/** Starts moto for this test file and gives every case fresh sides. */
export function useMoto(): { server(): MotoServer; sides(): { moto: Side; simulator: Side } } {
  beforeAll(async () => {
    server = await startMotoServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    await server!.reset();
    current = await makeSides(server!, CASE_START);
  });
  afterEach(() => {
    current?.moto.destroy();
    current?.simulator.destroy();
    current = undefined;
  });
  return {
    server: () => server!,
    sides: () => {
      if (!current) throw new Error('sides are made in beforeEach');
      return current;
    },
  };
}

/**
 * Runs `scenario` on moto, then on the simulator (each seeds its own side), and returns both
 * outcomes with ids replaced by labels.
 */
export async function bothSides(
  scenario: (side: Side) => Promise<unknown>,
  /** Applied to each side's value after ids became labels (e.g. sorting by label). */
  then: (value: unknown) => unknown = (value) => value,
): Promise<{ moto: Outcome; simulator: Outcome }> {
  if (!current) throw new Error('bothSides runs inside a test of a file that calls useMoto()');
  return { moto: await outcome(current.moto, scenario, then), simulator: await outcome(current.simulator, scenario, then) };
}

/** For `then`: the value, an array, sorted (by JSON, so labels and nested arrays sort too). */
export function sorted(value: unknown): unknown {
  if (!Array.isArray(value)) throw new Error(`sorted() takes an array, not ${JSON.stringify(value)}`);
  return [...value].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

async function outcome(side: Side, scenario: (side: Side) => Promise<unknown>, then: (value: unknown) => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: then(normalize(side, await scenario(side))) };
  } catch (error) {
    const name = (error as { name?: unknown }).name;
    const message = error instanceof Error ? error.message : String(error);
    if (typeof name !== 'string' || name === 'Error' || name === 'TypeError') {
      // The adapter's own error (or a bug in the case): its message is part of the outcome.
      return { ok: false, error: String(name ?? 'Error'), message: normalize(side, message) as string };
    }
    return { ok: false, error: name };
  }
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Ids → `<label>`, UUIDs (command, message, event ids) → `<uuid 1>`, `<uuid 2>`… in order of appearance. */
export function normalize(side: Side, value: unknown): unknown {
  const ids = [...side.labels.entries()].sort(([a], [b]) => b.length - a.length);
  const uuids = new Map<string, string>();
  const text = (s: string): string => {
    let out = s;
    for (const [id, label] of ids) out = out.replaceAll(id, `<${label}>`);
    return out.replace(UUID, (uuid) => {
      if (!uuids.has(uuid)) uuids.set(uuid, `<uuid ${uuids.size + 1}>`);
      return uuids.get(uuid)!;
    });
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return text(v);
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [walk(k), walk(x)]));
    if (v instanceof Set) return new Set([...v].map(walk));
    if (v instanceof Date) return v;
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => k !== '$metadata').map(([k, x]) => [text(k), walk(x)]));
    return v;
  };
  return walk(value);
}
