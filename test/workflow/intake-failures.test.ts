// Nothing is lost silently (issue 10 §1), end to end on the local runtime: Step Functions throttles
// StartExecution for longer than intake's retries. Lambda invokes intake asynchronously (EventBridge
// is the caller) and retries it twice, a minute and then two minutes later ("How Lambda handles
// errors and retries with asynchronous invocation", Lambda Developer Guide); the trigger must then
// be in the on-failure destination queue with its error, and the template's own alarms, evaluated
// by the simulated CloudWatch from the Errors and queue-depth datapoints, must notify the alert
// topic through its policy. A throttle shorter than the retries loses nothing: the retry starts it.
import { beforeAll, describe, expect, it } from 'vitest';
import { stackAlarmNames } from '../../core/detection.ts';
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';
import { SIMULATION_EPOCH, runSimulation, type SimulationResult } from '../../local/runtime/simulation.ts';
import { LOCAL_STACK_NAME, synthesizeTemplate } from '../../local/runtime/synthesize.ts';
import type { Scenario } from '../../local/scenario.ts';
import type { SimulatedFleet } from '../../local/fleet/index.ts';
import { app, node, nodeId, scenario } from './fixtures.ts';

const NAMES = stackAlarmNames(LOCAL_STACK_NAME);
const SWITCHOVER_AT = 30;

const ledger = () =>
  scenario({
    name: 'intake-throttled',
    applications: [app('ledger', { placement: { preferredNode: nodeId(1), possibleNodes: [nodeId(2)] } })],
    instances: [node(1, { runs: ['ledger'] }), node(2)],
    timeline: [{ at: SWITCHOVER_AT, event: 'switchover', app: 'ledger', requestedBy: 'alice' }],
  });

/** The queue intake's EventInvokeConfig names as its on-failure destination (its logical id, as the local runtime names queues). */
function onFailureQueue(s: Scenario): string {
  const template = synthesizeTemplate(s.config);
  const config = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::EventInvokeConfig');
  const destination = (config?.Properties?.DestinationConfig as { OnFailure?: { Destination?: { 'Fn::GetAtt'?: [string, string] } } } | undefined)?.OnFailure?.Destination;
  const queue = destination?.['Fn::GetAtt']?.[0];
  if (!queue) throw new Error("the template gives intake's asynchronous invocations no on-failure destination");
  return queue;
}

interface Run {
  result: SimulationResult;
  fleet: SimulatedFleet;
  progress: Array<{ at: number; text: string }>;
  queue: string;
}

const dynamoEndpoint = sharedDynamoEndpoint();
beforeAll(async () => {
}, 120_000);

async function runThrottled(throttleSeconds: number): Promise<Run> {
  const s = ledger();
  const queue = onFailureQueue(s);
  let fleet: SimulatedFleet | undefined;
  const progress: Run['progress'] = [];
  const result = await runSimulation(s, {
    dynamoEndpoint,
    onProgress: (e) => progress.push({ at: (e.at.getTime() - SIMULATION_EPOCH.getTime()) / 1000, text: e.text }),
    beforeRun: ({ fleet: f, stepFunctions }) => {
      fleet = f;
      stepFunctions.throttle('StartExecution', SIMULATION_EPOCH.getTime() + throttleSeconds * 1000);
    },
  });
  return { result, fleet: fleet!, progress, queue };
}

describe('intake failures (issue 10 §1)', () => {
  let run: Run;
  beforeAll(async () => {
    // Throttled for 10 minutes: intake's three attempts (+0, +60 s, +180 s) all fail.
    run = await runThrottled(600);
  }, 300_000);

  it('Lambda retries intake twice, a minute and then two minutes apart, and then gives up', () => {
    const attempts = run.progress.filter((p) => p.text.startsWith('intake failed on the event'));
    expect(attempts.map((p) => p.text.replace(/ \(attempt.*?\);/, ';'))).toEqual([
      'intake failed on the event; Lambda retries in 60 s',
      'intake failed on the event; Lambda retries in 120 s',
      expect.stringMatching(/^intake failed on the event; the event and the error are in the on-failure destination /),
    ]);
    const [first, second, third] = attempts.map((p) => p.at);
    expect(second! - first!).toBeGreaterThanOrEqual(60);
    expect(second! - first!).toBeLessThan(65);
    expect(third! - second!).toBeGreaterThanOrEqual(120);
    expect(third! - second!).toBeLessThan(125);
    expect(attempts.every((p) => /AwsThrottledError: AWS throttled the call \(ThrottlingException\)/.test(p.text))).toBe(true);
  });

  it('the trigger is in the on-failure destination, with the error, as an invocation record; no execution started', () => {
    const messages = run.fleet.queueMessages(run.queue);
    expect(messages).toHaveLength(1);
    const record = JSON.parse(messages[0]!.body) as Record<string, Record<string, unknown>>;
    expect(record.requestContext).toMatchObject({ condition: 'RetriesExhausted', approximateInvokeCount: 3 });
    expect(record.requestPayload).toMatchObject({ source: 'rapid-failover.operator', 'detail-type': 'Switchover Requested', detail: { app: 'ledger', requestedBy: 'alice' } });
    expect(record.responsePayload).toMatchObject({ errorType: 'AwsThrottledError' });
    expect(run.result.incidents).toEqual([]);
  });

  it('administrators are alerted by the stack\'s own alarms (intake errors, failed triggers), which the topic policy lets CloudWatch publish', () => {
    const subjects = run.result.notifications.map((n) => n.subject);
    expect(subjects).toContain(`ALARM: "${NAMES.controlPlane('intake-errors')}" in us-east-1`);
    expect(subjects).toContain(`ALARM: "${NAMES.controlPlane('failed-triggers')}" in us-east-1`);
    expect(run.fleet.refusedAlarmNotifications()).toEqual([]);
    // The failed-triggers alarm stays in ALARM while the trigger waits in the queue: one notification, not one per period.
    expect(subjects.filter((s) => s.includes('failed-triggers'))).toHaveLength(1);
  });
});

describe('a throttle shorter than the retries', () => {
  it('loses nothing: the retry a minute later starts the switchover, the queue stays empty', async () => {
    const run = await runThrottled(SWITCHOVER_AT + 30);
    expect(run.result.incidents.map((i) => [i.app, i.outcome])).toEqual([['ledger', 'switched-over']]);
    expect(run.fleet.queueMessages(run.queue)).toEqual([]);
    expect(run.progress.filter((p) => p.text.startsWith('intake failed on the event'))).toHaveLength(1);
    // One error is still an error: the administrators hear of it.
    expect(run.result.notifications.map((n) => n.subject).filter((s) => s.startsWith('ALARM:'))).toEqual([`ALARM: "${NAMES.controlPlane('intake-errors')}" in us-east-1`]);
  }, 300_000);
});
