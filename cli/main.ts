// The operator CLI: `npx failover <command>` (bin/failover.ts runs main()). Against a deployed stack (--stack, --region,
// --profile, --config) or, with --scenario, a scenario's local runtime.
// Exit codes: 0 ok; 1 an outcome the scenario declares unexpected; 2 bad input.
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../core/config.ts';
import { ErrorNames } from '../core/errors.ts';
import { INSTANCE_ID } from '../core/config.ts';
import { TRIGGER_KINDS, type TriggerKind } from '../core/workflow-state.ts';
import type { Deps } from '../functions/deps.ts';
import { openLocalRuntime, runSimulation } from '../local/runtime/simulation.ts';
import { loadScenarioFile, type Scenario } from '../local/scenario.ts';
import { deployedDeps } from './deployed.ts';
import { history, plan, poolNodes, requestSwitchover, status } from './operator.ts';
import { historyText, incidentTimeline, planText, poolText, progressPrinter, simulationDocument, statusText, summary } from './render.ts';

const EXIT = { ok: 0, unexpected: 1, badInput: 2 } as const;

class BadInput extends Error {}

let exitCode: number = EXIT.ok;

/** For tests: run scenarios against an already running DynamoDB Local. */
export interface MainOptions {
  dynamoEndpoint?: string;
}
let runtimeOptions: MainOptions = {};

/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}
const processIo: Io = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };
let io: Io = processIo;
const out = (lines: string | string[]) => io.stdout(`${([] as string[]).concat(lines).join('\n')}\n`);

interface TargetOptions {
  scenario?: string;
  stack: string;
  region?: string;
  profile?: string;
  config: string;
  json?: boolean;
}

function withTarget(command: Command): Command {
  return command
    .option('--scenario <file>', "use this scenario's local runtime instead of a deployed stack")
    .option('--stack <name>', 'deployed stack name', 'RapidFailover')
    .option('--region <region>', 'AWS region of the deployed stack')
    .option('--profile <profile>', 'AWS profile')
    .option('--config <file>', 'the config file the stack was deployed with', 'failover.config.json')
    .option('--json', 'print JSON');
}

/**
 * Runs `use` against the target: a deployed stack, or a scenario's local runtime after the
 * scenario's timeline has run (so status, history and pool show where it ended).
 */
async function onTarget<T>(options: TargetOptions, use: (deps: Deps) => Promise<T>, runTimeline = true): Promise<T> {
  if (!options.scenario) return use(await deployedDeps({ stackName: options.stack, region: options.region, profile: options.profile, configFile: options.config }));
  const runtime = await openLocalRuntime(loadScenarioFile(options.scenario), runtimeOptions);
  try {
    if (runTimeline) await runtime.run();
    return await runtime.drive(use);
  } finally {
    await runtime.close();
  }
}

function print(options: { json?: boolean }, value: unknown, text: string[]): void {
  out(options.json ? JSON.stringify(value, null, 2) : text);
}

async function simulate(file: string, options: { json?: boolean }): Promise<number> {
  const scenario = loadScenarioFile(file);
  if (!options.json) out(header(scenario));
  const result = await runSimulation(scenario, options.json ? runtimeOptions : { ...runtimeOptions, onProgress: progressPrinter((line) => out(line)) });
  if (options.json) out(JSON.stringify(simulationDocument(result), null, 2));
  else {
    out(['', 'Timeline per incident', '']);
    for (const incident of result.incidents) out([...incidentTimeline(incident), '']);
    out(summary(result));
  }
  return result.unexpected.length > 0 ? EXIT.unexpected : EXIT.ok;
}

function header(scenario: Scenario): string[] {
  return [
    `rapid-failover · simulating '${scenario.name}': ${scenario.fleet.instances.length} instances, ${scenario.config.applications.length} applications, ${scenario.timeline.length} injected event(s)`,
    ...(scenario.description ? [`  ${scenario.description}`] : []),
    '',
  ];
}

