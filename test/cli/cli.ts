// Runs the operator CLI as a user would: a separate Node process started with tsx on
// bin/failover.ts, from the repository root. While it runs, the DynamoDB Local (java)
// processes it starts are noted from the process table, so a test can check that none of
// them outlives the CLI and that their ports are closed. runCliInProcess runs the same CLI
// in the test's own process, for what is not about the process.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { simulationDocument } from '../../cli/render.ts';
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX_CLI = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const FAILOVER = join(REPO_ROOT, 'bin', 'failover.ts');
// Each look at the process table spawns ps (about 10 ms of CPU); DynamoDB Local lives for seconds.
const WATCH_INTERVAL_MS = 500;

/** A DynamoDB Local process seen among the CLI's descendants. */
export interface DynamoDbProcess {
  pid: number;
  /** Its parent when first seen: the Node process running bin/failover.ts. */
  ppid: number;
  /** From its `-port N` argument. */
  port: number | null;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** DynamoDB Local processes started (directly or through the tsx child) by this CLI run. */
  dynamoDb: DynamoDbProcess[];
}

export interface CliOptions {
  /** Own process group, so a test can signal the CLI as a terminal's Ctrl-C would. */
  detached?: boolean;
  /** Called with the child and the DynamoDB Local processes seen so far, after every process-table poll. */
  onPoll?: (child: ChildProcess, seen: readonly DynamoDbProcess[], stdout: string) => void;
  /** Kill the whole run (SIGKILL) after this long; the test then fails on the exit code. */
  timeoutMs?: number;
}

interface ProcessRow {
  pid: number;
  ppid: number;
  args: string;
}

const execFileAsync = promisify(execFile);

export async function processTable(): Promise<ProcessRow[]> {
  const { stdout } = await execFileAsync('ps', ['-eo', 'pid=,ppid=,args='], { maxBuffer: 16 * 1024 * 1024 });
  return stdout
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] ?? '' }));
}

function isDynamoDbLocal(args: string): boolean {
  return args.includes('java') && args.includes('DynamoDBLocal');
}

/** DynamoDB Local processes among the descendants of `root`. */
function dynamoDbDescendants(rows: readonly ProcessRow[], root: number): DynamoDbProcess[] {
  const children = new Map<number, ProcessRow[]>();
  for (const row of rows) children.set(row.ppid, [...(children.get(row.ppid) ?? []), row]);
  const found: DynamoDbProcess[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    for (const child of children.get(pid) ?? []) {
      if (isDynamoDbLocal(child.args)) {
        const port = /-port\s+(\d+)/.exec(child.args)?.[1];
        found.push({ pid: child.pid, ppid: child.ppid, port: port ? Number(port) : null });
      }
      queue.push(child.pid);
    }
  }
  return found;
}

/** The ones of `processes` still in the process table as DynamoDB Local. */
export async function stillRunning(processes: readonly DynamoDbProcess[]): Promise<DynamoDbProcess[]> {
  const rows = await processTable();
  return processes.filter((p) => rows.some((row) => row.pid === p.pid && isDynamoDbLocal(row.args)));
}

/** Resolves 'refused' when nothing listens on 127.0.0.1:port, 'open' when something accepts. */
export function probePort(port: number): Promise<'open' | 'refused'> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('open');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      if (error.code === 'ECONNREFUSED') resolve('refused');
      else reject(error);
    });
  });
}

/** Polls until `check` holds or `ms` passed; returns its last value. */
export async function eventually<T>(probe: () => Promise<T>, check: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await probe();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await probe();
  }
  return value;
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const started = Date.now();
  const child = spawn(process.execPath, [TSX_CLI, FAILOVER, ...args], {
    cwd: REPO_ROOT,
    detached: options.detached ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const seen = new Map<number, DynamoDbProcess>();
  let exited = false;
  const watch = async () => {
    while (!exited) {
      try {
        for (const p of dynamoDbDescendants(await processTable(), child.pid!)) if (!seen.has(p.pid)) seen.set(p.pid, p);
      } catch {
        // ps failed this once (the table changed under it): try again next round
      }
      options.onPoll?.(child, [...seen.values()], stdout);
      await new Promise((resolve) => setTimeout(resolve, WATCH_INTERVAL_MS));
    }
  };
  const watching = watch();
  const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;

  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      void watching.then(() => resolve({ code, signal, stdout, stderr, wallMs: Date.now() - started, dynamoDb: [...seen.values()] }));
    });
  });
}

/** What `simulate --json` prints: the document cli/render.ts builds, so the tests cannot drift from it. */
export type SimulationJson = ReturnType<typeof simulationDocument>;

/** What the CLI run in-process wrote, and the exit code main() returned. */
export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `failover <args>` in-process: the same argument parsing and commands (cli/main.ts), buffers
 * instead of the process's streams, the suite's shared DynamoDB Local. A separate process costs
 * seconds of CPU to start (runCli is for what is about the process itself). main() keeps its
 * streams in module state: one call at a time.
 */
export async function runCliInProcess(args: string[]): Promise<InProcessResult> {
  const { main } = await import('../../cli/main.ts');
  let stdout = '';
  let stderr = '';
  const io = { stdout: (text: string) => void (stdout += text), stderr: (text: string) => void (stderr += text) };
  const code = await main(['node', 'failover', ...args], io, { dynamoEndpoint: sharedDynamoEndpoint() });
  return { code, stdout, stderr };
}
