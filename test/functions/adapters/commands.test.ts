// The commands adapter with real parts: a real SSMClient on the simulated fleet (agent
// registration, delivery and execution timeouts, ListCommands lag) and the command ledger on
// DynamoDB Local. What it must never do: send a non-idempotent document twice, or send to an
// agent that is not Online.
import { StartInstancesCommand } from '@aws-sdk/client-ec2';
import { ListCommandsCommand } from '@aws-sdk/client-ssm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SsmDocument } from '../../../core/config.ts';
import { recordLedger, type CommandLedger } from '../../../functions/adapters/command-ledger.ts';
import {
  COMMAND_GRACE_SECONDS,
  COMMAND_LISTING_LAG_SECONDS,
  DELIVERY_TIMEOUT_SECONDS,
  advanceDocuments,
  cancelCommands,
  commandTag,
  type CommandDeps,
  type DocumentRun,
} from '../../../functions/adapters/commands.ts';
import { DOCUMENT_CLIENT_OPTIONS } from '../../../functions/deps.ts';
import { LOCAL_CLIENT_CONFIG } from '../../../local/dynamodb-local.ts';
import { sharedDynamoEndpoint } from '../../shared-dynamodb.ts';
import { quietFleet, SECOND } from '../../local/fleet/clients.ts';
import { createControlPlaneTables } from '../fixtures.ts';

const dynamoEndpoint = sharedDynamoEndpoint();
let raw: DynamoDBClient;
let ddb: DynamoDBDocumentClient;
let records: string;
let n = 0;

beforeAll(async () => {
  raw = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: dynamoEndpoint });
  ddb = DynamoDBDocumentClient.from(raw, DOCUMENT_CLIENT_OPTIONS);
  records = (await createControlPlaneTables(raw, 'cmd-')).records;
});

afterAll(async () => {
  raw?.destroy();
});

const INSTALL: SsmDocument = { name: 'install-web', parameters: {}, timeoutSeconds: 600 };

/** A fleet whose ListCommands lags 5 s (AWS is eventually consistent), one node, and this incident's ledger. */
function setup(options: { state?: 'running' | 'stopped' } = {}) {
  const sim = quietFleet({
    latency: {
      ec2: { instanceStartMs: 40 * SECOND, bootToServicesMs: 15 * SECOND },
      ssm: { commandListingLagMs: 5 * SECOND, deliveryMs: 1 * SECOND, agentRegistrationMs: 10 * SECOND },
    },
  });
  const node = sim.fleet.addInstance({ instanceType: 'm7i.large', state: options.state ?? 'running' });
  sim.fleet.defineDocument('install-web', { installs: ['web'], runMs: 60 * SECOND });
  const incidentId = `inc-${++n}`;
  const ledger = recordLedger(ddb, records, { app: 'web', incidentId });
  const run: DocumentRun = { instanceId: node, documents: [INSTALL], incidentId, purpose: 'provision' };
  const deps = (l: CommandLedger = ledger): CommandDeps => ({ ssm: sim.ssm, ledger: l, now: new Date(sim.clock.nowMs()) });
  const sends = () => sim.fleet.callCounts().byCommand['ssm:SendCommand'] ?? 0;
  return { ...sim, node, ledger, run, deps, sends, tag: commandTag(incidentId, 'provision', 0, node) };
}

describe('A3: a re-entered step never sends a non-idempotent install twice', () => {
  it('re-entered while ListCommands does not list the command yet: the ledger has its id, nothing is sent again', async () => {
    const { clock, run, deps, sends, fleet } = setup();

    expect(await advanceDocuments(deps(), run)).toMatchObject({ status: 'pending', detail: 'sent install-web' });
    clock.advance(2 * SECOND); // within ListCommands' lag
    expect(await advanceDocuments(deps(), run)).toMatchObject({ status: 'pending', detail: 'install-web InProgress' });
    clock.advance(60 * SECOND);
    const done = await advanceDocuments(deps(), run);

    expect(sends()).toBe(1);
    expect(done).toMatchObject({ status: 'done', commandIds: [expect.any(String)] });
    expect(fleet.snapshot().instances[0]?.documents).toHaveLength(1);
  });

  it('a crash between SendCommand and the write of its id: re-entry waits for ListCommands, adopts the command, sends nothing', async () => {
    const { clock, run, deps, sends, ledger, tag } = setup();
    const crashing: CommandLedger = {
      ...ledger,
      recordSent: () => Promise.reject(new Error('Lambda died before recording the command id')),
    };

    await expect(advanceDocuments(deps(crashing), run)).rejects.toThrow('Lambda died');
    clock.advance(2 * SECOND);
    const early = await advanceDocuments(deps(), run);
    clock.advance(4 * SECOND); // ListCommands lists it now
    const later = await advanceDocuments(deps(), run);

    expect(early).toMatchObject({ status: 'pending', commandId: null, detail: expect.stringContaining('waiting for SSM to list it') });
    expect(later).toMatchObject({ status: 'pending', commandId: expect.any(String), detail: 'install-web InProgress' });
    expect((await ledger.read([tag])).get(tag)).toMatchObject({ commandId: later.status === 'pending' ? later.commandId : '' });
    expect(sends()).toBe(1);
  });

  it('a crash after the intent, before SendCommand: sent once the listing-lag window has passed without it', async () => {
    const { clock, run, deps, sends, ledger, tag, node } = setup();
    await ledger.recordIntent(tag, { instanceId: node, purpose: 'provision', index: 0, documentName: 'install-web', intentAt: new Date(clock.nowMs()).toISOString() });

    clock.advance((COMMAND_LISTING_LAG_SECONDS - 1) * SECOND);
    expect(await advanceDocuments(deps(), run)).toMatchObject({ status: 'pending', commandId: null });
    expect(sends()).toBe(0);
    clock.advance(2 * SECOND);
    expect(await advanceDocuments(deps(), run)).toMatchObject({ status: 'pending', detail: 'sent install-web' });
    clock.advance(2 * SECOND);
    await advanceDocuments(deps(), run);

    expect(sends()).toBe(1);
  });
});

