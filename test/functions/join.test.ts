import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CancelCommandCommand, GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../core/config.ts';
import { ErrorNames } from '../../core/errors.ts';
import { makeHandler } from '../../functions/handlers/join.ts';
import { NEW, NOW, TABLES, TG_WEB, TG_WEB_2, claimItem, ledgerHas, makeTestDeps, testConfigInput, workflowState, type TestContext, waitOf } from './fixtures.ts';

const READINESS = { name: 'AWS-RunShellScript', parameters: { commands: ['curl -fsS localhost:8080/ready'] } };
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();

function health(t: TestContext, states: Record<string, string | { state: string; reason: string }>) {
  for (const [arn, value] of Object.entries(states)) {
    const { state, reason } = typeof value === 'string' ? { state: value, reason: value === 'unhealthy' ? 'Target.FailedHealthChecks' : undefined } : value;
    t.elb.on(DescribeTargetHealthCommand, { TargetGroupArn: arn }).resolves({
      TargetHealthDescriptions: [{ Target: { Id: NEW, Port: 8080 }, TargetHealth: { State: state as never, Reason: reason as never } }],
    });
  }
}

/** The claim as touchClaim returns it: joinStartedAt set, plus `fields`. */
function claim(t: TestContext, fields: Record<string, unknown> = {}) {
  const item = claimItem(NEW, { joinStartedAt: NOW.toISOString(), ...fields });
  t.ddb.on(UpdateCommand, { TableName: TABLES.claims }).resolves({ Attributes: item });
  t.ddb.on(UpdateCommand, { TableName: TABLES.claims, ExpressionAttributeNames: { '#n0': 'joinRegisteredAt' } }).resolves({
    Attributes: { ...item, joinRegisteredAt: NOW.toISOString() },
  });
}

interface Listed {
  purpose: string;
  status: string;
  sentAt: string;
}

/** A command the join sent earlier (the first document of `purpose`), and its status now. */
function listed(purpose: string, status: string, sentAt = NOW.toISOString()): Listed {
  return { purpose, status, sentAt };
}

/** The incident's command ledger holds these commands on NEW; SSM reports their statuses. */
function commands(t: TestContext, ...found: Listed[]) {
  ledgerHas(t, found.map((c) => ({ instanceId: NEW, purpose: c.purpose, index: 0, commandId: `${c.purpose}-0`, sentAt: c.sentAt })));
  for (const c of found) t.ssm.on(GetCommandInvocationCommand, { CommandId: `${c.purpose}-0` }).resolves({ Status: c.status as never, StatusDetails: c.status });
}

/** Both target groups behind one load balancer of `type`, with these health-check settings. */
function targetGroups(t: TestContext, type: 'application' | 'network', interval = 30, healthy = 5, unhealthy = 2) {
  const lb = `arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/${type === 'network' ? 'net' : 'app'}/web/0123456789abcdef`;
  t.elb.on(DescribeTargetGroupsCommand).resolves({
    TargetGroups: [TG_WEB, TG_WEB_2].map((arn) => ({
      TargetGroupArn: arn,
      LoadBalancerArns: [lb],
      HealthCheckIntervalSeconds: interval,
      HealthyThresholdCount: healthy,
      UnhealthyThresholdCount: unhealthy,
    })),
  });
  t.elb.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ LoadBalancerArn: lb, LoadBalancerName: 'web', Type: type, AvailabilityZones: [{ ZoneName: 'eu-west-1a' }] }] });
}

function withReadiness(): TestContext {
  const input = testConfigInput();
  const web = input.applications[0]!;
  input.applications[0] = { ...web, cluster: { ...web.cluster, readinessCommand: READINESS } };
  return makeTestDeps(ConfigSchema.parse(input));
}

