// One stack for 1,000 applications (issue 10 §3): synthesizes the stack for generated configs and
// measures it against the AWS limits a deploy must stay under, each with 2x headroom. Used by
// `npm run bench` (times and sizes at 10, 100 and 1,000 applications) and by
// test/lib/scale-limits.test.ts (the limits at 1,000; no times).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, NestedStack, type Stack } from 'aws-cdk-lib';
import { parseConfig, type Config } from '../core/config.ts';
import { RapidFailoverStack } from '../lib/rapid-failover-stack.ts';
import { largeConfig } from '../test/lib/large-config.ts';

/**
 * The limits, as AWS documents them. Each is asserted at half its value (2x headroom).
 * - CloudFormation, "Understand CloudFormation quotas": 500 resources per template; a template
 *   body in S3 of at most 1 MB (the CDK's own check, TEMPLATE_BODY_MAXIMUM_SIZE = 1e6, warns there).
 * - EventBridge quotas: event pattern size 2,048 characters (adjustable up to 4,096).
 * - Lambda quotas: 4 KB for all of a function's environment variables together.
 * - IAM and AWS STS quotas: inline policies of a role 10,240 characters together, a managed
 *   policy 6,144, 10 managed policies per role (20 on request); whitespace does not count.
 * - EC2 API reference, CreateTags: "Up to 1000 resource IDs" per call (the serving-tag custom resource).
 */
export const AWS_LIMITS = {
  resourcesPerTemplate: 500,
  templateBodyBytes: 1_000_000,
  eventPatternChars: 2_048,
  lambdaEnvironmentBytes: 4_096,
  roleInlinePolicyChars: 10_240,
  managedPolicyChars: 6_144,
  managedPoliciesPerRole: 10,
  createTagsResourceIds: 1_000,
} as const;

export const HEADROOM = 2;

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const STACK_NAME = 'RapidFailoverScale';
/** Pool nodes the generated configs draw placement from. */
export const POOL_NODES = 10_000;
/**
 * Each application names a preferred node and this many possible nodes (C2): 3,000 of the 10,000
 * at 1,000 applications. The pool's other nodes are in no template or config: selection finds
 * pool nodes by their pool tag at run time.
 */
const POSSIBLE_NODES = 2;

const poolNode = (n: number) => `i-0${(0x5000_0000 + (n % POOL_NODES)).toString(16).padStart(16, '0')}`;

/**
 * `applications` applications over 5 pools with every feature of the config in use
 * (test/lib/large-config.ts), each placed on 3 nodes of a 10,000-node pool: a preferred node and
 * 2 possible ones, distinct across applications.
 */
export function scaleConfig(applications: number): Config {
  const base = largeConfig(applications);
  return parseConfig(
    {
      ...base,
      applications: base.applications.map((app, i) => ({
        ...app,
        placement: {
          preferredNode: poolNode(i * (POSSIBLE_NODES + 1)),
          possibleNodes: Array.from({ length: POSSIBLE_NODES }, (_, k) => poolNode(i * (POSSIBLE_NODES + 1) + k + 1)),
        },
      })),
    },
    `generated config of ${applications} applications`,
  );
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
}
interface Template {
  Resources: Record<string, Resource>;
}

export interface TemplateMeasure {
  /** 'stack' or the nested stack's construct path below the stack. */
  name: string;
  bytes: number;
  resources: number;
}

export interface PolicyMeasure {
  /** Where: the policy's logical id (and its role's). */
  name: string;
  chars: number;
}

export interface ScaleMeasure {
  applications: number;
  synthMs: number;
  bundled: boolean;
  templates: TemplateMeasure[];
  /** Per role: its inline policies together (AWS::IAM::Policy attached to it and its own Policies). */
  largestRoleInlinePolicies: PolicyMeasure;
  largestManagedPolicy: PolicyMeasure | null;
  mostManagedPoliciesOnARole: { name: string; count: number };
  largestEventPattern: PolicyMeasure;
  /** Every rule's event pattern, as deployed. */
  eventPatterns: unknown[];
  largestLambdaEnvironment: PolicyMeasure;
  /** The config document every Lambda reads (S3 object: no size limit that binds). */
  configDocumentBytes: number;
  largestCreateTagsCall: { name: string; resourceIds: number };
}

