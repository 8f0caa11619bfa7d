import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../core/config.ts';
import { stackAlarmNames } from '../../core/detection.ts';
import { ErrorNames } from '../../core/errors.ts';
import { IncidentInputSchema } from '../../core/workflow-state.ts';
import { MetricNames } from '../../core/metrics.ts';
import { incidentIdOf, makeHandler, makeLambdaHandler } from '../../functions/handlers/intake.ts';
import { HOST, OLD, OWN_ALARM_ARN, STATE_MACHINE_ARN, TABLES, TEST_STACK, TG_WEB_2, allStubs, makeTestDeps, nodeId, testConfigInput, type TestContext } from './fixtures.ts';

const NAMES = stackAlarmNames(TEST_STACK);
const STATUS_CHECK_ALARM = NAMES.statusChecks;
const WEB_PERFORMANCE = NAMES.performance('web');

/**
 * AWS's own sample of a contributor event, copied from "Alarm events and EventBridge" → Multi
 * Time Series Alarm → Alarm Contributor Example
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html).
 */
const DOCUMENTED_CONTRIBUTOR_EVENT = {
  version: '0',
  id: '6d226bbc-07f0-9a31-3359-1736968f8ded',
  'detail-type': 'CloudWatch Alarm Contributor State Change',
  source: 'aws.cloudwatch',
  account: '123456789012',
  time: '2025-12-01T13:42:04Z',
  region: 'us-east-1',
  resources: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:DynamoDBInsightsAlarm'],
  detail: {
    alarmName: 'DynamoDBInsightsAlarm',
    alarmContributor: {
      id: '6d442278dba546f6',
      attributes: {
        TableName: 'example-dynamodb-table-name',
      },
    },
    state: {
      value: 'ALARM',
      reason: 'Threshold Crossed: 1 datapoint was less than the threshold (1.0). The most recent datapoint which crossed the threshold: [0.0 (01/12/25 13:34:00)].',
      timestamp: '2025-12-01T13:42:04.919+0000',
    },
    configuration: {
      metrics: [
        {
          id: 'm1',
          expression: 'SELECT AVG(ConsumedWriteCapacityUnits) FROM "AWS/DynamoDB" GROUP BY TableName ORDER BY MAX() DESC',
          returnData: true,
          period: 60,
        },
      ],
      description: 'Metrics Insights alarm for DynamoDB ConsumedWriteCapacity per TableName',
    },
    muteDetail: {
      mutedByArn: 'arn:aws:cloudwatch:us-east-1:1234567890:alarm-mute-rule:testMute',
      muteWindowStart: '2026-01-01T10:00:00.000+0000',
      muteWindowEnd: '2026-01-01T12:00:00.000+0000',
    },
  },
};

/** The documented sample with this stack's alarm, one of its time series, and a state. */
function contributorEvent(alarmName: string, attributes: Record<string, string>, value = 'ALARM', id = 'a1b2c3d4e5f60718') {
  const event = structuredClone(DOCUMENTED_CONTRIBUTOR_EVENT);
  event.resources = [`arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${alarmName}`];
  Object.assign(event.detail, { alarmName, alarmContributor: { id, attributes } });
  event.detail.state.value = value;
  return event;
}

