// DynamoDB Local (AWS's own emulator, shipped in the amplify-dynamodb-simulator package) as a
// child process on a free loopback port, for the local runtime and for tests.
//
// - Binds 127.0.0.1 only. The jar has no host option (its server listens on every interface),
//   so we start it through a tiny launcher (LoopbackDynamoDBLocal.java, compiled once into a
//   cache directory) that sets the Jetty connector's host before starting. If no `javac` is
//   available, we fall back to the jar's own main and say so (`loopbackOnly: false`).
// - Never orphaned: the child stays attached (not detached) and the launcher exits when its
//   stdin closes, which happens when this process dies, even by SIGKILL. stop() kills it and
//   waits for its exit; process 'exit', SIGINT, SIGTERM and a crashing uncaught exception kill
//   every instance still running.
// - `-sharedDb`: one database whatever the credentials and region of the client, so clients
//   built with different dummy credentials see the same tables.
// - `-disableTelemetry`: no network calls from the emulator.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

export interface DynamoDbLocal {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  /** The java process id. */
  pid: number;
  /** Wall-clock milliseconds from spawn until the first ListTables answered. */
  startupMs: number;
  /** True when the server listens on 127.0.0.1 only (the launcher could be compiled). */
  loopbackOnly: boolean;
  /** Kill the process and wait until it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartDynamoDbLocalOptions {
  /** Give up when it has not answered within this many milliseconds (default 60 000). */
  startupTimeoutMs?: number;
  /** The java executable (default: `java` on the PATH). */
  java?: string;
}

/** Dummy credentials and region: DynamoDB Local checks that they are present, not what they are. */
export const LOCAL_CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

const LAUNCHER_CLASS = 'LoopbackDynamoDBLocal';
const LAUNCHER_SOURCE = fileURLToPath(new URL('./LoopbackDynamoDBLocal.java', import.meta.url));
// C1 only and the serial collector: the emulator answers its first request about twice as fast
// (measured ~2.5 s instead of ~5 s on a 2-core machine) and its load here is light.
const JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
const STOP_GRACE_MS = 5_000;
const BIND_ATTEMPTS = 3;

interface Running {
  child: ChildProcessWithoutNullStreams;
  /** Set once the process has exited (or could not be spawned at all). */
  done: boolean;
  exited: Promise<void>;
}
const running = new Set<Running>();

export function emulatorDirectory(): string {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
  if (!existsSync(join(dir, 'DynamoDBLocal.jar'))) {
    throw new Error(`DynamoDBLocal.jar not found in ${dir}; is the amplify-dynamodb-simulator devDependency installed?`);
  }
  return dir;
}

export async function startDynamoDbLocal(options: StartDynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  installCleanupHooks();
  const java = options.java ?? 'java';
  const timeoutMs = options.startupTimeoutMs ?? 60_000;
  const dir = emulatorDirectory();
  const launcher = compileLauncher(dir, java);
  let lastError: unknown;
  for (let attempt = 1; attempt <= BIND_ATTEMPTS; attempt++) {
    const port = await freeLoopbackPort();
    try {
      return await launch(dir, launcher, java, port, timeoutMs);
    } catch (error) {
      lastError = error;
      // Another process may have taken the port between our probe and the bind: try another.
      if (!(error instanceof EarlyExitError && /address already in use|BindException/i.test(error.output))) throw error;
    }
  }
  throw lastError;
}

class EarlyExitError extends Error {
  override readonly name = 'DynamoDbLocalExitedError';
  constructor(
    code: number | null,
    signal: NodeJS.Signals | null,
    readonly output: string,
  ) {
    super(`DynamoDB Local exited before it answered (code ${code}, signal ${signal}):\n${output}`);
  }
}

async function launch(
  dir: string,
  launcherClasses: string | null,
  java: string,
  port: number,
  timeoutMs: number,
): Promise<DynamoDbLocal> {
  const serverArgs = ['-inMemory', '-sharedDb', '-disableTelemetry', '-port', String(port)];
  const libraryPath = `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`;
  const args = launcherClasses
    ? [...JVM_FLAGS, libraryPath, '-cp', `${launcherClasses}:${join(dir, 'DynamoDBLocal.jar')}`, LAUNCHER_CLASS, ...serverArgs]
    : [...JVM_FLAGS, libraryPath, '-jar', join(dir, 'DynamoDBLocal.jar'), ...serverArgs];

  const started = performance.now();
  // Attached (not detached): it shares our process group, so a Ctrl-C in a terminal reaches it too.
  const child = spawn(java, args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
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
  child.once('exit', (code, signal) => finish(new EarlyExitError(code, signal, output)));
  child.once('error', (error) => finish(new Error(`could not start ${java}: ${error.message}`, { cause: error })));
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

  // Do not keep the event loop alive for it: a script that forgets stop() still ends, and the
  // 'exit' hook (or the closed stdin) then ends DynamoDB Local too.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as Socket).unref();

  return {
    endpoint,
    port,
    pid: child.pid!,
    startupMs,
    loopbackOnly: launcherClasses !== null,
    stop: () => kill(entry),
  };
}

async function waitUntilAnswering(endpoint: string, timeoutMs: number): Promise<void> {
  const client = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint, maxAttempts: 1 });
  const deadline = performance.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (error) {
        if (performance.now() > deadline) {
          throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
    }
  } finally {
    client.destroy();
  }
}

async function kill(entry: Running): Promise<void> {
  const { child } = entry;
  if (entry.done) return;
  child.ref(); // keep the process alive until we have seen it exit
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await entry.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A port that was free on 127.0.0.1 a moment ago (the kernel picks it). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the probed port'));
      });
    });
  });
}

/**
 * Compiles the launcher once per (launcher source, jar) into the OS temp directory and returns
 * that class directory; null if it cannot be compiled (no javac), in which case the jar's own
 * main is used and the server listens on every interface.
 */
function compileLauncher(dir: string, java: string): string | null {
  const jar = join(dir, 'DynamoDBLocal.jar');
  const source = readFileSync(LAUNCHER_SOURCE);
  const key = createHash('sha256').update(source).update(jar).update(String(statSync(jar).size)).digest('hex').slice(0, 16);
  const target = join(tmpdir(), 'rapid-failover-dynamodb-local', key);
  if (existsSync(join(target, `${LAUNCHER_CLASS}.class`))) return target;

  const javac = java === 'java' ? 'javac' : join(dirname(java), 'javac');
  const staging = `${target}.${process.pid}.${Date.now()}`;
  mkdirSync(staging, { recursive: true });
  const result = spawnSync(javac, ['-nowarn', '-cp', jar, '-d', staging, LAUNCHER_SOURCE], { encoding: 'utf8' });
  if (result.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    process.emitWarning(
      `could not compile ${LAUNCHER_SOURCE} (${result.error?.message ?? result.stderr.trim()}); ` +
        'DynamoDB Local will listen on every interface, not only 127.0.0.1',
    );
    return null;
  }
  try {
    renameSync(staging, target);
  } catch {
    // A concurrent start compiled it first: use theirs.
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
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
  // The monitor event observes an uncaught exception without swallowing it (an
  // 'uncaughtException' listener would keep a crashing process alive). Only when nobody handles
  // it is the process about to die; otherwise the 'exit' hook covers the eventual exit.
  process.on('uncaughtExceptionMonitor', () => {
    if (process.listenerCount('uncaughtException') === 0) killAll();
  });
}
