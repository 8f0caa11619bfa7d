// moto (github.com/getmoto/moto, an independent emulation of AWS APIs in Python) as a child
// process on a free loopback port, for the contract tests. The same care as DynamoDB Local
// (local/dynamodb-local.ts):
//
// - Binds 127.0.0.1 only (`-H 127.0.0.1`).
// - Never orphaned: on Linux it is started through `setpriv --pdeathsig SIGKILL` (util-linux),
//   so the kernel kills it when the process that spawned it dies, even by SIGKILL. stop() kills
//   it and waits for its exit; process 'exit', SIGINT, SIGTERM and a crashing uncaught
//   exception kill every server still running.
// - Missing moto is an error that says what to install; the suite never skips.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../../local/dynamodb-local.ts';

export const MOTO_INSTALL_HINT =
  "the contract tests need moto's server: install it with `pip install 'moto[server]==5.2.*'` (Python 3), so that `moto_server` is on the PATH";

export interface MotoServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  /** The moto_server process id. */
  pid: number;
  /** Wall-clock milliseconds from spawn until it first answered. */
  startupMs: number;
  /** True when the kernel kills the server if this process dies (setpriv --pdeathsig). */
  diesWithParent: boolean;
  /** Forgets every resource in every service and account (moto's own reset API). */
  reset(): Promise<void>;
  /** Kills the process and waits until it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartMotoServerOptions {
  /** The moto_server executable (default: `moto_server` on the PATH). */
  command?: string;
  /** Give up when it has not answered within this many milliseconds (default 30 000). */
  startupTimeoutMs?: number;
}

/** Dummy credentials and the region the contract tests use; moto checks neither. */
export const MOTO_CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'moto', secretAccessKey: 'moto' },
  // A contract answer must be moto's first answer, not a retried one.
  maxAttempts: 1,
} as const;

/** Amazon Linux 2 (HVM, gp2) images from AWS's public catalogue, one per architecture, the only images moto loads. */
const MOTO_AMIS_FILE = fileURLToPath(new URL('./fixtures/moto-amis.json', import.meta.url));
export const MOTO_LAUNCH_IMAGES: Readonly<Record<string, string>> = Object.fromEntries(
  (JSON.parse(readFileSync(MOTO_AMIS_FILE, 'utf8')) as Array<{ ami_id: string; architecture: string }>).map((image) => [image.architecture, image.ami_id]),
);

const STOP_GRACE_MS = 5_000;
const BIND_ATTEMPTS = 3;

interface Running {
  child: ChildProcessWithoutNullStreams;
  done: boolean;
  exited: Promise<void>;
}
const running = new Set<Running>();

export class MotoMissingError extends Error {
  override readonly name = 'MotoMissingError';
}

class EarlyExitError extends Error {
  override readonly name = 'MotoServerExitedError';
  constructor(
    code: number | null,
    signal: NodeJS.Signals | null,
    readonly output: string,
  ) {
    super(`moto_server exited before it answered (code ${code}, signal ${signal}):\n${output}`);
  }
}

let setprivAvailable: boolean | undefined;

function hasSetpriv(): boolean {
  if (setprivAvailable === undefined) {
    const probe = spawnSync('setpriv', ['--version'], { stdio: 'ignore' });
    setprivAvailable = probe.status === 0;
  }
  return setprivAvailable;
}

export async function startMotoServer(options: StartMotoServerOptions = {}): Promise<MotoServer> {
  installCleanupHooks();
  const command = options.command ?? 'moto_server';
  const timeoutMs = options.startupTimeoutMs ?? 30_000;
  let lastError: unknown;
  for (let attempt = 1; attempt <= BIND_ATTEMPTS; attempt++) {
    const port = await freeLoopbackPort();
    try {
      return await launch(command, port, timeoutMs);
    } catch (error) {
      lastError = error;
      // Another process may have taken the port between our probe and the bind: try another.
      if (!(error instanceof EarlyExitError && /address already in use/i.test(error.output))) throw error;
    }
  }
  throw lastError;
}

