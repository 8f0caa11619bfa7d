// Test Deps: every SDK client is a real client whose `send` is mocked (aws-sdk-client-mock),
// a fixed and movable clock, a silent logger and a metrics instance that records instead of printing.
import 'aws-sdk-client-mock-vitest/extend';
import { randomUUID } from 'node:crypto';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client, type DescribeInstancesCommandOutput, type Instance, type InstanceStateName } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { DescribeInstanceInformationCommand, SendCommandCommand, SSMClient, type DescribeInstanceInformationCommandInput } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { vi } from 'vitest';
import { ConfigSchema, type Config, type ConfigInput } from '../../core/config.ts';
import type { Environment } from '../../core/environment.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../../core/metrics.ts';
import { CLAIMS_TABLE, RECORDS_TABLE, STATE_TABLE } from '../../core/tables.ts';
import type { IncidentInput, WorkflowState } from '../../core/workflow-state.ts';
import { LEDGER_ATTRIBUTE_PREFIX, type CommandEntry } from '../../functions/adapters/command-ledger.ts';
import { commandTag } from '../../functions/adapters/commands.ts';
import { DOCUMENT_CLIENT_OPTIONS, type Deps } from '../../functions/deps.ts';

export const NOW = new Date('2025-03-01T12:00:00.000Z');
export const NOW_SECONDS = Math.floor(NOW.getTime() / 1000);
export const INCIDENT = '20250301T115900-web-failure-abc123';
export const TABLES = { state: 'rf-state', claims: 'rf-claims', records: 'rf-records' } as const;
export const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:rf-alerts';
export const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:rf';
/** The stack the handlers run in: its alarms are named `rapid-failover.RapidFailoverTest.…`. */
export const TEST_STACK = 'RapidFailoverTest';
export const TG_WEB = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef';
export const TG_WEB_2 = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web2/0123456789abcdee';
export const TG_DB = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/db/0123456789abcded';
export const TG_SEARCH = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/search/0123456789abcdec';
export const TG_REPORTS = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/reports/0123456789abcdeb';
export const EIP = 'eipalloc-0a1b2c3d4e5f60718';
export const OWN_ALARM_ARN = 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:failover-trigger-reports-process-down';

/** nodeId(7) → 'i-00000000000000007'. */
export function nodeId(n: number): string {
  return `i-${String(n).padStart(17, '0')}`;
}

/** The nodes the tests talk about. */
export const OLD = nodeId(1);
export const NEW = nodeId(2);
export const OTHER = nodeId(3);
export const HOST = nodeId(9);

/**
 * Pools: 'general' (dedicated nodes), 'hosts' (virtual-node hosts, B1), 'backup' (B2).
 * Applications: web (activate, perf + EIP), db (install, secondary IP), search (boot-volume),
 * reports / audit / batch (small, on shared hosts), low (priority 10, preemptible).
 */
