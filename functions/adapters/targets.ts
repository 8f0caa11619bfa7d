// The application's cluster: its ELB target groups (A8, A9).
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
  type ElasticLoadBalancingV2Client,
  type TargetDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { hasName } from '../aws-errors.ts';

export interface ClusterTarget {
  targetGroupArns: readonly string[];
  instanceId: string;
  port?: number | undefined;
}

/** initial / healthy / unhealthy / unused / draining / unavailable, per target group. */
export type TargetState = string;

function target(t: ClusterTarget): TargetDescription {
  return t.port === undefined ? { Id: t.instanceId } : { Id: t.instanceId, Port: t.port };
}

export async function targetHealth(elb: ElasticLoadBalancingV2Client, t: ClusterTarget): Promise<Map<string, { state: TargetState; reason: string }>> {
  const health = new Map<string, { state: TargetState; reason: string }>();
  for (const arn of t.targetGroupArns) {
    const out = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: [target(t)] }));
    const description = out.TargetHealthDescriptions?.find((d) => d.Target?.Id === t.instanceId);
    health.set(arn, {
      state: description?.TargetHealth?.State ?? 'unused',
      reason: [description?.TargetHealth?.Reason, description?.TargetHealth?.Description].filter(Boolean).join(': '),
    });
  }
  return health;
}

/** Sets the deregistration delay the application's policy asks for (the AWS default is 300 s). */
export async function setDeregistrationDelay(elb: ElasticLoadBalancingV2Client, targetGroupArn: string, seconds: number): Promise<void> {
  await elb.send(
    new ModifyTargetGroupAttributesCommand({
      TargetGroupArn: targetGroupArn,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: String(seconds) }],
    }),
  );
}

export async function registerTarget(elb: ElasticLoadBalancingV2Client, targetGroupArn: string, t: ClusterTarget): Promise<void> {
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: [target(t)] }));
}

/** Takes the node out of every target group; a target that is not (or no longer) there is fine. */
export async function deregisterTarget(elb: ElasticLoadBalancingV2Client, t: ClusterTarget): Promise<void> {
  for (const arn of t.targetGroupArns) {
    try {
      await elb.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: [target(t)] }));
    } catch (error) {
      if (!hasName(error, 'InvalidTargetException', 'InvalidTarget')) throw error;
    }
  }
}
