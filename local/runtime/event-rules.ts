// EventBridge routing for the local runtime: the rules' event patterns are read from the
// synthesized template, so a local event reaches intake exactly when the deployed rule would
// send it. Supports what the stack's patterns use: literal-value arrays, nested objects,
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