function triggerOption(value: string): TriggerKind {
  if (!(TRIGGER_KINDS as readonly string[]).includes(value)) throw new BadInput(`--trigger: expected one of ${TRIGGER_KINDS.join(', ')}, got '${value}'`);
  return value as TriggerKind;
}

function nodeOption(value: string): string {
  if (!INSTANCE_ID.test(value)) throw new BadInput(`--to: expected an EC2 instance id like i-0123456789abcdef0, got '${value}'`);
  return value;
}

export function program(): Command {
  const cli = new Command('failover')
    .description('rapid-failover: simulate the control plane locally, or operate a deployed stack')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) });

  cli
    .command('simulate')
    .argument('<scenario>', 'scenario file (JSON)')
    .option('--json', 'print one JSON document: incidents, final fleet, notifications')
    .description('run a scenario on the local runtime (DynamoDB Local, simulated fleet, virtual time)')
    .action(async (file: string, options: { json?: boolean }) => {
      exitCode = await simulate(file, options);
    });

  withTarget(
    cli
      .command('plan')
      .argument('<app>', 'application name')
      .addOption(new Option('--trigger <kind>', 'trigger kind').default('failure').argParser(triggerOption))
      .option('--to <node>', 'plan a switchover to this node', nodeOption)
      .description('dry run: which node would be chosen now, and why every other node was rejected; no side effects'),
  ).action(async (app: string, options: TargetOptions & { trigger: TriggerKind; to?: string }) => {
    const result = await onTarget(options, (deps) => plan(deps, app, options.trigger, options.to), false);
    print(options, result, planText(result));
  });

  withTarget(cli.command('status').argument('[app]', 'application name').description('where each application runs, locks, switching state')).action(
    async (app: string | undefined, options: TargetOptions) => {
      const rows = await onTarget(options, (deps) => status(deps, app));
      print(options, rows, statusText(rows));
    },
  );

  withTarget(cli.command('history').argument('<app>', 'application name').description("an application's failover records, newest first")).action(
    async (app: string, options: TargetOptions) => {
      const records = await onTarget(options, (deps) => history(deps, app));
      print(options, records, historyText(records));
    },
  );

  withTarget(cli.command('pool').description('every pool node: pool, tier, state, role, what runs on it')).action(async (options: TargetOptions) => {
    const entries = await onTarget(options, (deps) => poolNodes(deps));
    print(options, entries, poolText(entries));
  });

  withTarget(
    cli
      .command('switchover')
      .argument('<app>', 'application name')
      .option('--to <node>', 'move to this node (C6); default: the best eligible node', nodeOption)
      .option('--requested-by <name>', 'who asks, for the record', process.env.USER ?? 'operator')
      .description('a planned, operator-started move of an application'),
  ).action(async (app: string, options: TargetOptions & { to?: string; requestedBy: string }) => {
    if (!options.scenario) {
      const eventId = await onTarget(options, (deps) => requestSwitchover(deps, app, options.to, options.requestedBy));
      print(options, { eventId }, [`switchover of ${app} requested (event ${eventId}); follow it with: npx failover status ${app}`]);
      return;
    }
    // Locally: the scenario's timeline, then the switchover.
    const scenario = loadScenarioFile(options.scenario);
    const at = Math.max(0, ...scenario.timeline.map((e) => e.at)) + 1;
    scenario.timeline.push({ at, event: 'switchover', app, to: options.to, requestedBy: options.requestedBy });
    const result = await runSimulation(scenario, runtimeOptions);
    const incidents = result.incidents.filter((i) => i.app === app && i.trigger === 'switchover');
    print(options, incidents, incidents.flatMap(incidentTimeline));
  });

  return cli;
}

/** Runs one command line (`argv` as process.argv has it); resolves to the exit code. */
export async function main(argv: string[], streams: Io = processIo, options: MainOptions = {}): Promise<number> {
  io = streams;
  runtimeOptions = options;
  exitCode = EXIT.ok;
  try {
    await program().parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    if (error instanceof ConfigError || error instanceof BadInput || (error instanceof Error && error.name === ErrorNames.Validation)) {
      io.stderr(`${error.message}\n`);
      return EXIT.badInput;
    }
    throw error;
  }
}

