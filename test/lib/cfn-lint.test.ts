// cfn-lint, AWS's CloudFormation linter, on the templates the CDK synthesizes: for the example
// config and for a generated config at scale with every feature in use. A check written by
// others than the authors of lib/: resource schemas, IAM policy grammar (E3510) and action
// names (W3037), intrinsic functions, limits. No error; every warning is fixed in lib/ or kept
// in KEPT_WARNINGS with the reason, and a new warning fails the test.
//
// cfn-lint skips a state machine whose DefinitionString is an intrinsic function, and the CDK
// always writes it as an Fn::Join (its Lambda ARNs are GetAtts): cfn-lint 1.51's
// StateMachineDefinition rule (E3601) does `if fn_name: continue`. So the definitions are
// linted a second time, resolved to plain strings, in templates of their own.
// What cfn-lint checks there and asl-validator (test/lib/stack.test.ts) does not, and back,
// tried by breaking the definition by hand:
//   both:            an unknown state Type, a StartAt naming no state, a ResultPath without '$',
//                    an unknown field on a Task, a negative Wait
//   asl-validator:   a Next/Catch/Default naming no state, an unreachable state, a malformed
//                    Choice rule, ErrorEquals not a list, a negative MaxAttempts, TimeoutSeconds
//                    as a string (cfn-lint misses the first two and crashes, E1101, on the rest)
//   cfn-lint only:   nothing found so far
//   neither:         an unknown field in a Retry, BackoffRate below 1, an unknown JitterStrategy,
//                    States.ALL before other retriers
// so asl-validator stays.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, NestedStack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../core/config.ts';
import { RapidFailoverStack } from '../../lib/rapid-failover-stack.ts';
import { extractStateMachine, type CfnTemplate } from '../../local/state-machine-definition.ts';
import { cfnLint, cfnLintVersion, type CfnLintFinding } from './cfn-lint.ts';
import { largeConfig } from './large-config.ts';
import { exampleConfig } from './synth.ts';

const REGION = 'eu-west-1';

/** Warnings cfn-lint raises on our templates that stay, each with why. Matched on rule and message. */
const KEPT_WARNINGS: Array<{ rule: string; message: RegExp; reason: string }> = [
  {
    rule: 'W3005',
    // ControlPlane…: our functions and state machine; AWS679f53fac002430cb0da5b7982bd2287…: the
    // singleton provider function of CDK's AwsCustomResource (the deploy-time serving tags).
    message: /^'ControlPlane\w*Role[0-9A-F]{8}' dependency already enforced by a 'GetAtt' at 'Resources\/(ControlPlane\w+|AWS679f53fac002430cb0da5b7982bd2287[0-9A-F]{8})\/Properties\/(Role|RoleArn)'$/,
    reason:
      "CDK's lambda.Function and sfn.StateMachine make their resource depend on the whole role construct " +
      '(resource.node.addDependency(role)), so that they are created after the policies attached to the role ' +
      '(DefaultPolicy, and OverflowPolicy1..n when a policy outgrows its size limit): the function may be invoked, ' +
      'and Step Functions checks the log-delivery permissions, as soon as the resource exists. The role itself is then ' +
      'listed next to the GetAtt of its Arn: redundant and harmless. Removing it means rewriting DependsOn on the CDK ' +
      "L1 resources by hand, which could drop a policy dependency with it.",
  },
];

const workDir = mkdtempSync(join(tmpdir(), 'rapid-failover-cfn-lint-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const FILES = {
  example: join(workDir, 'ExampleConfig.template.json'),
  large: join(workDir, 'LargeConfig.template.json'),
  exampleDefinition: join(workDir, 'example-state-machine.json'),
  largeDefinition: join(workDir, 'large-state-machine.json'),
  canary: join(workDir, 'canary.json'),
};

/** A template holding only the state machine, its definition a plain string (the function ARNs resolved). */
function definitionTemplate(template: CfnTemplate, mutate: (definition: Record<string, unknown>) => void = () => undefined) {
  const { definition } = extractStateMachine(template);
  mutate(definition);
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Resources: {
      Workflow: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: { StateMachineType: 'STANDARD', RoleArn: 'arn:aws:iam::123456789012:role/rapid-failover-workflow', DefinitionString: JSON.stringify(definition) },
      },
    },
  };
}

/** The nested stacks' templates (the performance alarms, lib/detection.ts) of both stacks. */
const nestedFiles: string[] = [];

let findings: CfnLintFinding[] | undefined;
/** Set when cfn-lint is missing or failed: every test then fails with it (none is skipped). */
let setupError: unknown;
const of = (file: string, level?: CfnLintFinding['level']) => {
  if (!findings) throw setupError;
  return findings.filter((f) => f.file === file && (!level || f.level === level));
};
const describeFinding = (f: CfnLintFinding) => `${f.rule} ${f.message.slice(0, 160)} at ${f.path}`;

beforeAll(() => {
  try {
    findings = lintTemplates();
  } catch (error) {
    setupError = error;
  }
}, 180_000);

