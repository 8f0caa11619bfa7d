// Filters and pagination as the AWS APIs apply them.
import type { ErrorFactory } from './errors.ts';

export interface ApiFilter {
  Name?: string | undefined;
  Values?: string[] | undefined;
}

/**
 * EC2-style filters: every filter must match (AND); within a filter, any value (OR); values may
 * use the wildcards * and ?. `fieldValues` gives the resource's values for a filter name, or
 * undefined when the API has no such filter (an error, as in AWS).
 */
export function matchesFilters(
  filters: readonly ApiFilter[] | undefined,
  fieldValues: (name: string) => readonly string[] | undefined,
  error: ErrorFactory,
): boolean {
  for (const filter of filters ?? []) {
    const name = filter.Name ?? '';
    const actual = fieldValues(name);
    if (actual === undefined) throw error('InvalidParameterValue', `The filter '${name}' is invalid`);
    const patterns = filter.Values ?? [];
    if (!patterns.some((pattern) => actual.some((value) => globMatch(pattern, value)))) return false;
  }
  return true;
}

/** EC2 filter wildcards: * any run of characters, ? one character; \ escapes them. */
export function globMatch(pattern: string, value: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (c === '*') source += '[\\s\\S]*';
    else if (c === '?') source += '[\\s\\S]';
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`).test(value);
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export interface PageLimits {
  min: number;
  max: number;
  /** Page size when MaxResults is absent (AWS often returns everything then: use max). */
  default: number;
}

/** One page of `items` and the token for the next, if any. Tokens are opaque to callers. */
export function paginate<T>(
  items: readonly T[],
  maxResults: number | undefined,
  nextToken: string | undefined,
  limits: PageLimits,
  error: ErrorFactory,
  errorCode = 'InvalidParameterValue',
): { page: T[]; nextToken?: string } {
  if (maxResults !== undefined && (!Number.isInteger(maxResults) || maxResults < limits.min || maxResults > limits.max)) {
    throw error(errorCode, `MaxResults must be between ${limits.min} and ${limits.max}; got ${maxResults}`);
  }
  let offset = 0;
  if (nextToken !== undefined) {
    const match = /^sim-page-(\d+)$/.exec(nextToken);
    if (!match) throw error(errorCode, `The token '${nextToken}' is invalid`);
    offset = Number(match[1]);
  }
  const size = maxResults ?? limits.default;
  const page = items.slice(offset, offset + size);
  return offset + size < items.length ? { page, nextToken: `sim-page-${offset + size}` } : { page };
}