/**
 * Synthesizes the stack for `config` as `cdk synth` does (bundling the eleven Lambdas with
 * esbuild when `bundle`; else with bundling skipped, the template unchanged but the code assets
 * left out) and measures it.
 */
export function synthAndMeasure(config: Config, options: { bundle: boolean }): ScaleMeasure {
  const outdir = mkdtempSync(join(tmpdir(), 'rapid-failover-scale-'));
  try {
    return measureIn(outdir, config, options.bundle);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function measureIn(outdir: string, config: Config, bundle: boolean): ScaleMeasure {
  const started = performance.now();
  const app = new App({ outdir, ...(bundle ? {} : { context: { 'aws:cdk:bundling-stacks': [] } }) });
  const stack = new RapidFailoverStack(app, STACK_NAME, { config, env: { account: ACCOUNT, region: REGION } });
  const assembly = app.synth();
  const synthMs = performance.now() - started;

  const stacks: Array<{ name: string; stack: Stack }> = [
    { name: 'stack', stack },
    ...stack.node
      .findAll()
      .filter((c): c is NestedStack => NestedStack.isNestedStack(c))
      .map((nested) => ({ name: nested.node.path.slice(stack.node.path.length + 1), stack: nested as Stack })),
  ];
  const templates = stacks.map(({ name, stack: s }) => {
    const text = readFileSync(join(assembly.directory, s.templateFile), 'utf8');
    return { name, text, template: JSON.parse(text) as Template };
  });
  const all = templates.map(({ template }) => template);
  const resolve = (value: Json, template: Template) => resolveForSize(value, template);

  // IAM: what a role carries, wherever CloudFormation declares it.
  const inline = new Map<string, number>();
  const managedByRole = new Map<string, number>();
  let largestManaged: PolicyMeasure | null = null;
  for (const template of all) {
    for (const [id, r] of Object.entries(template.Resources)) {
      if (r.Type === 'AWS::IAM::Role') {
        for (const policy of (r.Properties?.Policies as Array<{ PolicyDocument: Json }> | undefined) ?? []) {
          inline.set(id, (inline.get(id) ?? 0) + policyChars(resolve(policy.PolicyDocument, template)));
        }
      }
      if (r.Type === 'AWS::IAM::Policy') {
        const chars = policyChars(resolve(r.Properties!.PolicyDocument!, template));
        for (const role of roleIds(r)) inline.set(role, (inline.get(role) ?? 0) + chars);
      }
      if (r.Type === 'AWS::IAM::ManagedPolicy') {
        const chars = policyChars(resolve(r.Properties!.PolicyDocument!, template));
        if (!largestManaged || chars > largestManaged.chars) largestManaged = { name: id, chars };
        for (const role of roleIds(r)) managedByRole.set(role, (managedByRole.get(role) ?? 0) + 1);
      }
    }
  }
  const max = <T extends { chars: number }>(items: T[], empty: T) => items.reduce((a, b) => (b.chars > a.chars ? b : a), empty);
  const largestRoleInlinePolicies = max([...inline].map(([name, chars]) => ({ name, chars })), { name: '(no role)', chars: 0 });
  const mostManaged = [...managedByRole].reduce((a, [name, count]) => (count > a.count ? { name, count } : a), { name: '(none)', count: 0 });

  const resourcesOf = (type: string) => templates.flatMap(({ template }) => Object.entries(template.Resources).filter(([, r]) => r.Type === type).map(([id, r]) => ({ id, r, template })));
  const eventPatterns = resourcesOf('AWS::Events::Rule').map(({ id, r, template }) => ({ id, pattern: resolve(r.Properties?.EventPattern ?? null, template) }));
  const largestEventPattern = max(
    eventPatterns.map(({ id, pattern }) => ({ name: id, chars: JSON.stringify(pattern).length })),
    { name: '(no rule)', chars: 0 },
  );
  const largestLambdaEnvironment = max(
    resourcesOf('AWS::Lambda::Function').map(({ id, r, template }) => ({
      name: id,
      chars: Buffer.byteLength(JSON.stringify(resolve((r.Properties?.Environment as { Variables?: Json } | undefined)?.Variables ?? {}, template))),
    })),
    { name: '(no function)', chars: 0 },
  );
  const largestCreateTagsCall = resourcesOf('Custom::AWS').reduce(
    (a, { id, r }) => {
      const call = JSON.parse(String(r.Properties?.Create ?? '{}')) as { action?: string; parameters?: { Resources?: unknown[] } };
      const ids = call.action === 'CreateTags' ? (call.parameters?.Resources?.length ?? 0) : 0;
      return ids > a.resourceIds ? { name: id, resourceIds: ids } : a;
    },
    { name: '(none)', resourceIds: 0 },
  );

  // The config document: the file asset every function's RAPID_FAILOVER_CONFIG_KEY names.
  const key = JSON.stringify(templates[0]!.template).match(/"RAPID_FAILOVER_CONFIG_KEY":"([^"]+)"/)?.[1];
  if (!key) throw new Error('no function names a config document (RAPID_FAILOVER_CONFIG_KEY)');
  const configDocumentBytes = readFileSync(join(assembly.directory, `asset.${key}`)).byteLength;

  return {
    applications: config.applications.length,
    synthMs: Math.round(synthMs),
    bundled: bundle,
    templates: templates.map(({ name, text, template }) => ({ name, bytes: Buffer.byteLength(text), resources: Object.keys(template.Resources).length })),
    largestRoleInlinePolicies,
    largestManagedPolicy: largestManaged,
    mostManagedPoliciesOnARole: mostManaged,
    largestEventPattern,
    eventPatterns: eventPatterns.map(({ pattern }) => pattern),
    largestLambdaEnvironment,
    configDocumentBytes,
    largestCreateTagsCall,
  };
}

function roleIds(resource: Resource): string[] {
  return ((resource.Properties?.Roles as Array<{ Ref?: string }> | undefined) ?? []).flatMap((r) => (typeof r.Ref === 'string' ? [r.Ref] : []));
}

/** IAM counts a policy's characters without whitespace (IAM and AWS STS quotas). */
function policyChars(document: Json): number {
  return JSON.stringify(document).replace(/\s/g, '').length;
}

/**
 * A template value as deployed, for measuring its size: pseudo parameters as in the stack's
 * account and region, a Ref or GetAtt of a resource as an ARN of the length CloudFormation's
 * generated names have (stack name, logical id and a 12-character suffix).
 */
function resolveForSize(value: Json, template: Template): Json {
  if (Array.isArray(value)) return value.map((v) => resolveForSize(v, template));
  if (value === null || typeof value !== 'object') return value;
  const generated = (id: string) => `arn:aws:service:${REGION}:${ACCOUNT}:resource/${STACK_NAME}-${id}-ABCDEFGHIJKL`;
  if ('Ref' in value) {
    const name = String(value.Ref);
    const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::URLSuffix': 'amazonaws.com', 'AWS::StackName': STACK_NAME };
    return pseudo[name] ?? generated(name);
  }
  if ('Fn::GetAtt' in value) return generated((value['Fn::GetAtt'] as string[]).join('.'));
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, Json[]];
    return parts.map((p) => String(resolveForSize(p, template))).join(separator);
  }
  if ('Fn::Sub' in value && typeof value['Fn::Sub'] === 'string') {
    return value['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (_, name: string) => String(resolveForSize({ Ref: name }, template)));
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveForSize(v, template)]));
}

