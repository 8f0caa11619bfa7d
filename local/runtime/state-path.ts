// The states an execution entered, Choice, Wait, Succeed and Fail included, derived from the
// definition and the Task states the runner reports in order (and whether each ended in a
// caught error): between two consecutive tasks (and from StartAt to the first, and from the
// last to the end) only non-Task states lie, and in this workflow the shortest such path is
// unique (an ambiguous step is reported). test/bench checks it against aws-local-stepfunctions.
// The runner charges each state entered its transition latency from here; the benchmark
// counts them.

interface StateDef {
  Type: string;
  Next?: string;
  Default?: string;
  End?: boolean;
  Choices?: Array<{ Next?: string }>;
  Catch?: Array<{ Next?: string; ErrorEquals?: string[] }>;
}

export interface Definition {
  StartAt: string;
  States: Record<string, StateDef>;
}

/** A Task state entered; `failed`: its last invocation ended in an error it did not retry (caught, or fatal). */
export interface TaskEntry {
  state: string;
  failed: boolean;
  /** The error it failed with, when known: then only the first catcher that matches it leads on (as Step Functions picks it). */
  error?: string;
}

export interface DerivedPath {
  /** Every state entered, in order (a retried state once). */
  states: string[];
  /** Steps where more than one shortest non-Task path fits (the count is then a guess). */
  ambiguous: string[];
}

/**
 * Where a state can go: a failed Task only to its Catch targets (to the first catcher whose
 * ErrorEquals names the error or States.ALL, when the error is known: "Step Functions
 * transitions to the state specified in the first catcher that matches", ASL Catch), anything
 * else by Next, Default and Choices.
 */
function successors(state: StateDef, failed = false, error?: string): string[] {
  const catchers = state.Catch ?? [];
  const caught = error === undefined ? catchers : catchers.filter((c) => c.ErrorEquals?.includes(error) || c.ErrorEquals?.includes('States.ALL')).slice(0, 1);
  const next = failed ? caught.map((c) => c.Next) : [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next)];
  return [...new Set(next.filter((n): n is string => typeof n === 'string'))];
}

/**
 * Every shortest path from `starts` to a state that `isTarget` accepts, through non-Task
 * states only. Returns the paths (each ending at the target) or [] when none exists.
 */
function shortestPaths(definition: Definition, starts: string[], isTarget: (name: string) => boolean): string[][] {
  let frontier: string[][] = starts.map((s) => [s]);
  const seen = new Set<string>();
  while (frontier.length > 0) {
    const done = frontier.filter((p) => isTarget(p.at(-1)!));
    if (done.length > 0) return done;
    for (const p of frontier) seen.add(p.at(-1)!);
    const next: string[][] = [];
    for (const p of frontier) {
      const state = definition.States[p.at(-1)!];
      // Only pass through non-Task states: a Task in between would have been reported.
      if (!state || state.Type === 'Task') continue;
      for (const s of successors(state)) if (!seen.has(s)) next.push([...p, s]);
    }
    frontier = next;
  }
  return [];
}

function distinct(paths: string[][]): string[][] {
  return [...new Map(paths.map((p) => [p.join('>'), p])).values()];
}

export interface Leg {
  /** States entered, in order, ending at the target (a task, or the terminal state). */
  states: string[];
  /** More than one shortest path fits (the count is then a guess). */
  ambiguous: boolean;
}

function legName(previous: TaskEntry | null): string {
  return previous?.state ?? 'StartAt';
}

function startsAfter(definition: Definition, previous: TaskEntry | null): string[] {
  return previous === null ? [definition.StartAt] : successors(definition.States[previous.state] ?? { Type: 'Task' }, previous.failed, previous.error);
}

/** The states entered after `previous` (null: the execution's start) up to and including the Task `task`. */
export function legToTask(definition: Definition, previous: TaskEntry | null, task: string): Leg {
  const paths = distinct(shortestPaths(definition, startsAfter(definition, previous), (n) => n === task));
  if (paths.length === 0) throw new Error(`no path in the definition from ${legName(previous)} to ${task}`);
  return { states: paths[0]!, ambiguous: paths.length > 1 };
}

/**
 * The states entered after the last Task `previous` until the execution ended with `status` (a
 * SUCCEEDED one ends in a Succeed state or a Task with End; a FAILED one in a Fail state, or in
 * the Task whose uncaught error failed it).
 */
export function legToEnd(definition: Definition, previous: TaskEntry | null, status: 'SUCCEEDED' | 'FAILED'): Leg {
  const last = previous === null ? null : definition.States[previous.state];
  if (last?.End && !previous?.failed) return { states: [], ambiguous: false };
  const terminal = status === 'SUCCEEDED' ? 'Succeed' : 'Fail';
  const paths = distinct(shortestPaths(definition, startsAfter(definition, previous), (n) => definition.States[n]?.Type === terminal));
  // A FAILED execution with no reachable Fail state failed in its last Task (uncaught error).
  if (paths.length === 0 && status === 'FAILED') return { states: [], ambiguous: false };
  if (paths.length === 0) throw new Error(`no ${terminal} state reachable after ${legName(previous)}`);
  return { states: paths[0]!, ambiguous: paths.length > 1 };
}

/**
 * `tasks`: the Task states entered, in order, retries not repeated. `status`: how the
 * execution ended.
 */
export function derivePath(definition: Definition, tasks: readonly TaskEntry[], status: 'SUCCEEDED' | 'FAILED'): DerivedPath {
  const states: string[] = [];
  const ambiguous: string[] = [];
  let previous: TaskEntry | null = null;
  for (const task of tasks) {
    const leg = legToTask(definition, previous, task.state);
    if (leg.ambiguous) ambiguous.push(`${legName(previous)} → ${task.state}`);
    states.push(...leg.states);
    previous = task;
  }
  const end = legToEnd(definition, previous, status);
  if (end.ambiguous) ambiguous.push(`${legName(previous)} → ${status === 'SUCCEEDED' ? 'Succeed' : 'Fail'}`);
  states.push(...end.states);
  return { states, ambiguous };
}