async function launch(command: string, port: number, timeoutMs: number): Promise<MotoServer> {
  const serverArgs = ['-H', '127.0.0.1', '-p', String(port)];
  const diesWithParent = hasSetpriv();
  const [file, args] = diesWithParent ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...serverArgs]] : [command, serverArgs];
  if (!diesWithParent) {
    process.emitWarning('setpriv (util-linux) not found: a moto_server started by a process killed with SIGKILL may outlive it');
  }

  const started = performance.now();
  // Attached (not detached): it shares our process group, so a Ctrl-C in a terminal reaches it too.
  const child = spawn(file, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    // Without its catalogue of public AMIs, a reset EC2 backend starts in ~30 ms of CPU instead of
    // ~330 ms (measured). MOTO_AMIS_PATH gives it the two public images the cases launch from
    // instead (MOTO_LAUNCH_IMAGES): an instance from an image moto does not know is paravirtual.
    env: { ...process.env, MOTO_EC2_LOAD_DEFAULT_AMIS: 'false', MOTO_AMIS_PATH: MOTO_AMIS_FILE },
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_192);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exitedEarly: ((error: Error) => void) | undefined;
  let resolveExited!: () => void;
  const entry: Running = { child, done: false, exited: new Promise<void>((resolve) => (resolveExited = resolve)) };
  const finish = (error: Error) => {
    if (entry.done) return;
    entry.done = true;
    running.delete(entry);
    exitedEarly?.(error);
    resolveExited();
  };
  child.once('exit', (code, signal) => {
    // 127: the shell, setpriv or a pyenv shim could not find the command.
    const missing = code === 127 || /command not found|No such file or directory|No module named ['"]?moto/i.test(output);
    finish(missing ? new MotoMissingError(`${MOTO_INSTALL_HINT}\n(${command}: ${output.trim() || `exit code ${code}`})`) : new EarlyExitError(code, signal, output));
  });
  child.once('error', (error: NodeJS.ErrnoException) =>
    finish(
      error.code === 'ENOENT'
        ? new MotoMissingError(`${MOTO_INSTALL_HINT}\n(${file}: not found on the PATH)`)
        : new Error(`could not start ${file}: ${error.message}`, { cause: error }),
    ),
  );
  running.add(entry);

  const endpoint = `http://127.0.0.1:${port}`;
  const failed = new Promise<never>((_, reject) => {
    exitedEarly = reject;
  });
  try {
    await Promise.race([waitUntilAnswering(endpoint, timeoutMs), failed]);
  } catch (error) {
    await kill(entry);
    throw error;
  } finally {
    exitedEarly = undefined;
  }
  const startupMs = Math.round(performance.now() - started);

  // A test file that forgets stop() still ends; the 'exit' hook then ends the server too.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as Socket).unref();

  return {
    endpoint,
    port,
    pid: child.pid!,
    startupMs,
    diesWithParent,
    reset: () => reset(endpoint),
    stop: () => kill(entry),
  };
}

async function reset(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  if (!response.ok) throw new Error(`moto reset answered ${response.status}: ${await response.text()}`);
}

async function waitUntilAnswering(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      await reset(endpoint);
      return;
    } catch (error) {
      if (performance.now() > deadline) {
        throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  }
}

async function kill(entry: Running): Promise<void> {
  const { child } = entry;
  if (entry.done) return;
  child.ref(); // keep this process alive until we have seen it exit
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await entry.exited;
  } finally {
    clearTimeout(timer);
  }
}

let hooksInstalled = false;

function installCleanupHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = () => {
    for (const entry of running) {
      if (!entry.done) entry.child.kill('SIGKILL');
    }
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      killAll();
      // Adding a listener turns off Node's default "exit on signal". If nobody else handles the
      // signal, restore the default and raise it again so the process still ends as it would have.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
  // Observes a crash without swallowing it (an 'uncaughtException' listener would keep the
  // process alive); only when nobody handles it is the process about to die.
  process.on('uncaughtExceptionMonitor', () => {
    if (process.listenerCount('uncaughtException') === 0) killAll();
  });
}
