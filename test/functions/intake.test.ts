import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import { IncidentInputSchema } from '../../core/workflow-state.ts';
import { incidentIdOf, makeHandler } from '../../functions/handlers/intake.ts';
import { HOST, OLD, OWN_ALARM_ARN, STATE_MACHINE_ARN, TABLES, allStubs, makeTestDeps, nodeId, type TestContext } from './fixtures.ts';

function alarmEvent(name: string, value = 'ALARM', extra: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: '2025-03-01T11:59:01Z',
    region: 'eu-west-1',
    resources: [`arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${name}`],
    detail: {
      alarmName: name,
      state: { value, reason: 'Threshold Crossed: 3 out of the last 5 datapoints', timestamp: '2025-03-01T11:59:00.123+0000' },
      previousState: { value: 'OK', timestamp: '2025-03-01T11:00:00.000+0000' },
      ...extra,
    },
  };
}

function instanceEvent(instance: string, state = 'stopped', id = '7bf73129-1428-4cd3-a780-95db273d1602') {
  return {
    version: '0',
    id,
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    time: '2025-03-01T11:58:30Z',
    region: 'eu-west-1',
    resources: [`arn:aws:ec2:eu-west-1:123456789012:instance/${instance}`],
    detail: { 'instance-id': instance, state },
  };
}

function operatorEvent(detailType: string, detail: Record<string, unknown>) {
  return { id: 'op-1', 'detail-type': detailType, source: 'rapid-failover.operator', time: '2025-03-01T12:00:00Z', resources: [], detail };
}

/** What StartExecution was called with, parsed. */
function startedInputs(t: TestContext) {
  return t.sfn.commandCalls(StartExecutionCommand).map((call) => {
    const input = call.args[0].input;
    return { name: input.name, stateMachineArn: input.stateMachineArn, input: IncidentInputSchema.parse(JSON.parse(input.input ?? '{}')) };
  });
}

