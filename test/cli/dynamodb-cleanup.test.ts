// No DynamoDB Local outlives the CLI that started it: not after a run that fails with an error
// half-way, not after Ctrl-C (SIGINT), not even after the CLI is killed outright (SIGKILL).
// The java processes are found among the CLI's descendants while it runs; afterwards they must
// be gone from the process table and their ports closed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, probePort, REPO_ROOT, runCli, stillRunning, type CliResult, type DynamoDbProcess } from './cli.ts';

const RUN_TIMEOUT_MS = 5 * 60_000;
const dir = mkdtempSync(join(tmpdir(), 'failover-cleanup-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Gone from the process table and nothing listening on its port (allowing a moment for an exit under way). */
async function expectGone(processes: readonly DynamoDbProcess[]): Promise<void> {
  expect(await eventually(() => stillRunning(processes), (left) => left.length === 0)).toEqual([]);
  for (const { port } of processes) {
    expect(port).not.toBeNull();
    expect(await eventually(() => probePort(port!), (state) => state === 'refused')).toBe('refused');
  }
}

/** A long scenario (an hour of virtual time and more), so a signal reliably arrives mid-run. */
function longScenario(): string {
  const path = join(dir, 'long.json');
  const scenario = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'switchover-last-node.json'), 'utf8')) as Record<string, unknown>;
  delete scenario.$schema;
  writeFileSync(path, JSON.stringify(scenario));
  return path;
}

/**
 * Runs the CLI and, once it has started DynamoDB Local and the timeline has begun (the live
 * view printed its first trigger), sends `signal` to `target(child, dynamoDb)`.
 */
function interruptMidRun(signal: NodeJS.Signals, target: (child: ChildProcess) => number, options: { detached?: boolean } = {}): Promise<CliResult & { signalledAt: number | null }> {
  let signalledAt: number | null = null;
  return runCli(['simulate', longScenario()], {
    detached: options.detached ?? false,
    timeoutMs: RUN_TIMEOUT_MS - 30_000,
    onPoll: (child, seen, stdout) => {
      if (signalledAt !== null || seen.length === 0 || !stdout.includes('⚡')) return;
      signalledAt = Date.now();
      process.kill(target(child), signal);
    },
  }).then((result) => ({ ...result, signalledAt }));
}

describe('DynamoDB Local does not outlive the CLI', () => {
  it.concurrent('after a run that fails with an error once DynamoDB Local is up', { timeout: RUN_TIMEOUT_MS }, async () => {
    // Two applications given the same Elastic IP: the scenario parses (the config does not
    // compare allocation ids across applications), but building the simulated fleet throws
    // after DynamoDB Local has started.
    const scenario = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', 'preemption.json'), 'utf8')) as {
      config: { applications: Array<{ cluster: { logicalAddress?: { allocationId?: string } } }> };
    };
    const [payments, analytics] = scenario.config.applications;
    analytics!.cluster.logicalAddress!.allocationId = payments!.cluster.logicalAddress!.allocationId;
    const file = join(dir, 'shared-address.json');
    writeFileSync(file, JSON.stringify({ ...scenario, $schema: undefined }));

    const result = await runCli(['simulate', file, '--json']);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('Elastic IP eipalloc-06666666666666661 already exists');
    expect(result.stdout).toBe('');
    expect(result.dynamoDb, 'DynamoDB Local was seen running before the error').toHaveLength(1);
    await expectGone(result.dynamoDb);
  });

  it.concurrent('after SIGINT to the CLI mid-run', { timeout: RUN_TIMEOUT_MS }, async () => {
    const result = await interruptMidRun('SIGINT', (child) => child.pid!);

    expect(result.signalledAt).not.toBeNull();
    expect(result.dynamoDb).toHaveLength(1);
    // It stopped because of the signal, well before the scenario's hour of virtual time was done.
    expect(result.stdout).not.toContain('Summary:');
    expect(result.code === 0 && result.signal === null).toBe(false);
    await expectGone(result.dynamoDb);
  });

  it.concurrent("after Ctrl-C in a terminal (SIGINT to the CLI's whole process group)", { timeout: RUN_TIMEOUT_MS }, async () => {
    const result = await interruptMidRun('SIGINT', (child) => -child.pid!, { detached: true });

    expect(result.signalledAt).not.toBeNull();
    expect(result.dynamoDb).toHaveLength(1);
    expect(result.stdout).not.toContain('Summary:');
    await expectGone(result.dynamoDb);
  });

  it.concurrent('after the process running the simulation is killed with SIGKILL (no handler runs)', { timeout: RUN_TIMEOUT_MS }, async () => {
    // tsx runs bin/failover.ts in a child Node process: kill that one, the parent of java.
    let simulationPid: number | null = null;
    const result = await runCli(['simulate', longScenario()], {
      timeoutMs: RUN_TIMEOUT_MS - 30_000,
      onPoll: (_child, seen, stdout) => {
        if (simulationPid !== null || seen.length === 0 || !stdout.includes('⚡')) return;
        simulationPid = seen[0]!.ppid;
        process.kill(simulationPid, 'SIGKILL');
      },
    });

    expect(simulationPid).not.toBeNull();
    expect(result.dynamoDb).toHaveLength(1);
    expect(result.stdout).not.toContain('Summary:');
    await expectGone(result.dynamoDb);
  });
});