export function testConfigInput(): ConfigInput {
  return {
    pools: [
      { name: 'general', tag: { key: 'rapid-failover:pool', value: 'general' }, tier: 'failover' },
      { name: 'hosts', tag: { key: 'rapid-failover:pool', value: 'hosts' }, tier: 'failover', virtualNodes: { maxApplications: 3, reservedFraction: 0.1 } },
      { name: 'backup', tag: { key: 'rapid-failover:pool', value: 'backup' }, tier: 'backup' },
    ],
    applications: [
      {
        name: 'web',
        priority: 500,
        pools: ['general', 'backup'],
        requirements: { minVcpu: 2, minMemoryMiB: 4096 },
        provisioning: {
          method: 'activate',
          documents: [
            { name: 'AWS-RunShellScript', parameters: { commands: ['systemctl start web'] } },
            { name: 'AWS-RunShellScript', parameters: { commands: ['/opt/web/warm-cache'] } },
          ],
        },
        cluster: { targetGroupArns: [TG_WEB, TG_WEB_2], port: 8080, logicalAddress: { kind: 'elastic-ip', allocationId: EIP } },
        detection: {
          performance: {
            namespace: 'Shop/Web',
            metricName: 'RequestsPerSecondPerHost',
            dimensions: { Service: 'web', InstanceId: 'placeholder' },
            threshold: 100,
            comparison: 'LessThanThreshold',
            evaluationPeriods: 5,
            datapointsToAlarm: 3,
          },
          failure: { statusChecks: true },
        },
        placement: { preferredNode: OLD },
        run: [{ name: 'AWS-RunShellScript', parameters: { commands: ['systemctl start web-sidecar'] } }],
        halt: [
          { name: 'AWS-RunShellScript', parameters: { commands: ['systemctl stop web'] }, timeoutSeconds: 60 },
          { name: 'AWS-RunShellScript', parameters: { commands: ['systemctl stop web-sidecar'] }, timeoutSeconds: 60 },
        ],
        policy: { maxAttempts: 3, cooldownSeconds: 300, deregistrationDelaySeconds: 15, settleSeconds: 60 },
      },
      {
        name: 'db',
        priority: 800,
        pools: ['general'],
        provisioning: { method: 'install', documents: [{ name: 'AWS-RunShellScript', parameters: { commands: ['install-db'] } }] },
        cluster: { targetGroupArns: [TG_DB], logicalAddress: { kind: 'secondary-private-ip', ipAddress: '10.0.1.50' } },
        placement: { possibleNodes: [NEW, OTHER] },
        policy: { returnOldNodeToPool: false },
      },
      {
        name: 'search',
        priority: 700,
        pools: ['general'],
        provisioning: { method: 'boot-volume', source: { imageId: 'ami-0123456789abcdef0' } },
        cluster: { targetGroupArns: [TG_SEARCH] },
        policy: { maxAttempts: 2 },
      },
      {
        name: 'reports',
        priority: 100,
        pools: ['hosts'],
        provisioning: { method: 'activate' },
        cluster: { targetGroupArns: [TG_REPORTS] },
        detection: { failure: { alarmArns: [OWN_ALARM_ARN] } },
        halt: [{ name: 'AWS-RunShellScript', parameters: { commands: ['systemctl stop reports'] } }],
      },
      { name: 'audit', priority: 90, pools: ['hosts'], provisioning: { method: 'activate' }, cluster: { targetGroupArns: [TG_REPORTS] } },
      { name: 'batch', priority: 80, pools: ['hosts'], provisioning: { method: 'activate' }, cluster: { targetGroupArns: [TG_REPORTS] } },
      {
        name: 'low',
        priority: 10,
        pools: ['general'],
        provisioning: { method: 'activate' },
        cluster: { targetGroupArns: [TG_REPORTS] },
        halt: [{ name: 'AWS-RunShellScript', parameters: { commands: ['systemctl stop low'] } }],
      },
    ],
    alerts: { emails: ['ops@example.com'] },
  };
}

export function testConfig(): Config {
  return ConfigSchema.parse(testConfigInput());
}

export function testEnvironment(config: Config = testConfig()): Environment {
  return {
    tables: { ...TABLES },
    alertTopicArn: TOPIC_ARN,
    eventBusName: 'default',
    stateMachineArn: STATE_MACHINE_ARN,
    config,
    stackName: TEST_STACK,
  };
}

export interface TestContext {
  deps: Deps;
  ec2: AwsClientStub<EC2Client>;
  ssm: AwsClientStub<SSMClient>;
  elb: AwsClientStub<ElasticLoadBalancingV2Client>;
  ddb: AwsClientStub<DynamoDBDocumentClient>;
  sns: AwsClientStub<SNSClient>;
  events: AwsClientStub<EventBridgeClient>;
  cloudwatch: AwsClientStub<CloudWatchClient>;
  sfn: AwsClientStub<SFNClient>;
  clock: { now: Date; set(at: Date): void; advance(seconds: number): void };
  addMetric: ReturnType<typeof vi.spyOn>;
  publishMetrics: ReturnType<typeof vi.spyOn>;
}

const client = { region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };

/**
 * Fresh clients and mocks per test. Every command answers `{}` unless a test says otherwise,
 * so a test arranges only what matters to it.
 */