const SHOP_LB = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop/0123456789abcdef';

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
    const result = await makeHandler(t.deps)(alarmEvent(WEB_PERFORMANCE));

    const [started] = startedInputs(t);
    expect(started?.stateMachineArn).toBe(STATE_MACHINE_ARN);
    expect(started?.input).toMatchObject({ app: 'web', trigger: { kind: 'performance', source: WEB_PERFORMANCE, observedAt: '2025-03-01T11:59:00.123Z' } });
    expect(started?.name).toBe(started?.input.incidentId);
    expect(started?.name).toMatch(/^20250301T115900-web-performance-[0-9a-f]{6}$/);
    expect(result).toEqual({ started: [started?.name], deduplicated: [], ignored: [] });
  });

  it("A11: the application's own alarm ARNs are failures", async () => {
    await makeHandler(t.deps)({ ...alarmEvent('failover-trigger-reports-process-down'), resources: [OWN_ALARM_ARN] });
    expect(startedInputs(t).map((s) => [s.input.app, s.input.trigger.kind])).toEqual([['reports', 'failure']]);
  });

  it("A11: AWS's documented contributor event parses; a contributor of an alarm that is not this stack's starts nothing", async () => {
    const result = await makeHandler(t.deps)(DOCUMENTED_CONTRIBUTOR_EVENT);
    expect(result).toEqual({
      started: [],
      deduplicated: [],
      ignored: ['DynamoDBInsightsAlarm contributor 6d442278dba546f6 (TableName=example-dynamodb-table-name): not an alarm of this stack'],
    });
    expect(t.sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('A11: a status-check contributor is a failure of the application its instance serves, about that instance', async () => {
    // OLD is web's preferred node; the state table knows nothing else.
    const result = await makeHandler(t.deps)(contributorEvent(STATUS_CHECK_ALARM, { InstanceId: OLD }));
    const [started, ...others] = startedInputs(t);
    expect(others).toEqual([]);
    expect(started?.input).toMatchObject({
      app: 'web',
      fromNode: OLD,
      trigger: { kind: 'failure', source: `${STATUS_CHECK_ALARM}/a1b2c3d4e5f60718`, observedAt: '2025-12-01T13:42:04.919Z' },
    });
    expect(started?.input.trigger.reason).toMatch(new RegExp(`^EC2 status checks failed on ${OLD}: Threshold Crossed`));
    expect(result.started).toEqual([started?.name]);
  });

  it('B1: a status-check contributor on a virtual-node host fails every application the host serves', async () => {
    t.ddb.on(BatchGetCommand).resolves({
      Responses: { [TABLES.state]: [{ app: 'reports', currentNode: HOST }, { app: 'audit', currentNode: HOST }, { app: 'db', currentNode: nodeId(5) }] },
    });
    await makeHandler(t.deps)(contributorEvent(STATUS_CHECK_ALARM, { InstanceId: HOST }));
    const started = startedInputs(t);
    expect(started.map((s) => s.input.app).sort()).toEqual(['audit', 'reports']);
    expect(started.every((s) => s.input.fromNode === HOST)).toBe(true);
    // Two applications, one contributor: two incidents, each named by its application.
    expect(new Set(started.map((s) => s.name)).size).toBe(2);
  });

  it('A11: two instances failing at once are two incidents: the contributor, not only the alarm, names the incident', async () => {
    t.ddb.on(BatchGetCommand).resolves({ Responses: { [TABLES.state]: [{ app: 'db', currentNode: nodeId(5) }] } });
    const handler = makeHandler(t.deps);
    await handler(contributorEvent(STATUS_CHECK_ALARM, { InstanceId: OLD }, 'ALARM', '0000000000000001'));
    await handler(contributorEvent(STATUS_CHECK_ALARM, { InstanceId: nodeId(5) }, 'ALARM', '0000000000000002'));
    expect(startedInputs(t).map((s) => [s.input.app, s.input.fromNode])).toEqual([
      ['web', OLD],
      ['db', nodeId(5)],
    ]);
  });

  it('A11: a target-health contributor fails the applications registered in that target group behind that load balancer', async () => {
    const input = testConfigInput();
    const web = input.applications.find((a) => a.name === 'web')!;
    web.detection = { ...web.detection, failure: { statusChecks: true, targetHealth: { loadBalancerArn: SHOP_LB } } };
    t = makeTestDeps(parseConfig(input, 'test config'));
    const handler = makeHandler(t.deps);
    const alarm = NAMES.targetHealth('app/shop/0123456789abcdef');
    await handler(contributorEvent(alarm, { LoadBalancer: 'app/shop/0123456789abcdef', TargetGroup: TG_WEB_2.split(':').at(-1)! }));
    const other = await handler(contributorEvent(alarm, { LoadBalancer: 'app/shop/0123456789abcdef', TargetGroup: 'targetgroup/not-ours/0123456789abcdef' }));
    expect(startedInputs(t).map((s) => [s.input.app, s.input.trigger.kind, s.input.fromNode])).toEqual([['web', 'failure', undefined]]);
    expect(startedInputs(t)[0]?.input.trigger.reason).toMatch(/^UnHealthyHostCount >= 1 in targetgroup\/web2\/0123456789abcdee of app\/shop\/0123456789abcdef: /);
    expect(other.ignored).toEqual([expect.stringContaining('holds no application that watches target health')]);
  });

  it('ignores a contributor going OK and a failing instance that serves no application, without starting anything', async () => {
    const handler = makeHandler(t.deps);
    const ok = await handler(contributorEvent(STATUS_CHECK_ALARM, { InstanceId: OLD }, 'OK'));
    const stranger = await handler(contributorEvent(STATUS_CHECK_ALARM, { InstanceId: nodeId(77) }));
    expect(ok.ignored).toEqual([`${STATUS_CHECK_ALARM} contributor a1b2c3d4e5f60718 (InstanceId=${OLD}) is OK`]);
    expect(stranger.ignored).toEqual([`${nodeId(77)} (${STATUS_CHECK_ALARM}) serves no application that watches status checks`]);
    expect(t.sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('rejects a malformed contributor event with a ValidationError naming the field, and no side effects', async () => {
    const handler = makeHandler(t.deps);
    const noAttributes = contributorEvent(STATUS_CHECK_ALARM, {});
    delete (noAttributes.detail.alarmContributor as Record<string, unknown>).attributes;
    await expect(handler(noAttributes)).rejects.toMatchObject({ name: ErrorNames.Validation, message: expect.stringContaining('alarmContributor.attributes') });
    const notAnInstance = contributorEvent(STATUS_CHECK_ALARM, { InstanceId: 'web-1' });
    await expect(handler(notAnInstance)).rejects.toMatchObject({ name: ErrorNames.Validation, message: expect.stringContaining('attributes.InstanceId') });
    for (const stub of allStubs(t)) expect(stub.calls()).toHaveLength(0);
  });

  it('ignores alarms going OK or INSUFFICIENT_DATA and alarms of no application, without starting anything', async () => {
    const handler = makeHandler(t.deps);
    const ok = await handler(alarmEvent(WEB_PERFORMANCE, 'OK'));
    const unknown = await handler(alarmEvent('someone-elses-alarm'));
    const insufficient = await handler(alarmEvent(WEB_PERFORMANCE, 'INSUFFICIENT_DATA'));
    expect(ok.ignored).toEqual([`alarm ${WEB_PERFORMANCE} is OK`]);
    expect(unknown.ignored).toEqual(['alarm someone-elses-alarm belongs to no application']);
    expect(insufficient.started).toEqual([]);
    expect(t.sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('dedupes a redelivered event: the same execution name, and ExecutionAlreadyExists counts as deduplicated', async () => {
    const handler = makeHandler(t.deps);
    const first = await handler(alarmEvent(WEB_PERFORMANCE));
    t.sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const again = await handler(alarmEvent(WEB_PERFORMANCE));
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
    await expect(makeHandler(t.deps)(alarmEvent(WEB_PERFORMANCE))).rejects.toMatchObject({ name: ErrorNames.AwsThrottled });
  });

  it("Second stack: starts failovers only for its own stack's alarms (their names carry the stack's name, from RAPID_FAILOVER_STACK)", async () => {
    const handler = makeHandler(t.deps);
    const other = stackAlarmNames('RapidFailoverOther');
    const performance = await handler(alarmEvent(other.performance('web')));
    const status = await handler(contributorEvent(other.statusChecks, { InstanceId: OLD }));
    const health = await handler(contributorEvent(other.targetHealth('app/shop/0123456789abcdef'), { LoadBalancer: 'app/shop/0123456789abcdef', TargetGroup: TG_WEB_2.split(':').at(-1)! }));
    expect(performance.ignored).toEqual([`alarm ${other.performance('web')} belongs to no application`]);
    expect(status.ignored).toEqual([expect.stringMatching(/not an alarm of this stack$/)]);
    expect(health.ignored).toEqual([expect.stringMatching(/not an alarm of this stack$/)]);
    expect(t.sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    // The same application's alarm of this stack does start one.
    expect((await handler(alarmEvent(NAMES.performance('web')))).started).toHaveLength(1);
  });

  it('does not guess whose alarm it is: without RAPID_FAILOVER_STACK an alarm event fails (and is retried, then kept), nothing starts', async () => {
    const { stackName: _, ...withoutStack } = t.deps.env;
    const handler = makeHandler({ ...t.deps, env: withoutStack });
    await expect(handler(alarmEvent(WEB_PERFORMANCE))).rejects.toThrow(/RAPID_FAILOVER_STACK/);
    expect(t.sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('the Lambda entry answers a malformed event (logged with the event, counted, not thrown: a retry cannot fix it) and starts nothing', async () => {
    const logged = vi.spyOn(t.deps.logger, 'error');
    const answer = await makeLambdaHandler(t.deps)({ hello: 'world' });
    expect(answer).toEqual({ started: [], deduplicated: [], ignored: [], rejected: [expect.stringMatching(/^intake: not an EventBridge event: /)] });
    expect(logged).toHaveBeenCalledWith(expect.stringMatching(/^malformed event rejected/), expect.objectContaining({ event: { hello: 'world' }, reason: expect.stringContaining('id') }));
    expect(t.addMetric).toHaveBeenCalledWith(MetricNames.MalformedEvents, 'Count', 1);
    for (const stub of allStubs(t)) expect(stub.calls()).toHaveLength(0);
  });

  it('the Lambda entry throws a throttled StartExecution, so Lambda retries the event and then sends it to the on-failure destination', async () => {
    t.sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(makeLambdaHandler(t.deps)(alarmEvent(WEB_PERFORMANCE))).rejects.toMatchObject({ name: ErrorNames.AwsThrottled });
    expect(t.addMetric).not.toHaveBeenCalledWith(MetricNames.MalformedEvents, expect.anything(), expect.anything());
  });

  it('keeps incident ids within the 80 characters an execution name allows', () => {
    const id = incidentIdOf({ app: 'a'.repeat(40), kind: 'performance', source: 'x'.repeat(500), observedAt: '2025-12-31T23:59:59.999Z' });
    expect(id.length).toBeLessThanOrEqual(80);
    expect(IncidentInputSchema.shape.incidentId.safeParse(id).success).toBe(true);
  });
});
