// The least one failover needs, per resource, with the reason: what the measured counts are
// compared with. The shape: a failure trigger, one application with `documents` provisioning
// documents, `targetGroups` target groups and an Elastic IP; the old host is fenced by stopping
// it. "Minimum" assumes waiting is event-driven (a callback or one read once the wait is
// over) and that nothing is looked up that the configuration or the workflow state knows.
import type { FailoverCase } from './scenarios.ts';

export interface Minimum {
  /** "service:Command", as the fleet counts calls. */
  command: string;
  count: number;
  why: string;
}

export interface FailoverShape {
  documents: number;
  targetGroups: number;
}

export function minimumApiCalls(c: FailoverCase, shape: FailoverShape): Minimum[] {
  const { documents: d, targetGroups: t } = shape;
  const rows: Minimum[] = [
    {
      command: 'ec2:DescribeInstances',
      count: 2,
      why: 'one page lists the pool (≤ 1000 nodes; the claimed node’s state and interface travel in the workflow state); one read confirms the fenced host stopped (C1)' + (c.poolNodeState === 'stopped' ? '; the started node’s running event says it runs' : ''),
    },
    { command: 'ec2:DescribeInstanceTypes', count: 1, why: 'hardware of the pool’s types, once per cold cache (0 when warm)' },
    { command: 'ec2:DescribeInstanceStatus', count: c.poolNodeState === 'stopped' ? 0 : 1, why: 'status checks of the running candidates, one page' },
  ];
  if (c.poolNodeState === 'stopped') rows.push({ command: 'ec2:StartInstances', count: 1, why: 'start the stopped node (A2)' });
  if (c.method === 'boot-volume') {
    rows.push(
      { command: 'ec2:DescribeImages', count: 1, why: 'the AMI’s architecture, virtualization type, product codes and billing, matched against each node before one is claimed (A4)' },
      { command: 'ec2:CreateReplaceRootVolumeTask', count: 1, why: 'one swap (A4)' },
      { command: 'ec2:DescribeReplaceRootVolumeTasks', count: 1, why: 'one read once it has succeeded' },
    );
  } else {
    rows.push(
      { command: 'ssm:SendCommand', count: d, why: '1 per provisioning document' },
      { command: 'ssm:GetCommandInvocation', count: d, why: '1 result read per document' },
      { command: 'ssm:ListCommands', count: 0, why: 'the command id can be carried in the workflow state' },
    );
  }
  rows.push(
    { command: 'elbv2:DescribeTargetGroups', count: 1, why: 'health-check settings and load balancers of the target groups, once per cold cache (A6, A9)' },
    { command: 'elbv2:DescribeLoadBalancers', count: 1, why: 'their load balancers’ type and enabled zones, once per cold cache (A6, A9)' },
    { command: 'elbv2:RegisterTargets', count: t, why: '1 per target group (A9)' },
    { command: 'elbv2:DescribeTargetHealth', count: t, why: '1 read per target group once healthy' },
    { command: 'elbv2:ModifyTargetGroupAttributes', count: 0, why: 'deregistration delay can be set once, at deploy' },
    { command: 'ec2:StopInstances', count: 1, why: 'fence the failed host (failure trigger)' },
    { command: 'elbv2:DeregisterTargets', count: t, why: '1 per target group' },
    { command: 'ec2:DescribeAddresses', count: 0, why: 'AssociateAddress with AllowReassociation needs no lookup' },
    { command: 'ec2:AssociateAddress', count: 1, why: 'move the Elastic IP (C1)' },
    { command: 'ec2:CreateTags', count: 2, why: 'the serving tag moves (detection follows it): the new node is tagged serving, the old one its new role' },
    { command: 'ec2:DeleteTags', count: 0, why: 'the application and incident tags are bookkeeping' },
    { command: 'eventbridge:PutEvents', count: 1, why: "one 'Service Up' event (C8)" },
    { command: 'sns:Publish', count: 1, why: 'tell administrators the failed host is quarantined' },
  );
  return rows;
}

export interface CountMinimum {
  count: number;
  why: string;
}

/** Lambda invocations: each Task state once (no poll retries), and intake once. */
export function minimumInvocations(taskEntries: number): CountMinimum {
  return { count: taskEntries + 1, why: `${taskEntries} Task states entered once each, no poll retries, + 1 intake` };
}

/** State transitions: the same path, each state entered once. */
export function minimumTransitions(entered: number): CountMinimum {
  return { count: entered, why: 'the same states entered once each: waits by callback (.waitForTaskToken) or event instead of Retry polls' };
}

export const MINIMUM_DDB = {
  reads: { count: 2, why: 'selection reads the claims and the applications’ state once each' },
  writes: {
    count: 5,
    why: 'lock; claim (one transaction); serving commit (one transaction: claim + state); release of the old node; finish (record + unlock in one transaction)',
  },
} as const;
