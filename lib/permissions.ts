import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Config, SsmDocument } from '../core/config.ts';

/** Tag keys the control plane writes on pool nodes; it may write no others. */
export const CONTROL_TAG_PREFIX = 'rapid-failover:';

/** EC2 actions that change a pool node: allowed only on instances carrying a pool tag. */
export const POOL_NODE_ACTIONS = [
  'ec2:StartInstances',
  'ec2:StopInstances',
  'ec2:CreateReplaceRootVolumeTask',
  'ec2:ModifyInstanceAttribute',
  'ec2:AssociateAddress',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
] as const;

/** Read-only calls that IAM does not scope to resources. */
export const READ_ONLY_ACTIONS = [
  'ec2:DescribeInstances',
  'ec2:DescribeInstanceTypes',
  'ec2:DescribeInstanceStatus',
  'ec2:DescribeReplaceRootVolumeTasks',
  'ec2:DescribeAddresses',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DescribeImages',
  'ssm:GetCommandInvocation',
  'ssm:DescribeInstanceInformation',
  'ssm:ListCommands',
  'ssm:ListCommandInvocations',
  'elasticloadbalancing:DescribeTargetHealth',
  'elasticloadbalancing:DescribeTargetGroupAttributes',
  'elasticloadbalancing:DescribeTargetGroups',
  'elasticloadbalancing:DescribeLoadBalancers',
  'cloudwatch:GetMetricData',
] as const;

/** Pool tag values grouped by tag key: one IAM statement per key (conditions in one statement AND together). */
export function poolTagsByKey(config: Config): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const pool of config.pools) {
    const values = byKey.get(pool.tag.key) ?? [];
    if (!values.includes(pool.tag.value)) values.push(pool.tag.value);
    byKey.set(pool.tag.key, values);
  }
  return byKey;
}