function lintTemplates(): CfnLintFinding[] {
  console.info(cfnLintVersion());
  const app = new App({ outdir: join(workDir, 'assembly'), context: { 'aws:cdk:bundling-stacks': [] } });
  const stacks: Array<[string, Config]> = [
    ['ExampleConfig', exampleConfig()],
    ['LargeConfig', largeConfig()],
  ];
  const built = stacks.map(([name, config]) => new RapidFailoverStack(app, name, { config, env: { account: '123456789012', region: REGION } }));
  const assembly = app.synth();
  for (const nested of built.flatMap((stack) => stack.node.findAll().filter((c): c is NestedStack => NestedStack.isNestedStack(c)))) {
    const file = join(workDir, nested.templateFile);
    writeFileSync(file, readFileSync(join(assembly.directory, nested.templateFile)));
    nestedFiles.push(file);
  }
  const example = assembly.getStackByName('ExampleConfig').template as CfnTemplate;
  const large = assembly.getStackByName('LargeConfig').template as CfnTemplate;
  writeFileSync(FILES.example, JSON.stringify(example, null, 1));
  writeFileSync(FILES.large, JSON.stringify(large, null, 1));
  writeFileSync(FILES.exampleDefinition, JSON.stringify(definitionTemplate(example), null, 1));
  writeFileSync(FILES.largeDefinition, JSON.stringify(definitionTemplate(large), null, 1));
  // Planted defects, linted in the same run: the rules this test relies on must fire on them.
  const canary = definitionTemplate(example, (definition) => {
    (definition.States as Record<string, { Type: string }>).LockApplication!.Type = 'Tusk';
  });
  Object.assign(canary.Resources, {
    Canary: {
      Type: 'AWS::IAM::ManagedPolicy',
      Properties: { PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ec2:StartInstance'], Resource: '*' }] } },
    },
  });
  writeFileSync(FILES.canary, JSON.stringify(canary, null, 1));
  return cfnLint([...Object.values(FILES), ...nestedFiles], REGION);
}

describe('cfn-lint on the synthesized templates', () => {
  it('the rules this test relies on fire: E3601 on a broken state type, W3037 on an unknown IAM action', () => {
    const canary = of(FILES.canary);
    expect(canary.find((f) => f.rule === 'E3601')?.message).toMatch(/'Tusk' is not one of/);
    expect(canary.find((f) => f.rule === 'W3037')?.message).toMatch(/'startinstance' is not one of/);
  });

  it('finds no error in the template for failover.config.json', () => {
    expect(of(FILES.example, 'Error').map(describeFinding)).toEqual([]);
  });

  it('finds no error in the template for 50 applications over 5 pools with every feature in use', () => {
    expect(of(FILES.large, 'Error').map(describeFinding)).toEqual([]);
  });

  it("finds nothing in the nested stacks' templates (the performance alarms), for either config", () => {
    expect(nestedFiles.length).toBeGreaterThan(1);
    expect(nestedFiles.flatMap((file) => of(file)).map(describeFinding)).toEqual([]);
  });

  it('E3601: finds nothing in either state machine definition, resolved to a plain string', () => {
    expect([...of(FILES.exampleDefinition), ...of(FILES.largeDefinition)].map(describeFinding)).toEqual([]);
  });

  it('raises no warning that is not kept with its reason', () => {
    const warnings = [...of(FILES.example, 'Warning'), ...of(FILES.large, 'Warning')];
    const unlisted = warnings.filter((w) => !KEPT_WARNINGS.some((k) => k.rule === w.rule && k.message.test(w.message)));
    expect(unlisted.map(describeFinding)).toEqual([]);
  });

  it('every kept warning still occurs, so the list does not outlive its reasons', () => {
    const warnings = [...of(FILES.example, 'Warning'), ...of(FILES.large, 'Warning')];
    const stale = KEPT_WARNINGS.filter((k) => !warnings.some((w) => w.rule === k.rule && k.message.test(w.message)));
    expect(stale.map((k) => k.rule)).toEqual([]);
  });
});

describe('the generated large config', () => {
  it('uses every feature the config has', () => {
    const config = largeConfig();
    const apps = config.applications;
    expect(apps).toHaveLength(50);
    expect(config.pools).toHaveLength(5);
    expect(new Set(config.pools.map((p) => p.tier))).toEqual(new Set(['failover', 'backup']));
    expect(config.pools.some((p) => p.virtualNodes)).toBe(true);
    expect(new Set(apps.map((a) => a.provisioning.method))).toEqual(new Set(['activate', 'install', 'boot-volume']));
    const sources = apps.flatMap((a) => (a.provisioning.method === 'boot-volume' ? [Object.keys(a.provisioning.source)[0]] : []));
    // An AMI is the only boot image a pool node can take (a snapshot is refused at load: core/config.ts).
    expect(new Set(sources)).toEqual(new Set(['imageId']));
    expect(apps.some((a) => a.provisioning.method === 'boot-volume' && a.provisioning.kmsKeyArn)).toBe(true);
    expect(new Set(apps.map((a) => a.cluster.logicalAddress?.kind))).toEqual(new Set(['elastic-ip', 'secondary-private-ip', undefined]));
    expect(apps.some((a) => a.detection.performance)).toBe(true);
    expect(apps.some((a) => a.detection.failure.targetHealth)).toBe(true);
    expect(apps.some((a) => a.detection.failure.statusChecks)).toBe(true);
    expect(apps.some((a) => a.detection.failure.alarmArns.length > 0)).toBe(true);
    expect(apps.some((a) => a.placement.possibleNodes.length > 0)).toBe(true);
    expect(apps.some((a) => a.run.length > 0 && a.halt.length > 0)).toBe(true);
    expect(apps.some((a) => a.cluster.targetGroupArns.length > 1)).toBe(true);
    expect(apps.some((a) => a.cluster.isolationSecurityGroupId)).toBe(true);
    expect(apps.some((a) => a.cluster.readinessCommand)).toBe(true);
  });
});