export function makeTestDeps(config: Config = testConfig()): TestContext {
  const clock = {
    now: new Date(NOW),
    set(at: Date) {
      clock.now = new Date(at);
    },
    advance(seconds: number) {
      clock.now = new Date(clock.now.getTime() + seconds * 1000);
    },
  };
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
  const addMetric = vi.spyOn(metrics, 'addMetric');
  const publishMetrics = vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
  const deps: Deps = {
    ec2: new EC2Client(client),
    ssm: new SSMClient(client),
    elb: new ElasticLoadBalancingV2Client(client),
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient(client), DOCUMENT_CLIENT_OPTIONS),
    sns: new SNSClient(client),
    events: new EventBridgeClient(client),
    cloudwatch: new CloudWatchClient(client),
    sfn: new SFNClient(client),
    clock: () => new Date(clock.now),
    env: testEnvironment(config),
    logger: new Logger({ serviceName: METRICS_SERVICE, logLevel: 'SILENT' }),
    metrics,
  };
  const stubs = {
    ec2: mockClient(deps.ec2),
    ssm: mockClient(deps.ssm),
    elb: mockClient(deps.elb),
    ddb: mockClient(deps.ddb),
    sns: mockClient(deps.sns),
    events: mockClient(deps.events),
    cloudwatch: mockClient(deps.cloudwatch),
    sfn: mockClient(deps.sfn),
  };
  stubs.ec2.onAnyCommand().resolves({});
  stubs.ssm.onAnyCommand().resolves({});
  // SSM answers every SendCommand with a new command id (as AWS does).
  let sent = 0;
  stubs.ssm.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-sent-${++sent}`, Status: 'Pending' } }));
  // Every node's SSM Agent is Online unless a test says otherwise.
  stubs.ssm.on(DescribeInstanceInformationCommand).callsFake((input: DescribeInstanceInformationCommandInput) => ({
    InstanceInformationList: (input.Filters?.find((f) => f.Key === 'InstanceIds')?.Values ?? []).map((id) => ({ InstanceId: id, PingStatus: 'Online' })),
  }));
  stubs.elb.onAnyCommand().resolves({});
  stubs.ddb.onAnyCommand().resolves({});
  stubs.sns.onAnyCommand().resolves({});
  stubs.events.onAnyCommand().resolves({});
  stubs.cloudwatch.onAnyCommand().resolves({});
  stubs.sfn.onAnyCommand().resolves({});
  return {
    deps,
    ...stubs,
    clock,
    addMetric,
    publishMetrics,
  };
}

/** All SDK stubs of a context, to assert that nothing at all was called. */
export function allStubs(t: TestContext) {
  return [t.ec2, t.ssm, t.elb, t.ddb, t.sns, t.events, t.cloudwatch, t.sfn] as const;
}

export function incidentInput(overrides: Partial<IncidentInput> = {}): IncidentInput {
  return {
    incidentId: INCIDENT,
    app: 'web',
    trigger: { kind: 'failure', source: 'rapid-failover-web-status-check', reason: 'status checks failing', observedAt: '2025-03-01T11:59:00.000Z' },
    ...overrides,
  };
}

/** A workflow state as the step after select sees it: web failing over from OLD to a claimed NEW. */
export function workflowState(overrides: Partial<WorkflowState> = {}): WorkflowState {
  return {
    ...incidentInput(),
    startedAt: '2025-03-01T11:59:30.000Z',
    attempt: 1,
    triedNodes: [],
    currentNode: OLD,
    claim: {
      nodeId: NEW,
      pool: 'general',
      instanceType: 'm7i.xlarge',
      preempts: [],
      shared: false,
      lastPossibleNode: false,
      leaseExpiresAt: NOW_SECONDS + 3600,
    },
    explanation: [],
    progress: {},
    alerts: [],
    pendingAlert: null,
    outcome: null,
    settleSeconds: 60,
    ...overrides,
  };
}

/** A claim item of `app` on `node` held by `incidentId`. */
export function claimItem(node: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    nodeId: node,
    holder: 'web',
    incidentId: INCIDENT,
    role: 'claimed',
    priority: 500,
    vcpu: 2,
    memoryMiB: 4096,
    pool: 'general',
    instanceType: 'm7i.xlarge',
    preempts: [],
    shared: false,
    lastPossibleNode: false,
    leaseExpiresAt: NOW_SECONDS + 3600,
    claimedAt: '2025-03-01T11:59:40.000Z',
    ...overrides,
  };
}

/** An EC2 instance as DescribeInstances returns it. */
export function ec2Instance(id: string, overrides: { state?: string; type?: string; pool?: string; eni?: string; tags?: Record<string, string> } = {}): Instance {
  const tags = { ...(overrides.pool === undefined ? { 'rapid-failover:pool': 'general' } : overrides.pool ? { 'rapid-failover:pool': overrides.pool } : {}), ...overrides.tags };
  return {
    InstanceId: id,
    InstanceType: (overrides.type ?? 'm7i.xlarge') as Instance['InstanceType'],
    State: { Name: (overrides.state ?? 'running') as InstanceStateName },
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    NetworkInterfaces: [
      { NetworkInterfaceId: overrides.eni ?? `eni-${id.slice(2)}`, Attachment: { DeviceIndex: 0 }, PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.10' }] },
    ],
  };
}

export function reservations(...instances: Instance[]): Omit<DescribeInstancesCommandOutput, '$metadata'> {
  return { Reservations: [{ Instances: instances }] };
}

/** The body of a Lambda error as Step Functions' Catch puts it in `failure.Cause`. */
export function lambdaCause(errorType: string, errorMessage: string): string {
  return JSON.stringify({ errorType, errorMessage, trace: [] });
}

/**
 * The three tables, keyed as core/tables.ts says, in DynamoDB Local under names starting with
 * `prefix` and a tag of their own: the test files share one DynamoDB Local (test/global-setup.ts).
 */
export async function createControlPlaneTables(raw: DynamoDBClient, prefix: string): Promise<{ state: string; claims: string; records: string }> {
  const unique = `${prefix}${randomUUID().slice(0, 8)}-`;
  const tables = { state: `${unique}state`, claims: `${unique}claims`, records: `${unique}records` };
  const create = (name: string, pk: string, sk?: string) =>
    raw.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: pk, AttributeType: 'S' }, ...(sk ? [{ AttributeName: sk, AttributeType: 'S' as const }] : [])],
        KeySchema: [{ AttributeName: pk, KeyType: 'HASH' }, ...(sk ? [{ AttributeName: sk, KeyType: 'RANGE' as const }] : [])],
      }),
    );
  await Promise.all([
    create(tables.state, STATE_TABLE.partitionKey),
    create(tables.claims, CLAIMS_TABLE.partitionKey, CLAIMS_TABLE.sortKey),
    create(tables.records, RECORDS_TABLE.partitionKey, RECORDS_TABLE.sortKey),
  ]);
  return tables;
}

/** A command the incident's ledger recorded (sent at NOW unless told). */
export interface RecordedCommand {
  instanceId: string;
  purpose: string;
  index: number;
  commandId: string;
  sentAt?: string;
}

/** The incident's command ledger (on its failover record) holds these commands. */
export function ledgerHas(t: TestContext, commands: RecordedCommand[], incidentId = INCIDENT): void {
  const item: Record<string, CommandEntry> = {};
  for (const c of commands) {
    const at = c.sentAt ?? NOW.toISOString();
    item[`${LEDGER_ATTRIBUTE_PREFIX}${commandTag(incidentId, c.purpose, c.index, c.instanceId)}`] = {
      instanceId: c.instanceId,
      purpose: c.purpose,
      index: c.index,
      documentName: 'AWS-RunShellScript',
      intentAt: at,
      commandId: c.commandId,
      sentAt: at,
    };
  }
  t.ddb.on(GetCommand, { TableName: TABLES.records }).resolves({ Item: item });
}

/** The wait a step's output asks for (the Choice after the step routes on it); fails when the step did not wait. */
export async function waitOf(output: Promise<WorkflowState>): Promise<NonNullable<WorkflowState['wait']>> {
  const state = await output;
  if (!state.wait) throw new Error(`expected the step to wait, but it finished: ${state.explanation.at(-1) ?? ''}`);
  return state.wait;
}