/** Every limit the measure must meet at half its value: one line per breach (empty: all met with 2x headroom). */
export function limitBreaches(m: ScaleMeasure): string[] {
  const half = (limit: number) => limit / HEADROOM;
  const breaches: string[] = [];
  const check = (what: string, value: number, limit: number) => {
    if (value > half(limit)) breaches.push(`${what}: ${value} > ${half(limit)} (half of AWS's ${limit})`);
  };
  for (const t of m.templates) {
    check(`resources in ${t.name}`, t.resources, AWS_LIMITS.resourcesPerTemplate);
    check(`template body of ${t.name} (bytes)`, t.bytes, AWS_LIMITS.templateBodyBytes);
  }
  check(`event pattern of ${m.largestEventPattern.name} (characters)`, m.largestEventPattern.chars, AWS_LIMITS.eventPatternChars);
  check(`environment of ${m.largestLambdaEnvironment.name} (bytes)`, m.largestLambdaEnvironment.chars, AWS_LIMITS.lambdaEnvironmentBytes);
  check(`inline policies of role ${m.largestRoleInlinePolicies.name} (characters)`, m.largestRoleInlinePolicies.chars, AWS_LIMITS.roleInlinePolicyChars);
  if (m.largestManagedPolicy) check(`managed policy ${m.largestManagedPolicy.name} (characters)`, m.largestManagedPolicy.chars, AWS_LIMITS.managedPolicyChars);
  check(`managed policies on role ${m.mostManagedPoliciesOnARole.name}`, m.mostManagedPoliciesOnARole.count, AWS_LIMITS.managedPoliciesPerRole);
  check(`resource ids in the CreateTags call of ${m.largestCreateTagsCall.name}`, m.largestCreateTagsCall.resourceIds, AWS_LIMITS.createTagsResourceIds);
  return breaches;
}

