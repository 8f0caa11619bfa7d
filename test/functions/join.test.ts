import {
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CancelCommandCommand, GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../core/errors.ts';
import { makeHandler } from '../../functions/handlers/join.ts';
import { NEW, NOW, TABLES, TG_WEB, TG_WEB_2, claimItem, ledgerHas, makeTestDeps, workflowState, type TestContext } from './fixtures.ts';

function health(t: TestContext, states: Record<string, string>) {
  for (const [arn, state] of Object.entries(states)) {
    t.elb.on(DescribeTargetHealthCommand, { TargetGroupArn: arn }).resolves({
      TargetHealthDescriptions: [{ Target: { Id: NEW, Port: 8080 }, TargetHealth: { State: state as never, Reason: state === 'unhealthy' ? 'Target.FailedHealthChecks' : undefined } }],
    });
  }
}

function runDocument(t: TestContext, status: 'Success' | 'InProgress', sentAt = NOW.toISOString()) {
  ledgerHas(t, [{ instanceId: NEW, purpose: 'run', index: 0, commandId: 'run-0', sentAt }]);
  t.ssm.on(GetCommandInvocationCommand, { CommandId: 'run-0' }).resolves({ Status: status });
}

const runDocumentDone = (t: TestContext) => runDocument(t, 'Success');

describe('join', () => {
  let t: TestContext;
  beforeEach(() => {
    t = makeTestDeps();
    t.ddb.on(UpdateCommand, { TableName: TABLES.claims }).resolves({ Attributes: claimItem(NEW, { joinStartedAt: NOW.toISOString() }) });
  });

  it("A9: sets the application's deregistration delay and registers the node (with its port) in every target group", async () => {
    health(t, { [TG_WEB]: 'unused', [TG_WEB_2]: 'unused' });
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.StepPending });

    for (const arn of [TG_WEB, TG_WEB_2]) {
      expect(t.elb).toHaveReceivedCommandWith(ModifyTargetGroupAttributesCommand, {
        TargetGroupArn: arn,
        Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '15' }],
      });
      expect(t.elb).toHaveReceivedCommandWith(RegisterTargetsCommand, { TargetGroupArn: arn, Targets: [{ Id: NEW, Port: 8080 }] });
    }
  });

  it('C3: runs the run documents on the new node', async () => {
    health(t, { [TG_WEB]: 'initial', [TG_WEB_2]: 'initial' });
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.StepPending });
    expect(t.ssm).toHaveReceivedCommandWith(SendCommandCommand, { InstanceIds: [NEW], Parameters: { commands: ['systemctl start web-sidecar'], executionTimeout: ['600'] } });
  });

  it('a run document still running when the join times out is cancelled before the step gives up', async () => {
    t.ddb.on(UpdateCommand, { TableName: TABLES.claims }).resolves({ Attributes: claimItem(NEW, { joinStartedAt: new Date(NOW.getTime() - 601_000).toISOString() }) });
    health(t, { [TG_WEB]: 'initial', [TG_WEB_2]: 'initial' });
    runDocument(t, 'InProgress', new Date(NOW.getTime() - 590_000).toISOString());
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.StepTimeout });
    expect(t.ssm).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: 'run-0', InstanceIds: [NEW] });
  });

  it("polls while targets are 'initial' and does not register them again", async () => {
    health(t, { [TG_WEB]: 'healthy', [TG_WEB_2]: 'initial' });
    runDocumentDone(t);
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.StepPending, message: expect.stringContaining('initial') });
    expect(t.elb).not.toHaveReceivedCommand(RegisterTargetsCommand);
  });

  it('completes once healthy in every group', async () => {
    health(t, { [TG_WEB]: 'healthy', [TG_WEB_2]: 'healthy' });
    runDocumentDone(t);
    const state = await makeHandler(t.deps)(workflowState());
    expect(state.progress['join.healthyAt']).toBe(NOW.toISOString());
    expect(state.explanation.at(-1)).toContain('A9');
  });

  it('unhealthy past the join timeout is JoinFailedError', async () => {
    t.ddb.on(UpdateCommand, { TableName: TABLES.claims }).resolves({ Attributes: claimItem(NEW, { joinStartedAt: new Date(NOW.getTime() - 3_600_000).toISOString() }) });
    health(t, { [TG_WEB]: 'healthy', [TG_WEB_2]: 'unhealthy' });
    runDocumentDone(t);
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.JoinFailed, message: expect.stringContaining('Target.FailedHealthChecks') });
  });

  it('unhealthy within the timeout is still polled', async () => {
    health(t, { [TG_WEB]: 'unhealthy', [TG_WEB_2]: 'healthy' });
    runDocumentDone(t);
    await expect(makeHandler(t.deps)(workflowState())).rejects.toMatchObject({ name: ErrorNames.StepPending });
  });
});
