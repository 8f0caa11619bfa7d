// One stack for 1,000 applications (issue 10 §3): the template the CDK synthesizes for 1,000
// applications over 5 pools (every feature of the config in use, placement on 3,000 nodes of a
// 10,000-node pool) meets every AWS limit a deploy runs into, each with 2x headroom. Sizes and
// counts only: the times are `npm run bench`'s. One synthesis, bundling skipped (the bundles do
// not depend on the config any more: test/workflow/bundles.test.ts runs them).
import { beforeAll, describe, expect, it } from 'vitest';
import { EnvNames } from '../../core/environment.ts';
import { AWS_LIMITS, HEADROOM, limitBreaches, scaleConfig, synthAndMeasure, type ScaleMeasure } from '../../bench/synth-scale.ts';
import { matches } from '../../local/runtime/event-rules.ts';

const APPLICATIONS = 1_000;
const half = (limit: number) => limit / HEADROOM;

let measure: ScaleMeasure;

beforeAll(() => {
  measure = synthAndMeasure(scaleConfig(APPLICATIONS), { bundle: false });
}, 600_000);

describe(`one stack for ${APPLICATIONS} applications: every AWS limit with ${HEADROOM}x headroom`, () => {
  it('CloudFormation quotas: every template (the stack and each nested stack) declares at most 250 resources (limit 500); per-application alarms live in nested stacks', () => {
    const [stack, ...nested] = measure.templates;
    expect(stack!.name).toBe('stack');
    expect(nested.length).toBeGreaterThan(1);
    expect(measure.templates.filter((t) => t.resources > half(AWS_LIMITS.resourcesPerTemplate)).map((t) => `${t.name}: ${t.resources}`)).toEqual([]);
  });

  it('CloudFormation quotas: every template body is at most 500,000 bytes (limit 1 MB in S3)', () => {
    expect(measure.templates.filter((t) => t.bytes > half(AWS_LIMITS.templateBodyBytes)).map((t) => `${t.name}: ${t.bytes} bytes`)).toEqual([]);
  });

  it('EventBridge quotas: every event pattern is at most 1,024 characters (limit 2,048); the user-alarm rule still routes the last application\'s own alarm, by its name prefix', () => {
    expect(measure.largestEventPattern.chars).toBeLessThanOrEqual(half(AWS_LIMITS.eventPatternChars));
    const alarm = (name: string) => ({
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      resources: [`arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${name}`],
      detail: { alarmName: name, state: { value: 'ALARM' } },
    });
    const routed = (name: string) => measure.eventPatterns.some((p) => matches(p as Parameters<typeof matches>[0], alarm(name)));
    const last = scaleConfig(APPLICATIONS).applications.findLast((a) => a.detection.failure.alarmArns.length > 0)!;
    const own = last.detection.failure.alarmArns[0]!.split(':alarm:')[1]!;
    expect([routed(own), routed('app-999-process-down')]).toEqual([true, false]);
  });

  it('Lambda quotas: every function\'s environment is at most 2 KB (limit 4 KB); it names the config document, which is in no environment', () => {
    expect(measure.largestLambdaEnvironment.chars).toBeLessThanOrEqual(half(AWS_LIMITS.lambdaEnvironmentBytes));
    // The document is far larger than any environment could hold: it is an S3 object, read at cold start.
    expect(measure.configDocumentBytes).toBeGreaterThan(AWS_LIMITS.lambdaEnvironmentBytes * 100);
    expect(EnvNames.ConfigKey).toBe('RAPID_FAILOVER_CONFIG_KEY');
  });

  it('EC2 CreateTags: each call that tags the preferred nodes serving names at most 500 instances (limit 1,000)', () => {
    expect(measure.largestCreateTagsCall.resourceIds).toBeGreaterThan(0);
    expect(measure.largestCreateTagsCall.resourceIds).toBeLessThanOrEqual(half(AWS_LIMITS.createTagsResourceIds));
  });

  it("IAM quotas: each role's inline policies at most 5,120 characters together (limit 10,240), each managed policy at most 3,072 (limit 6,144), at most 5 managed policies on a role (limit 10)", () => {
    const iam = limitBreaches(measure).filter((b) => /polic/.test(b));
    expect(iam).toEqual([]);
  });
});
