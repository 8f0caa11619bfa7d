// The steps in the order the workflow runs them, against DynamoDB Local and the simulated fleet
// behind the real SDK clients: a step that waits (its output names an event or a time) is run
// again after virtual time moves on, as the workflow's fallback poll would (no callback here).
// Checks that the handlers and the AWS they talk to agree.
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createControlPlaneTables } from './fixtures.ts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigSchema, type Config, type ConfigInput } from '../../core/config.ts';
import { ErrorNames } from '../../core/errors.ts';
import type { IncidentInput, WorkflowState } from '../../core/workflow-state.ts';
import { addressHolder } from '../../functions/adapters/addresses.ts';
import { getAppState } from '../../functions/adapters/app-state.ts';
import { getClaim } from '../../functions/adapters/claims.ts';
import { getRecord } from '../../functions/adapters/records.ts';
import { targetHealth } from '../../functions/adapters/targets.ts';
import { DOCUMENT_CLIENT_OPTIONS, type Deps } from '../../functions/deps.ts';
import * as compensate from '../../functions/handlers/compensate.ts';
import * as finish from '../../functions/handlers/finish.ts';
import * as join from '../../functions/handlers/join.ts';
import * as lock from '../../functions/handlers/lock.ts';
import * as provision from '../../functions/handlers/provision.ts';
import * as release from '../../functions/handlers/release.ts';
import * as select from '../../functions/handlers/select.ts';
import * as shift from '../../functions/handlers/shift.ts';
import * as verify from '../../functions/handlers/verify.ts';
import { LOCAL_CLIENT_CONFIG } from '../../local/dynamodb-local.ts';
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';
import { attachFleet, SimulatedFleet } from '../../local/fleet/index.ts';

const dynamoEndpoint = sharedDynamoEndpoint();
let raw: DynamoDBClient;

beforeAll(async () => {
  raw = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: dynamoEndpoint });
});

afterAll(async () => {
  raw?.destroy();
});

