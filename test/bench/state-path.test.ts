import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import { derivePath, type Definition, type TaskEntry } from '../../local/runtime/state-path.ts';
import { synthesizeTemplate } from '../../local/runtime/synthesize.ts';
import { extractStateMachine } from '../../local/state-machine-definition.ts';
import { exampleConfig } from '../lib/synth.ts';

type Script = Record<string, (input: Record<string, unknown>) => Record<string, unknown>>;

const pass = (input: Record<string, unknown>) => input;

/** A failure-triggered incident that fails over on the first node. */
const HAPPY: Script = {
  LockApplication: (i) => ({ ...i, outcome: null, claim: null, pendingAlert: null }),
  SelectAndClaimNode: (i) => ({ ...i, claim: { nodeId: 'i-0aaa0000000000002' } }),
  ProvisionNode: pass,
  JoinCluster: pass,
  ShiftTrafficAndFence: pass,
  ReleaseOldNode: pass,
  NotifyAdministrators: (i) => ({ ...i, pendingAlert: null }),
  CompensateClaim: (i) => ({ ...i, claim: null }),
  VerifyPerformance: (i) => ({ ...i, outcome: 'failed-over' }),
  FinishIncident: (i) => ({ ...i, outcome: i.outcome ?? 'failed-over' }),
};

interface Observed {
  entered: string[];
  tasks: TaskEntry[];
  retries: number;
  status: 'SUCCEEDED' | 'FAILED';
}

/** Runs the definition with aws-local-stepfunctions and records what it entered. */
async function observe(definition: Definition, script: Script, input: Record<string, unknown>): Promise<Observed> {
  const machine = new StateMachine(definition as unknown as StateMachineDefinition);
  const zero = Object.fromEntries(Object.keys(definition.States).map((s) => [s, 0]));
  const handlers = Object.fromEntries(Object.entries(script).map(([state, fn]) => [state, async (x: unknown) => fn(x as Record<string, unknown>) as never]));
  const execution = machine.run(input as never, { overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: zero, retryIntervalOverrides: zero } });
  const observed: Observed = { entered: [], tasks: [], retries: 0, status: 'SUCCEEDED' };
  for await (const event of execution.eventLogs) {
    const last = observed.tasks.at(-1);
    if (event.type === 'StateEntered') {
      observed.entered.push(event.state.name);
      if (event.state.type === 'Task') observed.tasks.push({ state: event.state.name, failed: false });
    }
    if (event.type === 'StateFailed' && event.state.type === 'Task' && last) last.failed = true;
    if (event.type === 'StateRetried') {
      observed.retries++;
      if (last) last.failed = false;
    }
    if (event.type === 'ExecutionFailed') observed.status = 'FAILED';
  }
  await execution.result.catch(() => undefined);
  return observed;
}

const failure = { incidentId: 'inc-1', app: 'checkout', trigger: { kind: 'failure', source: 'test' }, settleSeconds: 0 };

describe('derivePath', () => {
  let definition: Definition;

  beforeAll(() => {
    definition = extractStateMachine(synthesizeTemplate(exampleConfig())).definition as unknown as Definition;
  });

  it('matches the states aws-local-stepfunctions enters on a failover', async () => {
    // Arrange
    const observed = await observe(definition, HAPPY, failure);

    // Act
    const derived = derivePath(definition, observed.tasks, observed.status);

    // Assert
    expect(derived.states).toEqual(observed.entered);
    expect(derived.states).toContain('LockAcquired?');
    expect(derived.states.at(-1)).toBe('Done');
    expect(derived.ambiguous).toEqual([]);
  });

  it('matches after a caught provisioning failure and a second node', async () => {
    // Arrange
    let provisions = 0;
    const script: Script = {
      ...HAPPY,
      ProvisionNode: (i) => {
        provisions++;
        if (provisions === 1) throw Object.assign(new Error('swap failed'), { name: 'ProvisioningFailedError' });
        return i;
      },
    };
    const observed = await observe(definition, script, failure);

    // Act
    const derived = derivePath(definition, observed.tasks, observed.status);

    // Assert
    expect(derived.states).toEqual(observed.entered);
    expect(derived.states.filter((s) => s === 'SelectAndClaimNode')).toHaveLength(2);
    expect(derived.states).toContain('RetryAnotherNode?');
  });

  it('matches a performance failover through the settle Wait', async () => {
    // Arrange
    const observed = await observe(definition, HAPPY, { ...failure, trigger: { kind: 'performance', source: 'test' } });

    // Act
    const derived = derivePath(definition, observed.tasks, observed.status);

    // Assert
    expect(derived.states).toEqual(observed.entered);
    expect(derived.states).toContain('SettleWindow');
  });

  it('matches a deduplicated incident and an abandoned one (Fail state)', async () => {
    // Arrange
    const dedup = await observe(definition, { ...HAPPY, LockApplication: (i) => ({ ...i, outcome: 'deduplicated', claim: null, pendingAlert: null }) }, failure);
    const abandoned = await observe(
      definition,
      {
        ...HAPPY,
        SelectAndClaimNode: (i) => ({ ...i, claim: null, pendingAlert: { kind: 'no-eligible-node' } }),
        FinishIncident: (i) => ({ ...i, outcome: 'alerted' }),
      },
      failure,
    );

    // Act
    const dedupPath = derivePath(definition, dedup.tasks, dedup.status);
    const abandonedPath = derivePath(definition, abandoned.tasks, abandoned.status);

    // Assert
    expect(dedupPath.states).toEqual(['LockApplication', 'LockAcquired?', 'AlreadyHandled']);
    expect(abandoned.status).toBe('FAILED');
    expect(abandonedPath.states).toEqual(abandoned.entered);
    expect(abandonedPath.states.at(-1)).toBe('FailoverAbandoned');
  });

  it('counts a retried Task once as an entry (retries are counted apart)', async () => {
    // Arrange
    let joins = 0;
    const script: Script = {
      ...HAPPY,
      // Throttled twice (a wait is no longer a retried error: a step that waits returns $.wait).
      JoinCluster: (i) => {
        joins++;
        if (joins < 3) throw Object.assign(new Error('Rate exceeded'), { name: ErrorNames.AwsThrottled });
        return i;
      },
    };
    const observed = await observe(definition, script, failure);

    // Act
    const derived = derivePath(definition, observed.tasks, observed.status);

    // Assert
    expect(observed.retries).toBe(2);
    expect(derived.states).toEqual(observed.entered);
  });

  it('rejects a task sequence the definition cannot produce', () => {
    const entries = ['LockApplication', 'JoinCluster'].map((state) => ({ state, failed: false }));
    expect(() => derivePath(definition, entries, 'SUCCEEDED')).toThrow(/no path/);
  });
});