const kb = (bytes: number) => (bytes / 1000).toFixed(1);

/** The bench's section: one row per size, then the limits each row is checked against. */
export function scaleSection(measures: ScaleMeasure[], bundled: ScaleMeasure | undefined): string[] {
  const rows = measures.map((m) => {
    const [stack, ...nested] = m.templates;
    const breaches = limitBreaches(m);
    return [
      m.applications,
      (m.synthMs / 1000).toFixed(1),
      `${kb(stack!.bytes)} (+${nested.length} nested, ${kb(nested.reduce((n, t) => n + t.bytes, 0))})`,
      `${stack!.resources} (nested max ${Math.max(0, ...nested.map((t) => t.resources))})`,
      `${m.largestRoleInlinePolicies.chars} inline (${m.largestRoleInlinePolicies.name}); ${m.largestManagedPolicy ? `${m.largestManagedPolicy.chars} managed` : 'no managed'}; ${m.mostManagedPoliciesOnARole.count} managed on one role`,
      `${m.largestEventPattern.chars}`,
      `${m.largestLambdaEnvironment.chars}`,
      kb(m.configDocumentBytes),
      breaches.length === 0 ? 'all met' : breaches.join('; '),
    ];
  });
  return [
    '## 7. One stack for N applications: synthesis and AWS limits (5 pools; placement on 3 of 10,000 pool nodes per application)',
    '',
    `| applications | synth s (template) | template KB | resources | largest IAM policy (chars) | largest event pattern (chars) | largest Lambda env (bytes) | config document KB | limits with ${HEADROOM}x headroom |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    ...(bundled ? [`\`cdk synth\` as deployed (the eleven Lambdas bundled by esbuild) for ${bundled.applications} applications: ${(bundled.synthMs / 1000).toFixed(1)} s.`, ''] : []),
    `Limits (each checked at half): ${AWS_LIMITS.resourcesPerTemplate} resources per template and a ${AWS_LIMITS.templateBodyBytes / 1_000_000} MB template body (CloudFormation quotas), ` +
      `${AWS_LIMITS.eventPatternChars}-character event patterns (EventBridge quotas), ${AWS_LIMITS.lambdaEnvironmentBytes / 1024} KB of environment per function (Lambda quotas), ` +
      `${AWS_LIMITS.roleInlinePolicyChars} characters of inline policy per role, ${AWS_LIMITS.managedPolicyChars} per managed policy, ${AWS_LIMITS.managedPoliciesPerRole} managed policies per role (IAM quotas), ` +
      `${AWS_LIMITS.createTagsResourceIds} ids per CreateTags call. The config document is an S3 object (no limit that binds).`,
    '',
  ];
}