const credentials = { region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
const POOL_TAG = { 'rapid-failover:pool': 'general' };

async function depsFor(fleet: SimulatedFleet, config: Config, suffix: string): Promise<Deps> {
  const tables = await createControlPlaneTables(raw, `wt-${suffix}-`);
  const metrics = new Metrics({ namespace: 'RapidFailover', serviceName: 'rapid-failover' });
  vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
  return {
    ec2: attachFleet(new EC2Client(credentials), fleet),
    ssm: attachFleet(new SSMClient(credentials), fleet),
    elb: attachFleet(new ElasticLoadBalancingV2Client(credentials), fleet),
    sns: attachFleet(new SNSClient(credentials), fleet),
    events: attachFleet(new EventBridgeClient(credentials), fleet),
    cloudwatch: attachFleet(new CloudWatchClient(credentials), fleet),
    sfn: new SFNClient(credentials),
    ddb: DynamoDBDocumentClient.from(raw, DOCUMENT_CLIENT_OPTIONS),
    clock: () => fleet.clock.now(),
    env: { tables, alertTopicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', eventBusName: 'default', stateMachineArn: undefined, config },
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics,
  };
}

function quietFleet(): SimulatedFleet {
  return new SimulatedFleet({ seed: 7, latency: { apiCallMs: { ec2: 0, ssm: 0, elbv2: 0, sns: 0, eventbridge: 0, cloudwatch: 0 } } });
}

/** What Step Functions' Catch does: the error goes under `failure`, the state is kept. */
async function caught(run: () => Promise<WorkflowState>, state: WorkflowState): Promise<WorkflowState> {
  try {
    return await run();
  } catch (error) {
    const e = error as Error;
    return { ...state, failure: { Error: e.name, Cause: JSON.stringify({ errorType: e.name, errorMessage: e.message }) } };
  }
}

/** Runs a step until it no longer waits, moving virtual time on between runs (each run polls AWS itself). */
async function until(fleet: SimulatedFleet, run: () => Promise<WorkflowState>, maxPolls = 200): Promise<WorkflowState> {
  for (let poll = 0; poll < maxPolls; poll++) {
    const state = await run();
    if (!state.wait) return state;
    fleet.clock.advance(5_000);
  }
  throw new Error(`still waiting after ${maxPolls} runs`);
}

describe('walkthrough on DynamoDB Local and the simulated fleet', () => {
  it('A1/A2/A8/A9/C1/C8: a failed host is fenced, the app is activated on a stopped pool node, joined, given the address, and the old node quarantined', async () => {
    const fleet = quietFleet();
    const old = fleet.addInstance({ instanceType: 'm7i.xlarge', tags: POOL_TAG, apps: ['web'] });
    const spare = fleet.addInstance({ instanceType: 'm7i.xlarge', tags: POOL_TAG, installedApps: ['web'], state: 'stopped' });
    const targetGroup = fleet.addTargetGroup({ name: 'web', port: 80, app: 'web', healthCheckIntervalSeconds: 5, healthyThresholdCount: 2 });
    fleet.registerHealthy(targetGroup, [old]);
    const eip = fleet.addElasticIp({ instanceId: old });
    fleet.defineDocument('StartWeb', { starts: ['web'] });
    fleet.defineDocument('StopWeb', { stops: ['web'] });

    const input: ConfigInput = {
      pools: [{ name: 'general', tag: { key: 'rapid-failover:pool', value: 'general' } }],
      applications: [
        {
          name: 'web',
          priority: 500,
          requirements: { minVcpu: 2, minMemoryMiB: 4096 },
          provisioning: { method: 'activate', documents: [{ name: 'StartWeb' }] },
          cluster: { targetGroupArns: [targetGroup], logicalAddress: { kind: 'elastic-ip', allocationId: eip.allocationId } },
          placement: { preferredNode: old },
          halt: [{ name: 'StopWeb' }],
          policy: { deregistrationDelaySeconds: 0 },
        },
      ],
      alerts: { emails: ['ops@example.com'] },
    };
    const config = ConfigSchema.parse(input);
    const deps = await depsFor(fleet, config, 'a');
    const tables = deps.env.tables;

    fleet.failInstance(old);
    const incident: IncidentInput = {
      incidentId: 'walkthrough-1',
      app: 'web',
      trigger: { kind: 'failure', source: 'rapid-failover-web-status-check', reason: 'status checks failing', observedAt: fleet.clock.now().toISOString() },
      fromNode: old,
    };

    let state: WorkflowState = await lock.makeHandler(deps)(incident);
    expect(state.outcome).toBeNull();
    state = await select.makeHandler(deps)(state);
    expect(state.claim?.nodeId).toBe(spare);
    state = await until(fleet, () => provision.makeHandler(deps)(state));
    state = await until(fleet, () => join.makeHandler(deps)(state));
    state = await until(fleet, () => shift.makeHandler(deps)(state));
    state = await until(fleet, () => release.makeHandler(deps)(state));
    state = await finish.makeHandler(deps)(state);

    expect(state.outcome).toBe('failed-over');
    const world = fleet.snapshot();
    const instances = new Map(world.instances.map((i) => [i.instanceId, i]));
    expect(instances.get(old)?.state).toBe('stopped');
    expect(instances.get(spare)?.state).toBe('running');
    expect(await addressHolder(deps.ec2, { kind: 'elastic-ip', allocationId: eip.allocationId })).toBe(spare);
    const health = await targetHealth(deps.elb, { targetGroupArns: [targetGroup], instanceId: spare });
    expect(health.get(targetGroup)?.state).toBe('healthy');
    expect(await getAppState(deps.ddb, tables.state, 'web')).toMatchObject({ currentNode: spare });
    expect((await getAppState(deps.ddb, tables.state, 'web'))?.lockIncident).toBeUndefined();
    expect(await getClaim(deps.ddb, tables.claims, spare, 'web')).toMatchObject({ role: 'serving' });
    expect(await getClaim(deps.ddb, tables.claims, old, 'web')).toMatchObject({ role: 'quarantined' });
    const record = await getRecord(deps.ddb, tables.records, incident);
    expect(record).toMatchObject({ outcome: 'failed-over', toNode: spare, fromNode: old });
    expect(typeof record?.rtoSeconds).toBe('number');
    expect(fleet.events().map((e) => e.detailType)).toContain('Service Up');
    expect(fleet.published().map((m) => m.subject)).toEqual([expect.stringContaining(`node ${old} quarantined`)]);
    expect(state.alerts.map((a) => a.kind)).toEqual(['quarantine']);
  });

  it('A4/A13: a root-volume swap that fails quarantines that node, and the next node is provisioned from the image', async () => {
    const fleet = quietFleet();
    const old = fleet.addInstance({ instanceType: 'm7i.xlarge', tags: POOL_TAG, apps: ['search'] });
    const bad = fleet.addInstance({ instanceType: 'm7i.xlarge', tags: POOL_TAG });
    const good = fleet.addInstance({ instanceType: 'm7i.2xlarge', tags: POOL_TAG });
    const targetGroup = fleet.addTargetGroup({ name: 'search', port: 80, app: 'search', healthCheckIntervalSeconds: 5, healthyThresholdCount: 2 });
    fleet.registerHealthy(targetGroup, [old]);
    fleet.defineImage('ami-0123456789abcdef0', { apps: ['search'] });
    fleet.faults.rootVolumeFails(bad);

    const config = ConfigSchema.parse({
      pools: [{ name: 'general', tag: { key: 'rapid-failover:pool', value: 'general' } }],
      applications: [
        {
          name: 'search',
          priority: 700,
          requirements: { minVcpu: 2, minMemoryMiB: 4096 },
          provisioning: { method: 'boot-volume', source: { imageId: 'ami-0123456789abcdef0' } },
          cluster: { targetGroupArns: [targetGroup] },
          placement: { preferredNode: old },
          policy: { maxAttempts: 2, deregistrationDelaySeconds: 0 },
        },
      ],
      alerts: { emails: ['ops@example.com'] },
    } satisfies ConfigInput);
    const deps = await depsFor(fleet, config, 'b');
    fleet.failInstance(old);
    const incident: IncidentInput = {
      incidentId: 'walkthrough-2',
      app: 'search',
      trigger: { kind: 'failure', source: 'rapid-failover-search-status-check', reason: 'status checks failing', observedAt: fleet.clock.now().toISOString() },
    };

    let state = await lock.makeHandler(deps)(incident);
    state = await select.makeHandler(deps)(state);
    expect(state.claim?.nodeId).toBe(bad);
    const first = state;
    state = await caught(() => until(fleet, () => provision.makeHandler(deps)(first)), first);
    expect(state.failure?.Error).toBe(ErrorNames.ProvisioningFailed);
    state = await compensate.makeHandler(deps)(state);
    expect(state).toMatchObject({ claim: null, triedNodes: [bad], pendingAlert: null });
    expect(await getClaim(deps.ddb, deps.env.tables.claims, bad, 'search')).toMatchObject({ role: 'quarantined' });

    state = await select.makeHandler(deps)(state);
    expect(state).toMatchObject({ claim: { nodeId: good }, attempt: 2 });
    state = await until(fleet, () => provision.makeHandler(deps)(state));
    state = await until(fleet, () => join.makeHandler(deps)(state));
    state = await until(fleet, () => shift.makeHandler(deps)(state));
    state = await until(fleet, () => release.makeHandler(deps)(state));
    state = await finish.makeHandler(deps)(state);

    expect(state.outcome).toBe('failed-over');
    expect(await getAppState(deps.ddb, deps.env.tables.state, 'search')).toMatchObject({ currentNode: good });
    const health = await targetHealth(deps.elb, { targetGroupArns: [targetGroup], instanceId: good });
    expect(health.get(targetGroup)?.state).toBe('healthy');
    expect(await getRecord(deps.ddb, deps.env.tables.records, incident)).toMatchObject({ attempts: 2, triedNodes: [bad] });
  });

  it('A4/A6: a node whose image the AMI does not fit (billing) is rejected before it is claimed, and the swap runs on one it fits', async () => {
    const fleet = quietFleet();
    fleet.defineImage('ami-0123456789abcdef0', { apps: ['search'] });
    fleet.defineImage('ami-0aaaaaaaaaaaaaaa1', { apps: [], platformDetails: 'Red Hat Enterprise Linux', usageOperation: 'RunInstances:0010' });
    const old = fleet.addInstance({ instanceType: 'm7i.xlarge', tags: POOL_TAG, apps: ['search'] });
    // The tighter fit, ranked first, but launched from a RHEL image: the Linux/UNIX AMI cannot replace its root volume.
    const rhel = fleet.addInstance({ instanceType: 'm7i.xlarge', tags: POOL_TAG, imageId: 'ami-0aaaaaaaaaaaaaaa1' });
    const plain = fleet.addInstance({ instanceType: 'm7i.2xlarge', tags: POOL_TAG });
    const targetGroup = fleet.addTargetGroup({ name: 'search', port: 80, app: 'search', healthCheckIntervalSeconds: 5, healthyThresholdCount: 2 });
    fleet.registerHealthy(targetGroup, [old]);
    const config = ConfigSchema.parse({
      pools: [{ name: 'general', tag: { key: 'rapid-failover:pool', value: 'general' } }],
      applications: [
        {
          name: 'search',
          priority: 700,
          requirements: { minVcpu: 2, minMemoryMiB: 4096 },
          provisioning: { method: 'boot-volume', source: { imageId: 'ami-0123456789abcdef0' } },
          cluster: { targetGroupArns: [targetGroup] },
          placement: { preferredNode: old },
        },
      ],
      alerts: { emails: ['ops@example.com'] },
    } satisfies ConfigInput);
    const deps = await depsFor(fleet, config, 'ami');
    fleet.failInstance(old);

    let state = await lock.makeHandler(deps)({
      incidentId: 'walkthrough-ami',
      app: 'search',
      trigger: { kind: 'failure', source: 'rapid-failover-search-status-check', reason: 'status checks failing', observedAt: fleet.clock.now().toISOString() },
    });
    state = await select.makeHandler(deps)(state);

    expect(state.claim?.nodeId).toBe(plain);
    expect(state.explanation).toContain(
      `rejected ${rhel}: image ami-0123456789abcdef0 is billed as Linux/UNIX (RunInstances), node as Red Hat Enterprise Linux (RunInstances:0010)`,
    );
    state = await until(fleet, () => provision.makeHandler(deps)(state));
    expect(state.explanation.join('\n')).toMatch(new RegExp(`${plain} rebooted from ami-0123456789abcdef0`));
  });

  it('A3/A10/A15/C9: a slow app is installed on a more capable node, its old node halted off the critical path and returned; still slow there, it moves on to a third node', async () => {
    const fleet = quietFleet();
    const old = fleet.addInstance({ instanceType: 'm7i.xlarge', tags: POOL_TAG, apps: ['shop'] });
    const second = fleet.addInstance({ instanceType: 'm7i.2xlarge', tags: POOL_TAG });
    const third = fleet.addInstance({ instanceType: 'm7i.4xlarge', tags: POOL_TAG });
    const targetGroup = fleet.addTargetGroup({ name: 'shop', port: 80, app: 'shop', healthCheckIntervalSeconds: 5, healthyThresholdCount: 2 });
    fleet.registerHealthy(targetGroup, [old]);
    fleet.defineDocument('InstallShop', { installs: ['shop'] });
    fleet.defineDocument('StopShop', { stops: ['shop'] });
    fleet.bindMetric({ app: 'shop', namespace: 'Shop', metricName: 'Rps', healthyValue: 150 });
    fleet.setPerformance('shop', old, 20);
    fleet.setPerformance('shop', second, 30);

    const config = ConfigSchema.parse({
      pools: [{ name: 'general', tag: { key: 'rapid-failover:pool', value: 'general' } }],
      applications: [
        {
          name: 'shop',
          priority: 500,
          requirements: { minVcpu: 2, minMemoryMiB: 4096 },
          provisioning: { method: 'install', documents: [{ name: 'InstallShop' }] },
          cluster: { targetGroupArns: [targetGroup] },
          detection: {
            performance: { namespace: 'Shop', metricName: 'Rps', dimensions: { InstanceId: 'serving-node' }, threshold: 100, comparison: 'LessThanThreshold', periodSeconds: 10, evaluationPeriods: 5, datapointsToAlarm: 3 },
            failure: { statusChecks: false },
          },
          placement: { preferredNode: old },
          halt: [{ name: 'StopShop' }],
          policy: { maxAttempts: 3, settleSeconds: 60, deregistrationDelaySeconds: 0 },
        },
      ],
      alerts: { emails: ['ops@example.com'] },
    } satisfies ConfigInput);
    const deps = await depsFor(fleet, config, 'c');
    const incident: IncidentInput = {
      incidentId: 'walkthrough-3',
      app: 'shop',
      trigger: { kind: 'performance', source: 'rapid-failover-shop-performance', reason: 'Rps below 100', observedAt: fleet.clock.now().toISOString() },
    };

    /** select → provision → join → shift → release → settle → verify, as the workflow runs them. */
    const hop = async (from: WorkflowState) => {
      let state = await select.makeHandler(deps)(from);
      state = await until(fleet, () => provision.makeHandler(deps)(state));
      state = await until(fleet, () => join.makeHandler(deps)(state));
      state = await until(fleet, () => shift.makeHandler(deps)(state));
      state = await until(fleet, () => release.makeHandler(deps)(state));
      fleet.clock.advance(state.settleSeconds * 1000);
      return { released: state, verified: await verify.makeHandler(deps)(state) };
    };

    const locked = await lock.makeHandler(deps)(incident);
    const first = await hop(locked);
    expect(first.released.claim?.nodeId).toBe(second);
    expect(first.released.progress['release.disposition']).toBe('returned');
    expect(first.verified).toMatchObject({ outcome: null, claim: null, currentNode: second });

    const next = await hop(first.verified);
    expect(next.released.claim?.nodeId).toBe(third);
    expect(next.verified.outcome).toBe('failed-over');
    const done = await finish.makeHandler(deps)(next.verified);

    expect(done.outcome).toBe('failed-over');
    expect(await getAppState(deps.ddb, deps.env.tables.state, 'shop')).toMatchObject({ currentNode: third });
    // Both earlier nodes are back in the pool, the app halted on them, and still running.
    for (const node of [old, second]) {
      expect(await getClaim(deps.ddb, deps.env.tables.claims, node, 'shop')).toBeNull();
      const snapshot = fleet.snapshot().instances.find((i) => i.instanceId === node);
      expect(snapshot?.state).toBe('running');
      expect(snapshot?.tags['rapid-failover:role']).toBe('free');
    }
    expect(await getRecord(deps.ddb, deps.env.tables.records, incident)).toMatchObject({ attempts: 2, toNode: third });
  });
});
