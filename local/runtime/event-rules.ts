// EventBridge routing for the local runtime: the rules' event patterns and their Lambda
// targets are read from the synthesized template, so a local event reaches intake (or the
// callback Lambda) exactly when the deployed rule would send it there. Supports what the stack's patterns use: literal-value arrays, nested objects,
// { prefix } and { wildcard } ("Content filtering in Amazon EventBridge event patterns": `*`
// matches any run of characters; `\*` is a literal star).
import { resolveTemplateValue, type CfnTemplate } from '../state-machine-definition.ts';

export interface BusEvent {
  id: string;
  source: string;
  'detail-type': string;
  time: string;
  region: string;
  account: string;
  resources: string[];
  detail: Record<string, unknown>;
  version?: string;
}

type Pattern = { [key: string]: Pattern | readonly unknown[] };

export function rulePatterns(template: CfnTemplate): Pattern[] {
  return Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Events::Rule')
    .map((r) => resolveTemplateValue(r.Properties?.EventPattern, template) as Pattern | undefined)
    .filter((p): p is Pattern => p !== undefined);
}

export interface RuleRoute {
  pattern: Pattern;
  /** Logical ids of the Lambda functions the rule targets. */
  functions: string[];
}

/** Each rule's pattern and the functions it targets (`Targets[].Arn`: Fn::GetAtt <function>.Arn). */
export function ruleRoutes(template: CfnTemplate): RuleRoute[] {
  return Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Events::Rule' && r.Properties?.EventPattern !== undefined)
    .map((r) => {
      const targets = (r.Properties?.Targets as Array<{ Arn?: unknown }> | undefined) ?? [];
      const functions = targets.flatMap((t) => {
        const arn = resolveTemplateValue(t.Arn, template);
        const match = typeof arn === 'string' ? /:function:([^:]+)$/.exec(arn) : null;
        return match ? [match[1]!] : [];
      });
      return { pattern: resolveTemplateValue(r.Properties?.EventPattern, template) as Pattern, functions };
    });
}

/** The functions an event goes to: one delivery per matching rule and target (two rules that match send it twice). */
export function deliveries(routes: readonly RuleRoute[], event: BusEvent): string[] {
  return routes.filter((r) => matches(r.pattern, event)).flatMap((r) => r.functions);
}

export function matches(pattern: Pattern, event: unknown): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = (event as Record<string, unknown> | null)?.[key];
    if (Array.isArray(expected)) {
      // A list matches a scalar equal to one of its values (or starting with a { prefix }), or an array sharing one.
      const values = Array.isArray(actual) ? actual : [actual];
      return values.some((v) => expected.some((e) => e === v || (typeof v === 'string' && ((isPrefix(e) && v.startsWith(e.prefix)) || (isWildcard(e) && wildcardMatch(e.wildcard, v))))));
    }
    return actual !== undefined && matches(expected as Pattern, actual);
  });
}

export function routed(patterns: readonly Pattern[], event: BusEvent): boolean {
  return patterns.some((p) => matches(p, event));
}

function isPrefix(value: unknown): value is { prefix: string } {
  return typeof value === 'object' && value !== null && typeof (value as { prefix?: unknown }).prefix === 'string';
}

function isWildcard(value: unknown): value is { wildcard: string } {
  return typeof value === 'object' && value !== null && typeof (value as { wildcard?: unknown }).wildcard === 'string';
}

function wildcardMatch(pattern: string, value: string): boolean {
  const source = pattern
    .split(/(\\\*|\*)/)
    .map((part) => (part === '*' ? '[\\s\\S]*' : part === '\\*' ? '\\*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(value);
}