describe('intake', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
  });

  it('A10: a performance alarm starts one performance incident named by the event itself', async () => {
    const result = await makeHandler(t.deps)(alarmEvent('rapid-failover-web-performance'));

    const [started] = startedInputs(t);
    expect(started?.stateMachineArn).toBe(STATE_MACHINE_ARN);
    expect(started?.input).toMatchObject({ app: 'web', trigger: { kind: 'performance', source: 'rapid-failover-web-performance', observedAt: '2025-03-01T11:59:00.123Z' } });
    expect(started?.name).toBe(started?.input.incidentId);
    expect(started?.name).toMatch(/^20250301T115900-web-performance-[0-9a-f]{6}$/);
    expect(result).toEqual({ started: [started?.name], deduplicated: [], ignored: [] });
  });

  it('A11: a status-check alarm is a failure about the instance it watches', async () => {
    const event = alarmEvent('rapid-failover-web-status-check', 'ALARM', {
      configuration: { metrics: [{ metricStat: { metric: { namespace: 'AWS/EC2', name: 'StatusCheckFailed', dimensions: { InstanceId: OLD } } } }] },
    });
    await makeHandler(t.deps)(event);
    expect(startedInputs(t)[0]?.input).toMatchObject({ app: 'web', fromNode: OLD, trigger: { kind: 'failure' } });
  });

  it("A11: target-health alarms of any group and the application's own alarm ARNs are failures", async () => {
    const handler = makeHandler(t.deps);
    await handler(alarmEvent('rapid-failover-web-target-health-1'));
    await handler({ ...alarmEvent('reports-process-down'), resources: [OWN_ALARM_ARN] });
    expect(startedInputs(t).map((s) => [s.input.app, s.input.trigger.kind])).toEqual([
      ['web', 'failure'],
      ['reports', 'failure'],
    ]);
  });

  it('ignores alarms going OK or INSUFFICIENT_DATA and alarms of no application, without starting anything', async () => {
    const handler = makeHandler(t.deps);
    const ok = await handler(alarmEvent('rapid-failover-web-performance', 'OK'));
    const unknown = await handler(alarmEvent('someone-elses-alarm'));
    const insufficient = await handler(alarmEvent('rapid-failover-web-status-check', 'INSUFFICIENT_DATA'));
    expect(ok.ignored).toEqual(['alarm rapid-failover-web-performance is OK']);
    expect(unknown.ignored).toEqual(['alarm someone-elses-alarm belongs to no application']);
    expect(insufficient.started).toEqual([]);
    expect(t.sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('dedupes a redelivered event: the same execution name, and ExecutionAlreadyExists counts as deduplicated', async () => {
    const handler = makeHandler(t.deps);
    const first = await handler(alarmEvent('rapid-failover-web-performance'));
    t.sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const again = await handler(alarmEvent('rapid-failover-web-performance'));
    expect(again).toEqual({ started: [], deduplicated: first.started, ignored: [] });
    const names = startedInputs(t).map((s) => s.name);
    expect(names).toHaveLength(2);
    expect(new Set(names).size).toBe(1);
  });

  it('B1/B2: a stopped virtual-node host hosting three applications gives three failure incidents', async () => {
    t.ddb.on(BatchGetCommand).resolves({
      Responses: {
        [TABLES.state]: [
          { app: 'reports', currentNode: HOST },
          { app: 'audit', currentNode: HOST },
          { app: 'batch', currentNode: HOST },
          { app: 'db', currentNode: nodeId(5) },
        ],
      },
    });
    const result = await makeHandler(t.deps)(instanceEvent(HOST, 'stopped'));

    const started = startedInputs(t);
    expect(started.map((s) => s.input.app).sort()).toEqual(['audit', 'batch', 'reports']);
    expect(started.every((s) => s.input.fromNode === HOST && s.input.trigger.kind === 'failure')).toBe(true);
    expect(new Set(result.started).size).toBe(3);
  });

  it("A11/C2: an instance that is an application's preferred node maps to it while the state table knows nothing else", async () => {
    await makeHandler(t.deps)(instanceEvent(OLD, 'shutting-down'));
    expect(startedInputs(t).map((s) => s.input.app)).toEqual(['web']);
  });

  it('ignores unmanaged instances and instance states that are not failures', async () => {
    const handler = makeHandler(t.deps);
    const unmanaged = await handler(instanceEvent(nodeId(77), 'terminated'));
    const running = await handler(instanceEvent(OLD, 'running'));
    expect(unmanaged.ignored).toEqual([`${nodeId(77)} serves no managed application`]);
    expect(running.ignored).toEqual([`${OLD} is running`]);
    expect(t.sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('C6: an operator switchover names its target node; a drill is its own trigger kind', async () => {
    const handler = makeHandler(t.deps);
    await handler(operatorEvent('Switchover Requested', { app: 'db', toNode: nodeId(3), requestedBy: 'alice' }));
    await handler(operatorEvent('Drill Requested', { app: 'web', requestedBy: 'bob' }));
    const [switchover, drill] = startedInputs(t);
    expect(switchover?.input).toMatchObject({ app: 'db', requestedNode: nodeId(3), trigger: { kind: 'switchover', source: 'alice' } });
    expect(drill?.input).toMatchObject({ app: 'web', trigger: { kind: 'drill', source: 'bob' } });
    expect(drill?.input.requestedNode).toBeUndefined();
  });

  it('A5: a Service Down announcing a preemption starts a failure incident for the preempted application', async () => {
    const event = {
      id: 'ev-9',
      source: 'rapid-failover',
      'detail-type': 'Service Down',
      time: '2025-03-01T12:00:00Z',
      detail: { app: 'low', node: nodeId(4), reason: 'preempted', preemptedBy: 'web', incidentId: 'x' },
    };
    await makeHandler(t.deps)(event);
    expect(startedInputs(t)[0]?.input).toMatchObject({ app: 'low', trigger: { kind: 'failure' } });
    expect(startedInputs(t)[0]?.input.fromNode).toBeUndefined();
  });

  it('rejects malformed events with ValidationError and no side effects', async () => {
    const handler = makeHandler(t.deps);
    const noName = alarmEvent('x');
    delete (noName.detail as Record<string, unknown>).alarmName;
    await expect(handler(noName)).rejects.toMatchObject({ name: ErrorNames.Validation, message: expect.stringContaining('alarmName') });
    await expect(handler({ hello: 'world' })).rejects.toMatchObject({ name: ErrorNames.Validation });
    await expect(handler(instanceEvent('not-an-instance'))).rejects.toMatchObject({ name: ErrorNames.Validation });
    await expect(handler({ ...alarmEvent('x'), source: 'aws.s3' })).rejects.toMatchObject({ name: ErrorNames.Validation });
    for (const stub of allStubs(t)) expect(stub.calls()).toHaveLength(0);
  });

  it('turns throttling of StartExecution into AwsThrottledError so the event is retried', async () => {
    t.sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(makeHandler(t.deps)(alarmEvent('rapid-failover-web-performance'))).rejects.toMatchObject({ name: ErrorNames.AwsThrottled });
  });

  it('keeps incident ids within the 80 characters an execution name allows', () => {
    const id = incidentIdOf({ app: 'a'.repeat(40), kind: 'performance', source: 'x'.repeat(500), observedAt: '2025-12-31T23:59:59.999Z' });
    expect(id.length).toBeLessThanOrEqual(80);
    expect(IncidentInputSchema.shape.incidentId.safeParse(id).success).toBe(true);
  });
});
