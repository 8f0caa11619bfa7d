// moto_server for the contract tests: starts on loopback, resets, and leaves no process behind:
// not after stop(), not when the process that started it exits without stop(), crashes, is
// interrupted (SIGINT, SIGTERM) or is killed outright (SIGKILL). Missing moto fails with what to
// install; it never skips.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CreateTopicCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOTO_CLIENT_CONFIG, MotoMissingError, startMotoServer, type MotoServer } from './moto-server.ts';

let server: MotoServer;

beforeAll(async () => {
  server = await startMotoServer();
  console.info(`moto_server answered ${server.startupMs} ms after spawn (pid ${server.pid}, port ${server.port})`);
});

afterAll(async () => {
  await server?.stop();
});

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Running, as opposed to gone or a zombie nobody reaped (it holds no port and runs nothing). */
function isRunning(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (existsSync('/proc/self/stat')) {
    if (!existsSync(stat)) return false;
    return readFileSync(stat, 'utf8').split(') ')[1]?.[0] !== 'Z';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isRunning(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return !isRunning(pid);
}

const HOLDER = fileURLToPath(new URL('./fixtures/hold-moto.ts', import.meta.url));

/** A separate Node process that starts moto_server (as a test file does) and ends as `mode` says. */
function holder(mode: 'wait' | 'exit' | 'throw'): Promise<{ child: ReturnType<typeof spawn>; pid: number; port: number; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, ...(JSON.parse(line) as { pid: number; port: number }), exited });
    });
    child.once('exit', (code) => reject(new Error(`holder exited (${code}) before moto answered:\n${err}`)));
  });
}

describe('moto_server', () => {
  it('answers on 127.0.0.1 only', async () => {
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`);
    expect(await canConnect('127.0.0.1', server.port)).toBe(true);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal);
    expect(external ? await canConnect(external.address, server.port) : false).toBe(false);
  });

  it('reset forgets what earlier cases created', async () => {
    const sns = new SNSClient({ ...MOTO_CLIENT_CONFIG, endpoint: server.endpoint });
    await sns.send(new CreateTopicCommand({ Name: 'left-over' }));
    const before = (await sns.send(new ListTopicsCommand({}))).Topics ?? [];

    await server.reset();

    expect(before).toHaveLength(1);
    expect((await sns.send(new ListTopicsCommand({}))).Topics ?? []).toEqual([]);
    sns.destroy();
  });

  it('without moto_server on the PATH, fails and says what to install', async () => {
    const start = startMotoServer({ command: 'moto_server_not_installed' });

    await expect(start).rejects.toBeInstanceOf(MotoMissingError);
    await expect(start).rejects.toThrow("pip install 'moto[server]==5.2.*'");
  });
});

describe('no moto_server outlives the process that started it', () => {
  // Each starts its own Node process and moto_server: seconds of CPU; they run side by side.
  it.concurrent('when that process exits without stop()', async () => {
    const { pid, port, exited } = await holder('exit');
    await exited;

    expect(await gone(pid)).toBe(true);
    expect(await canConnect('127.0.0.1', port)).toBe(false);
  });

  it.concurrent('when it crashes on an uncaught exception', async () => {
    const { pid, port, exited } = await holder('throw');
    await exited;

    expect(await gone(pid)).toBe(true);
    expect(await canConnect('127.0.0.1', port)).toBe(false);
  });

  it.concurrent('when it is interrupted (SIGINT) or terminated (SIGTERM)', async () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const { child, pid, port, exited } = await holder('wait');
      expect(isRunning(pid)).toBe(true);

      child.kill(signal);
      await exited;

      expect(await gone(pid), `after ${signal}`).toBe(true);
      expect(await canConnect('127.0.0.1', port)).toBe(false);
    }
  });

  it.concurrent('when it is killed with SIGKILL (no handler runs: the kernel ends moto, setpriv --pdeathsig)', async () => {
    const { child, pid, port, exited } = await holder('wait');
    expect(isRunning(pid)).toBe(true);

    child.kill('SIGKILL');
    await exited;

    expect(await gone(pid)).toBe(true);
    expect(await canConnect('127.0.0.1', port)).toBe(false);
  });
});

describe('stopping moto_server', () => {
  it('kills the process and closes the port', async () => {
    const { pid, port } = server;

    await server.stop();
    await server.stop(); // a second stop is harmless

    expect(await gone(pid, 0)).toBe(true);
    expect(await canConnect('127.0.0.1', port)).toBe(false);
  });
});
