// A config that cannot deploy fails at synth: every ARN it names must be in the stack's region
// (and partition) and, where AWS allows no other, in the stack's account. Checked at synth by the
// stack (lib/rapid-failover.ts) like any other config error: one line per problem, naming the field.
import type { Config } from './config.ts';

export interface DeployTarget {
  /** Undefined in an env-agnostic stack: the ARNs are then checked against each other. */
  region?: string;
  account?: string;
  /** The region's partition (aws, aws-cn, aws-us-gov…), when known. */
  partition?: string;
}

type ArnKind = 'target group' | 'load balancer' | 'alarm' | 'SSM document' | 'KMS key';

interface NamedArn {
  path: string;
  kind: ArnKind;
  partition: string;
  region: string;
  account: string;
}

/**
 * Which kinds must be in the stack's own account. A target group or load balancer of another
 * account cannot be used: Elastic Load Balancing has no resource-based policies, so the workflow's
 * role could not register targets there. An alarm of another account sends its state changes to
 * that account's event bus, which the stack's rules never see. A shared SSM document is run by its
 * ARN from other accounts of the same Region ("Sharing SSM documents", Systems Manager User Guide:
 * "Documents can be shared with other accounts in the same AWS Region only"), and a customer managed
 * key of another account can encrypt an AMI shared with this one ("Share the KMS key used to encrypt
 * a shared Amazon EBS snapshot", Amazon EBS User Guide): those two may name another account.
 */
const SAME_ACCOUNT: Readonly<Record<ArnKind, boolean>> = {
  'target group': true,
  'load balancer': true,
  alarm: true,
  'SSM document': false,
  'KMS key': false,
};

const ARN = /^arn:([^:]+):([^:]+):([^:]*):([^:]*):/;

/** Every ARN the config names, with its field path, in the order the config lists them. */
export function configArns(config: Config): NamedArn[] {
  const found: NamedArn[] = [];
  const add = (path: string, kind: ArnKind, value: string | undefined) => {
    const match = value ? ARN.exec(value) : null;
    if (match) found.push({ path, kind, partition: match[1]!, region: match[3]!, account: match[4]! });
  };
  config.applications.forEach((app, i) => {
    const at = `applications[${i}]`;
    app.cluster.targetGroupArns.forEach((arn, k) => add(`${at}.cluster.targetGroupArns[${k}]`, 'target group', arn));
    add(`${at}.detection.failure.targetHealth.loadBalancerArn`, 'load balancer', app.detection.failure.targetHealth?.loadBalancerArn);
    app.detection.failure.alarmArns.forEach((arn, k) => add(`${at}.detection.failure.alarmArns[${k}]`, 'alarm', arn));
    add(`${at}.provisioning.kmsKeyArn`, 'KMS key', app.provisioning.kmsKeyArn);
    app.provisioning.documents.forEach((doc, k) => add(`${at}.provisioning.documents[${k}].name`, 'SSM document', doc.name));
    app.run.forEach((doc, k) => add(`${at}.run[${k}].name`, 'SSM document', doc.name));
    app.halt.forEach((doc, k) => add(`${at}.halt[${k}].name`, 'SSM document', doc.name));
    add(`${at}.cluster.readinessCommand.name`, 'SSM document', app.cluster.readinessCommand?.name);
  });
  return found;
}

/**
 * One line per ARN that cannot work in the stack's region, partition or account, naming the field:
 * `applications[2].cluster.targetGroupArns[0]: region eu-west-1 differs from the stack's us-east-1; …`.
 * In an env-agnostic stack (no region or account known at synth) the ARNs are compared with the
 * first ARN of the config instead, so they must at least agree with each other; the stack then
 * carries a CloudFormation rule that refuses to deploy anywhere else (lib/rapid-failover.ts).
 */
export function deployTargetProblems(config: Config, target: DeployTarget): string[] {
  const arns = configArns(config);
  const reference = configDeployTarget(config);
  const expected = (own: string | undefined, fromConfig: string | undefined) =>
    own !== undefined ? { value: own, said: `the stack's ${own}` } : fromConfig !== undefined ? { value: fromConfig, said: `${fromConfig} of ${reference?.path} (the stack is env-agnostic: its ARNs must agree with each other)` } : undefined;
  const region = expected(target.region, reference?.region);
  const account = expected(target.account, reference?.account);
  const partition = expected(target.partition, target.region === undefined ? reference?.partition : undefined);
  const problems: string[] = [];
  for (const arn of arns) {
    const issues: string[] = [];
    if (partition && arn.partition !== partition.value) issues.push(`partition ${arn.partition} differs from ${partition.said}`);
    if (region && arn.region !== region.value) issues.push(`region ${arn.region} differs from ${region.said}`);
    if (account && SAME_ACCOUNT[arn.kind] && arn.account !== account.value) issues.push(`account ${arn.account} differs from ${account.said}`);
    if (issues.length > 0) problems.push(`${arn.path}: ${issues.join(', ')}; ${fixFor(arn.kind)}`);
  }
  return problems;
}

function fixFor(kind: ArnKind): string {
  switch (kind) {
    case 'target group':
    case 'load balancer':
      return `a ${kind} is usable only in the stack's own region and account: deploy the stack there (cdk deploy with that account's credentials and AWS_REGION), or name a ${kind} of this one`;
    case 'alarm':
      return "an alarm's state changes reach only the event bus of its own region and account: deploy the stack there, or name an alarm of this one";
    case 'SSM document':
      return 'SSM documents are shared only within one Region: name a document of the stack\'s region';
    case 'KMS key':
      return "KMS keys are regional: name a key in the stack's region";
  }
}

/** The region and account the config's ARNs name (its first ARN's; target groups are never empty), for an env-agnostic stack and the local runtime. */
export function configDeployTarget(config: Config): { region: string; account: string; partition: string; path: string } | undefined {
  const arns = configArns(config);
  const first = arns.find((a) => SAME_ACCOUNT[a.kind]) ?? arns[0];
  return first ? { region: first.region, account: first.account, partition: first.partition, path: first.path } : undefined;
}