describe('join: the application first, registration after (A9, C3)', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
    claim(t);
  });

  it('A9, ALB rule "a target that fails its initial checks needs HealthyThresholdCount": while the run documents run, the node is not registered', async () => {
    health(t, { [TG_WEB]: 'unused', [TG_WEB_2]: 'unused' });

    const wait = await waitOf(makeHandler(t.deps)(workflowState()));
    expect(wait.detail).toContain('run documents');
    // Its end event resumes the join (no poll): the workflow allows the document 120 + 600 + 60 s.
    expect(wait.event).toEqual({ key: `ssm:cmd-sent-1:${NEW}`, since: NOW.toISOString(), expect: ['Success'], then: 'again', timeoutSeconds: 660 });

    expect(t.ssm).toHaveReceivedCommandWith(SendCommandCommand, { InstanceIds: [NEW], Parameters: { commands: ['systemctl start web-sidecar'], executionTimeout: ['600'] } });
    expect(t.elb).not.toHaveReceivedCommand(RegisterTargetsCommand);
    expect(t.elb).not.toHaveReceivedCommand(ModifyTargetGroupAttributesCommand);
  });

  it('a run document still running when the join gives up (600 + 60 s) is cancelled before StepTimeoutError', async () => {
    claim(t, { joinStartedAt: ago(661) });
    health(t, { [TG_WEB]: 'unused', [TG_WEB_2]: 'unused' });
    commands(t, listed('run', 'InProgress', ago(650)));

    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.StepTimeout });
    expect(t.ssm).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: 'run-0', InstanceIds: [NEW] });
  });

  it("A9: once the run documents succeed, sets the application's deregistration delay and registers the node (with its port) in every target group", async () => {
    health(t, { [TG_WEB]: 'unused', [TG_WEB_2]: 'unused' });
    commands(t, listed('run', 'Success'));

    const state = await makeHandler(t.deps)(workflowState());

    // Join ends at registration: the workflow waits one health-check interval, then shift looks.
    expect(state.wait).toBeUndefined();
    expect(state.registered).toMatchObject({ at: NOW.toISOString(), firstCheckAt: new Date(NOW.getTime() + 30_000).toISOString() });
    for (const arn of [TG_WEB, TG_WEB_2]) {
      expect(t.elb).toHaveReceivedCommandWith(ModifyTargetGroupAttributesCommand, {
        TargetGroupArn: arn,
        Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '15' }],
      });
      expect(t.elb).toHaveReceivedCommandWith(RegisterTargetsCommand, { TargetGroupArn: arn, Targets: [{ Id: NEW, Port: 8080 }] });
    }
    expect(t.ddb).toHaveReceivedCommandWith(UpdateCommand, { ExpressionAttributeNames: expect.objectContaining({ '#n0': 'joinRegisteredAt' }) });
  });

  it('A9: a run document that failed is JoinFailedError, and nothing is registered', async () => {
    health(t, { [TG_WEB]: 'unused', [TG_WEB_2]: 'unused' });
    commands(t, listed('run', 'Failed'));

    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.JoinFailed, message: expect.stringContaining('run document 1') });
    expect(t.elb).not.toHaveReceivedCommand(RegisterTargetsCommand);
  });

  it('re-entered after registration: runs no document again, registers nothing again, and keeps the registration time', async () => {
    claim(t, { joinRegisteredAt: ago(10) });
    health(t, { [TG_WEB]: 'healthy', [TG_WEB_2]: 'initial' });

    const state = await makeHandler(t.deps)(workflowState());

    expect(state.registered).toMatchObject({ at: ago(10), firstCheckAt: new Date(NOW.getTime() + 20_000).toISOString() });
    expect(t.ssm.calls()).toEqual([]);
    expect(t.elb).not.toHaveReceivedCommand(RegisterTargetsCommand);
  });

  it("A6, ELB rule Target.NotInUse (the node's zone is not enabled): JoinFailedError at once, not registered again", async () => {
    claim(t, { joinRegisteredAt: ago(10) });
    health(t, { [TG_WEB]: 'healthy', [TG_WEB_2]: { state: 'unused', reason: 'Target.NotInUse' } });

    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.JoinFailed, message: expect.stringContaining('Target.NotInUse') });
    expect(t.elb).not.toHaveReceivedCommand(RegisterTargetsCommand);
  });
});

