// One Lambda execution environment for a deployed bundle, as a worker thread (local/runtime/
// bundles.ts starts it with exactly the environment variables Lambda would give the function).
// Node 22 runs this file by stripping its types, without the test runner's or tsx's loaders, so
// the bundle is imported by Node's own ESM loader as Lambda's Node.js runtime imports it. It
// imports nothing but Node built-ins (and sdk-stream.ts, itself built-ins only), so it cannot
// lend the bundle a module it lacks.
//
// Before importing the bundle it sets the hook functions/deps.ts reads (LOCAL_RUNTIME_HOOK):
// every SDK client but DynamoDB's sends its commands to the host thread (the simulated fleet,
// the local Step Functions), and the clock reads the virtual time the host sent last.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { LocalRuntimeHook } from '../../functions/deps.ts';
import { withSdkStreamBody } from '../fleet/sdk-stream.ts';
import type { HostMessage, WorkerMessage, LambdaWorkerData, SerializedError } from './bundles.ts';

type Handler = (event: unknown, context: Record<string, unknown>) => Promise<unknown>;
interface Middlewares {
  add(middleware: unknown, options: { step: string; name: string; priority: string }): void;
}

const port = parentPort!;
const data = workerData as LambdaWorkerData;
let virtualNowMs = data.nowMs;
let callSeq = 0;
const calls = new Map<number, { resolve: (output: unknown) => void; reject: (error: Error) => void }>();
const post = (message: WorkerMessage) => port.postMessage(message);

/** An AWS call, answered by the host thread from the fleet or the local Step Functions. */
function callHost(serviceId: string, command: string, input: unknown): Promise<unknown> {
  const id = ++callSeq;
  return new Promise((resolve, reject) => {
    calls.set(id, { resolve, reject });
    post({ type: 'aws-call', id, serviceId, command, input });
  });
}

const hook: LocalRuntimeHook = {
  transport: (client) => {
    const sdkClient = client as unknown as { config: { serviceId?: string }; middlewareStack: Middlewares };
    // First in 'initialize', never calling next: nothing is serialized, signed or sent (as attachFleet does).
    sdkClient.middlewareStack.add(
      (_next: unknown, context: { commandName?: string }) => async (args: { input: unknown }) => ({
        // A streaming body (S3 GetObject) crosses the thread boundary as bytes: the SDK's stream again here.
        output: withSdkStreamBody(await callHost(sdkClient.config.serviceId ?? '', context.commandName ?? 'UnknownCommand', args.input)),
        response: {},
      }),
      { step: 'initialize', name: 'localRuntimeHost', priority: 'high' },
    );
    return client;
  },
  clock: () => new Date(virtualNowMs),
};
// The same key as LOCAL_RUNTIME_HOOK in functions/deps.ts (a registered symbol: one per process).
(globalThis as Record<symbol, unknown>)[Symbol.for('rapid-failover.local-runtime')] = hook;

/** As Lambda's Node.js runtime reads `_HANDLER`: "index.handler" is export `handler` of index.mjs/.js/.cjs. */
async function loadHandler(): Promise<Handler> {
  const dot = data.handler.lastIndexOf('.');
  const [file, exported] = [data.handler.slice(0, dot), data.handler.slice(dot + 1)];
  const path = ['.mjs', '.js', '.cjs'].map((ext) => join(data.taskRoot, file + ext)).find((p) => existsSync(p));
  if (!path) throw runtimeError('Runtime.ImportModuleError', `Cannot find module '${file}' in ${data.taskRoot}`);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const e = error as Error;
    throw runtimeError(e instanceof SyntaxError ? 'Runtime.UserCodeSyntaxError' : 'Runtime.ImportModuleError', `${e.name}: ${e.message}`);
  }
  const handler = module[exported];
  if (typeof handler !== 'function') throw runtimeError('Runtime.HandlerNotFound', `${data.handler} is undefined or not exported`);
  return handler as Handler;
}

function runtimeError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

/** Like the SDK's ServiceException: the name is the AWS error code, with $fault and $metadata. */
function revive(error: SerializedError): Error {
  return Object.assign(new Error(error.message), error.fields, { name: error.name });
}

/** Lambda's init phase: the module is imported before the first invocation. A failed init is tried again on the next one. */
function init(): Promise<Handler> {
  return loadHandler().catch((error: unknown) => {
    handler = undefined;
    throw error;
  });
}

let handler: Promise<Handler> | undefined = init();
void handler.then(
  () => post({ type: 'ready' }),
  () => post({ type: 'ready' }),
);

port.on('message', (message: HostMessage) => {
  virtualNowMs = message.nowMs;
  if (message.type === 'aws-result') {
    const call = calls.get(message.id);
    calls.delete(message.id);
    if (message.ok) call?.resolve(message.output);
    else call?.reject(revive(message.error));
    return;
  }
  void (async () => {
    try {
      const run = await (handler ??= init());
      const context = { functionName: data.functionName, awsRequestId: message.requestId, getRemainingTimeInMillis: () => data.timeoutMs };
      const output = await run(message.event, context);
      post({ type: 'result', id: message.id, ok: true, output: output === undefined ? null : JSON.stringify(output) });
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      // What Lambda's Node.js runtime writes to the function's log for an unhandled error.
      console.error(JSON.stringify({ level: 'ERROR', message: 'Invoke Error', errorType: e.name, errorMessage: e.message, stackTrace: (e.stack ?? '').split('\n') }));
      post({ type: 'result', id: message.id, ok: false, errorType: e.name, errorMessage: e.message, trace: e.stack ?? '' });
    }
  })();
});