/** Least-privilege statements for the workflow's step functions. */
export function fleetStatements(stack: Stack, config: Config): iam.PolicyStatement[] {
  const { partition, region, account } = stack;
  const ec2Arn = (resource: string) => `arn:${partition}:ec2:${region}:${account}:${resource}`;
  const statements: iam.PolicyStatement[] = [];

  for (const [key, values] of poolTagsByKey(config)) {
    statements.push(
      new iam.PolicyStatement({
        sid: sid('PoolNodes', key),
        actions: [...POOL_NODE_ACTIONS],
        resources: [ec2Arn('instance/*'), ec2Arn('network-interface/*')],
        conditions: { StringEquals: { [`aws:ResourceTag/${key}`]: values } },
      }),
      new iam.PolicyStatement({
        sid: sid('PoolNodeTags', key),
        actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
        resources: [ec2Arn('instance/*')],
        conditions: {
          StringEquals: { [`aws:ResourceTag/${key}`]: values },
          'ForAllValues:StringLike': { 'aws:TagKeys': [`${CONTROL_TAG_PREFIX}*`] },
        },
      }),
      new iam.PolicyStatement({
        sid: sid('PoolNodeCommands', key),
        actions: ['ssm:SendCommand'],
        resources: [ec2Arn('instance/*')],
        conditions: { StringEquals: { [`ssm:resourceTag/${key}`]: values } },
      }),
    );
  }

  // An application's own nodes (preferred / possible) need not carry a pool tag: allowed by exact ARN.
  const placed = [...new Set(config.applications.flatMap((app) => [app.placement.preferredNode, ...app.placement.possibleNodes]))].filter(
    (id): id is string => id !== undefined,
  );
  if (placed.length > 0) {
    const instances = placed.map((id) => ec2Arn(`instance/${id}`));
    statements.push(
      new iam.PolicyStatement({ sid: 'PlacedNodes', actions: [...POOL_NODE_ACTIONS, 'ssm:SendCommand'], resources: instances }),
      new iam.PolicyStatement({
        sid: 'PlacedNodeTags',
        actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
        resources: instances,
        conditions: { 'ForAllValues:StringLike': { 'aws:TagKeys': [`${CONTROL_TAG_PREFIX}*`] } },
      }),
    );
  }

  const documents = uniqueDocuments(config).map((doc) => documentArn(stack, doc.name));
  if (documents.length > 0) {
    statements.push(new iam.PolicyStatement({ sid: 'ConfiguredDocuments', actions: ['ssm:SendCommand'], resources: documents }));
  }

  // The instance statement above gates the swap; these are the other resources the call names.
  const bootSources = config.applications.flatMap((app) => {
    if (app.provisioning.method !== 'boot-volume') return [];
    return [`arn:${partition}:ec2:${region}::image/${app.provisioning.source.imageId}`];
  });
  if (bootSources.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'BootVolumeSwap',
        actions: ['ec2:CreateReplaceRootVolumeTask'],
        resources: [...new Set(bootSources), ec2Arn('replace-root-volume-task/*'), ec2Arn('volume/*')],
      }),
    );
  }

  // C9: ModifyInstanceAttribute with Groups also names the security groups it sets (resource type
  // security-group, Service Authorization Reference); the instance statements above gate the host.
  const isolationGroups = [...new Set(config.applications.flatMap((app) => (app.cluster.isolationSecurityGroupId ? [app.cluster.isolationSecurityGroupId] : [])))];
  if (isolationGroups.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'IsolationSecurityGroups',
        actions: ['ec2:ModifyInstanceAttribute'],
        resources: isolationGroups.map((id) => ec2Arn(`security-group/${id}`)),
      }),
    );
  }

  // Encrypted EBS volumes with a customer managed key: EC2 uses the key on the caller's behalf
  // ("Requirements for Amazon EBS encryption": kms:CreateGrant, Decrypt, DescribeKey,
  // GenerateDataKeyWithoutPlaintext, ReEncrypt), only through EC2 (kms:ViaService), and grants
  // only for AWS resources (kms:GrantIsForAWSResource).
  const kmsKeys = [...new Set(config.applications.flatMap((app) => (app.provisioning.kmsKeyArn ? [app.provisioning.kmsKeyArn] : [])))];
  if (kmsKeys.length > 0) {
    const viaEc2 = { StringEquals: { 'kms:ViaService': `ec2.${region}.amazonaws.com` } };
    statements.push(
      new iam.PolicyStatement({
        sid: 'EbsEncryptionKey',
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
        resources: kmsKeys,
        conditions: viaEc2,
      }),
      new iam.PolicyStatement({
        sid: 'EbsEncryptionKeyGrants',
        actions: ['kms:CreateGrant'],
        resources: kmsKeys,
        conditions: { ...viaEc2, Bool: { 'kms:GrantIsForAWSResource': true } },
      }),
    );
  }

  const allocations = config.applications.flatMap((app) =>
    app.cluster.logicalAddress?.kind === 'elastic-ip' ? [ec2Arn(`elastic-ip/${app.cluster.logicalAddress.allocationId}`)] : [],
  );
  if (allocations.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'LogicalAddresses',
        actions: ['ec2:AssociateAddress', 'ec2:DisassociateAddress'],
        resources: [...new Set(allocations)],
      }),
    );
  }

  statements.push(
    new iam.PolicyStatement({
      sid: 'TargetGroups',
      actions: [
        'elasticloadbalancing:RegisterTargets',
        'elasticloadbalancing:DeregisterTargets',
        'elasticloadbalancing:ModifyTargetGroupAttributes',
      ],
      resources: [...new Set(config.applications.flatMap((app) => app.cluster.targetGroupArns))],
    }),
    new iam.PolicyStatement({ sid: 'ReadOnly', actions: [...READ_ONLY_ACTIONS], resources: ['*'] }),
    // ssm:CancelCommand has no resource types or condition keys in the Service Authorization
    // Reference ("Actions, resources, and condition keys for AWS Systems Manager"): IAM cannot
    // scope it to instances or commands, and a statement that names instance ARNs never matches it.
    new iam.PolicyStatement({ sid: 'CancelCommands', actions: ['ssm:CancelCommand'], resources: ['*'] }),
  );
  return statements;
}

function uniqueDocuments(config: Config): SsmDocument[] {
  const all = config.applications.flatMap((app) => [...app.provisioning.documents, ...app.run, ...app.halt, ...(app.cluster.readinessCommand ? [app.cluster.readinessCommand] : [])]);
  return [...new Map(all.map((doc) => [doc.name, doc])).values()];
}

/** AWS-owned documents (AWS-*, AWSEC2-*...) live in no account; the user's own live in theirs. */
export function documentArn(stack: Stack, name: string): string {
  if (name.startsWith('arn:')) return name;
  const owner = /^AWS/.test(name) ? '' : stack.account;
  return `arn:${stack.partition}:ssm:${stack.region}:${owner}:document/${name}`;
}

function sid(prefix: string, tagKey: string): string {
  return `${prefix}${tagKey.replace(/[^A-Za-z0-9]/g, '')}`;
}