describe('A2: the SSM Agent must be Online before a command is sent', () => {
  it('after a start, polls DescribeInstanceInformation until Online, then sends once: no SendCommand answered InvalidInstanceId', async () => {
    const { clock, ec2, run, deps, sends, fleet, node } = setup({ state: 'stopped' });
    const stopped = await advanceDocuments(deps(), run);
    await ec2.send(new StartInstancesCommand({ InstanceIds: [node] }));
    const details: string[] = [];
    for (let second = 0; second < 120 && sends() === 0; second += 5) {
      const status = await advanceDocuments(deps(), run);
      if (status.status === 'pending') details.push(status.detail);
      clock.advance(5 * SECOND);
    }

    // Stopped: not listed by DescribeInstanceInformation. Pending, then running and booting: ConnectionLost.
    expect(stopped).toMatchObject({ status: 'pending', detail: `waiting for the SSM Agent on ${node} to come Online (it is not registered)` });
    expect(details[0]).toBe(`waiting for the SSM Agent on ${node} to come Online (it is ConnectionLost)`);
    expect(details.at(-1)).toBe('sent install-web');
    expect(sends()).toBe(1);
    expect(fleet.callErrors()).toEqual({});
    // Sent no earlier than start (40 s) + OS boot (15 s) + agent registration (10 s).
    expect(Date.parse(fleet.snapshot().instances[0]!.documents[0]!.requestedAt) - Date.parse('2030-01-01T00:00:00Z')).toBeGreaterThanOrEqual(65 * SECOND);
  });
});

describe('timeouts and cancellation', () => {
  it('AWS-RunShellScript: timeoutSeconds is sent as executionTimeout; SendCommand TimeoutSeconds is the delivery timeout', async () => {
    const { clock, ssm, node, deps } = setup();
    const shell: SsmDocument = { name: 'AWS-RunShellScript', parameters: { commands: ['/opt/install.sh'] }, timeoutSeconds: 900 };
    await advanceDocuments(deps(), { instanceId: node, documents: [shell], incidentId: 'inc-shell', purpose: 'provision' });
    clock.advance(5 * SECOND);

    const [command] = (await ssm.send(new ListCommandsCommand({ InstanceId: node }))).Commands ?? [];
    expect(command).toMatchObject({ Parameters: { commands: ['/opt/install.sh'], executionTimeout: ['900'] }, TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS });
  });

  it('a document without executionTimeout still running past its timeoutSeconds is cancelled by the workflow and fails', async () => {
    const { clock, node, deps, run, fleet } = setup();
    fleet.faults.commandFails(node, { documentName: 'install-web', mode: 'hang' });
    await advanceDocuments(deps(), run);
    clock.advance((DELIVERY_TIMEOUT_SECONDS + INSTALL.timeoutSeconds + COMMAND_GRACE_SECONDS) * SECOND);
    expect(await advanceDocuments(deps(), run)).toMatchObject({ status: 'pending' });
    clock.advance(1 * SECOND);

    const status = await advanceDocuments(deps(), run);
    clock.advance(1 * SECOND);

    expect(status).toMatchObject({ status: 'failed', reason: expect.stringContaining('cancelled') });
    expect(fleet.callCounts().byCommand['ssm:CancelCommand']).toBe(1);
    expect(fleet.snapshot().instances[0]?.documents[0]?.status).toBe('Cancelled');
  });

  it('cancelCommands cancels the selected recorded commands still running, and leaves finished ones alone', async () => {
    const { clock, node, deps, run, fleet, ledger, tag } = setup();
    fleet.defineDocument('quick', { runMs: 1 * SECOND });
    const quick = { instanceId: node, documents: [{ name: 'quick', parameters: {}, timeoutSeconds: 60 }], incidentId: run.incidentId, purpose: 'run' };
    await advanceDocuments(deps(), quick);
    clock.advance(5 * SECOND);
    await advanceDocuments(deps(), run);
    clock.advance(5 * SECOND);

    const cancelled = await cancelCommands(deps(), (c) => c.instanceId === node);
    const again = await cancelCommands(deps(), (c) => c.instanceId === node);
    clock.advance(1 * SECOND);

    expect(cancelled).toEqual([(await ledger.read([tag])).get(tag)?.commandId]);
    expect(again).toEqual([]);
    expect(fleet.snapshot().instances[0]?.documents.map((d) => [d.documentName, d.status])).toEqual([
      ['quick', 'Success'],
      ['install-web', 'Cancelled'],
    ]);
  });

  it('cancelCommands also finds, by its Comment tag, a command whose id a crash kept out of the ledger, and cancels it', async () => {
    const { clock, deps, run, fleet, ledger, tag } = setup();
    const crashing: CommandLedger = { ...ledger, recordSent: () => Promise.reject(new Error('Lambda died before recording the command id')) };
    await expect(advanceDocuments(deps(crashing), run)).rejects.toThrow('Lambda died');
    clock.advance(10 * SECOND); // ListCommands lists it now

    const cancelled = await cancelCommands(deps(), () => true);
    clock.advance(1 * SECOND);

    expect(cancelled).toHaveLength(1);
    expect((await ledger.read([tag])).get(tag)).toMatchObject({ commandId: cancelled[0], cancelledAt: expect.any(String) });
    expect(fleet.snapshot().instances[0]?.documents.map((d) => d.status)).toEqual(['Cancelled']);
  });
});