describe('join: the time allowed follows from the target groups (A9), for shift to apply', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
    claim(t, { joinRegisteredAt: ago(10) });
    health(t, { [TG_WEB]: 'initial', [TG_WEB_2]: 'initial' });
  });

  it('ALB, checks every 5 s, thresholds 2 and 2: 30 + 5 × 4 + 60 = 110 s after registration; the first check 5 s after it', async () => {
    targetGroups(t, 'application', 5, 2, 2);
    const state = await makeHandler(t.deps)(workflowState());
    expect(state.registered).toMatchObject({ budgetSeconds: 110, firstCheckAt: new Date(NOW.getTime() - 5_000).toISOString() });
    expect(state.registered?.groups).toEqual([TG_WEB, TG_WEB_2].map((targetGroupArn) => ({ targetGroupArn, intervalSeconds: 5, healthyThreshold: 2 })));
  });

  it('NLB rule "it can take a few minutes for the registration process to complete": 300 + 30 × 7 + 60 = 570 s are allowed', async () => {
    targetGroups(t, 'network');
    expect((await makeHandler(t.deps)(workflowState())).registered?.budgetSeconds).toBe(570);
  });
});

describe('join: the readiness command (A9, cluster.readinessCommand)', () => {
  let t: TestContext;
  beforeEach(() => {
    t = withReadiness();
    claim(t);
    health(t, { [TG_WEB]: 'unused', [TG_WEB_2]: 'unused' });
  });

  it('after the run documents, sends the readiness command and does not register while it runs', async () => {
    commands(t, listed('run', 'Success'));

    expect((await waitOf(makeHandler(t.deps)(workflowState()))).detail).toEqual(expect.stringContaining('readiness check 1'));

    expect(t.ssm).toHaveReceivedCommandWith(SendCommandCommand, { InstanceIds: [NEW], Parameters: { ...READINESS.parameters, executionTimeout: ['600'] } });
    expect(t.elb).not.toHaveReceivedCommand(RegisterTargetsCommand);
  });

  it('a failed check moves on to the next attempt, still without registering', async () => {
    commands(t, listed('run', 'Success'), listed('ready#1', 'Failed'));

    const wait = await waitOf(makeHandler(t.deps)(workflowState()));
    expect(wait.detail).toContain('not ready yet');
    expect(wait.until).toBe(new Date(NOW.getTime() + 2_000).toISOString());

    expect(t.ddb).toHaveReceivedCommandWith(UpdateCommand, {
      ConditionExpression: expect.stringContaining('attribute_not_exists'),
      ExpressionAttributeValues: expect.objectContaining({ ':v1': 2 }),
    });
    expect(t.elb).not.toHaveReceivedCommand(RegisterTargetsCommand);
  });

  it('the attempt the claim names is the one checked; once it succeeds the node is registered', async () => {
    claim(t, { readinessAttempt: 3 });
    commands(t, listed('run', 'Success'), listed('ready#1', 'Failed'), listed('ready#2', 'Failed'), listed('ready#3', 'Success'));

    const state = await makeHandler(t.deps)(workflowState());

    expect(state.registered?.at).toBe(NOW.toISOString());
    expect(t.elb).toHaveReceivedCommandTimes(RegisterTargetsCommand, 2);
  });

  it('still failing once the run documents and the readiness command have had their time (600 + 600 + 60 s) is JoinFailedError', async () => {
    claim(t, { joinStartedAt: ago(1_261), readinessAttempt: 4 });
    commands(t, listed('run', 'Success'), listed('ready#4', 'Failed'));

    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.JoinFailed, message: expect.stringContaining('not ready') });
    expect(t.elb).not.toHaveReceivedCommand(RegisterTargetsCommand);
  });
});
