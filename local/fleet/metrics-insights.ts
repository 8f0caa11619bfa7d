// CloudWatch Metrics Insights queries, as far as the stack's alarms use them: parsed from the
// template's own expression and run over the simulated metrics. Grammar from "Query components
// and syntax in CloudWatch Metrics Insights"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html):
//
//   SELECT FUNCTION(metricName) FROM namespace | SCHEMA(namespace[, labelKey…])
//   [ WHERE labelKey OPERATOR 'labelValue' [AND …] ] [ GROUP BY labelKey [, …] ]
//   [ ORDER BY FUNCTION() [ASC | DESC] ] [ LIMIT n ]
//
// FUNCTION: AVG, COUNT, MAX, MIN, SUM; OPERATOR: = and !=; a label key is a dimension name or
// `tag.keyName` (a resource tag); names with other characters than letters, digits and `_` are in
// double quotes, label values in single quotes. SCHEMA keeps only metrics with exactly those
// dimensions. GROUP BY makes one time series per combination of values (a missing label is
// "Other"); a query returns at most 500 time series, ORDER BY deciding which.
import { NotSimulatedError } from './errors.ts';

export type InsightsFunction = 'AVG' | 'COUNT' | 'MAX' | 'MIN' | 'SUM';
export interface Label {
  kind: 'dimension' | 'tag';
  name: string;
}
export interface InsightsQuery {
  fn: InsightsFunction;
  metricName: string;
  namespace: string;
  /** SCHEMA's label keys: only metrics with exactly these dimensions (undefined: FROM namespace, any dimensions). */
  schema?: string[];
  where: Array<{ label: Label; op: '=' | '!='; value: string }>;
  groupBy: Label[];
  orderBy?: { fn: InsightsFunction; descending: boolean };
  limit: number;
}

/** A metric the query may match: its dimensions, the tags of the resource it belongs to, and its raw observations. */
export interface InsightsSeries {
  namespace: string;
  metricName: string;
  dimensions: Readonly<Record<string, string>>;
  tags: Readonly<Record<string, string>>;
  /** Observations in [from, to). */
  observations(from: number, to: number): number[];
}

export interface InsightsResult {
  /** The GROUP BY labels and their values: the contributor's attributes. */
  attributes: Record<string, string>;
  /** One value per period, oldest first (undefined: no observation in that period). */
  values: Array<number | undefined>;
}

const MAX_SERIES = 500;
const FUNCTIONS = new Set(['AVG', 'COUNT', 'MAX', 'MIN', 'SUM']);

type Token = { kind: 'word' | 'quoted' | 'string' | 'number' | 'symbol'; text: string };

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*(?:("(?:[^"\\]|\\.)*")|('(?:[^'\\]|\\.)*')|(!=|[(),=.])|([A-Za-z_][A-Za-z0-9_]*)|(\d+))/y;
  let at = 0;
  while (at < query.length) {
    if (/^\s*$/.test(query.slice(at))) break;
    pattern.lastIndex = at;
    const match = pattern.exec(query);
    if (!match) throw new Error(`Metrics Insights: cannot read the query at "${query.slice(at, at + 20)}"`);
    at = pattern.lastIndex;
    const [, quoted, string, symbol, word, number] = match;
    if (quoted !== undefined) tokens.push({ kind: 'quoted', text: quoted.slice(1, -1).replace(/\\(.)/g, '$1') });
    else if (string !== undefined) tokens.push({ kind: 'string', text: string.slice(1, -1).replace(/\\(.)/g, '$1') });
    else if (symbol !== undefined) tokens.push({ kind: 'symbol', text: symbol });
    else if (word !== undefined) tokens.push({ kind: 'word', text: word });
    else tokens.push({ kind: 'number', text: number! });
  }
  return tokens;
}

export function parseInsightsQuery(query: string): InsightsQuery {
  const tokens = tokenize(query);
  let i = 0;
  const peek = () => tokens[i];
  const fail = (what: string): never => {
    throw new Error(`Metrics Insights: expected ${what} at token ${i + 1} of "${query}"`);
  };
  const keyword = (word: string) => {
    const t = peek();
    if (t?.kind === 'word' && t.text.toUpperCase() === word) {
      i++;
      return true;
    }
    return false;
  };
  const expectKeyword = (word: string) => keyword(word) || fail(word);
  const symbol = (text: string) => {
    if (peek()?.kind === 'symbol' && peek()!.text === text) {
      i++;
      return true;
    }
    return false;
  };
  const expectSymbol = (text: string) => symbol(text) || fail(`'${text}'`);
  const name = (): string => {
    const t = tokens[i++];
    if (t?.kind === 'word' || t?.kind === 'quoted') return t.text;
    return fail('a name');
  };
  const fn = (): InsightsFunction => {
    const t = tokens[i++];
    const text = t?.kind === 'word' ? t.text.toUpperCase() : '';
    return FUNCTIONS.has(text) ? (text as InsightsFunction) : fail('AVG, COUNT, MAX, MIN or SUM');
  };
  const label = (): Label => {
    const first = name();
    if (first.toLowerCase() === 'tag' && symbol('.')) return { kind: 'tag', name: name() };
    if (symbol('.')) return { kind: 'dimension', name: `${first}.${name()}` };
    return { kind: 'dimension', name: first };
  };

  expectKeyword('SELECT');
  const select = fn();
  expectSymbol('(');
  const metricName = name();
  expectSymbol(')');
  expectKeyword('FROM');
  let namespace: string;
  let schema: string[] | undefined;
  if (keyword('SCHEMA')) {
    expectSymbol('(');
    namespace = name();
    schema = [];
    while (symbol(',')) schema.push(name());
    expectSymbol(')');
  } else {
    namespace = name();
  }
  const where: InsightsQuery['where'] = [];
  if (keyword('WHERE')) {
    do {
      const key = label();
      const op = symbol('=') ? '=' : symbol('!=') ? '!=' : fail("'=' or '!='");
      const value = tokens[i++];
      if (value?.kind !== 'string') fail('a label value in single quotes');
      where.push({ label: key, op, value: value!.text });
    } while (keyword('AND'));
  }
  const groupBy: Label[] = [];
  if (keyword('GROUP')) {
    expectKeyword('BY');
    do groupBy.push(label());
    while (symbol(','));
  }
  let orderBy: InsightsQuery['orderBy'];
  if (keyword('ORDER')) {
    expectKeyword('BY');
    const by = fn();
    expectSymbol('(');
    expectSymbol(')');
    const descending = keyword('DESC') ? true : (keyword('ASC'), false);
    orderBy = { fn: by, descending };
  }
  let limit = MAX_SERIES;
  if (keyword('LIMIT')) {
    const t = tokens[i++];
    if (t?.kind !== 'number') fail('a number');
    limit = Math.min(MAX_SERIES, Number(t!.text));
  }
  if (i < tokens.length) fail('the end of the query');
  return { fn: select, metricName, namespace, ...(schema ? { schema } : {}), where, groupBy, ...(orderBy ? { orderBy } : {}), limit };
}

function labelValue(series: InsightsSeries, label: Label): string | undefined {
  return label.kind === 'tag' ? series.tags[label.name] : series.dimensions[label.name];
}

function attributeName(label: Label): string {
  return label.kind === 'tag' ? `tag.${label.name}` : label.name;
}

function apply(fn: InsightsFunction, values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  switch (fn) {
    case 'MAX':
      return Math.max(...values);
    case 'MIN':
      return Math.min(...values);
    case 'SUM':
      return values.reduce((a, b) => a + b, 0);
    case 'COUNT':
      return values.length;
    case 'AVG':
      return values.reduce((a, b) => a + b, 0) / values.length;
  }
}

/** The query's time series over `periods` periods of `periodMs` ending at `end`. */
export function runInsightsQuery(query: InsightsQuery, catalog: Iterable<InsightsSeries>, range: { end: number; periodMs: number; periods: number }): InsightsResult[] {
  if (query.where.some((w) => w.label.kind === 'dimension' && w.label.name.startsWith('AWS.'))) {
    throw new NotSimulatedError('cloudwatch', 'Metrics Insights', 'cross-account labels (AWS.AccountId)');
  }
  const matching = [...catalog].filter((s) => {
    if (s.namespace !== query.namespace || s.metricName !== query.metricName) return false;
    if (query.schema) {
      const keys = Object.keys(s.dimensions);
      if (keys.length !== query.schema.length || !query.schema.every((k) => k in s.dimensions)) return false;
    }
    return query.where.every((w) => (labelValue(s, w.label) === w.value) === (w.op === '='));
  });
  const groups = new Map<string, { attributes: Record<string, string>; series: InsightsSeries[] }>();
  for (const s of matching) {
    const attributes = Object.fromEntries(query.groupBy.map((l) => [attributeName(l), labelValue(s, l) ?? 'Other']));
    const key = JSON.stringify(attributes);
    const group = groups.get(key) ?? { attributes, series: [] };
    group.series.push(s);
    groups.set(key, group);
  }
  const start = range.end - range.periods * range.periodMs;
  const results: InsightsResult[] = [];
  for (const group of groups.values()) {
    const values: Array<number | undefined> = [];
    for (let p = 0; p < range.periods; p++) {
      const from = start + p * range.periodMs;
      values.push(apply(query.fn, group.series.flatMap((s) => s.observations(from, from + range.periodMs))));
    }
    // A time series exists only while it has data ("Acting on alarm changes": a contributor is never INSUFFICIENT_DATA).
    if (values.some((v) => v !== undefined)) results.push({ attributes: group.attributes, values });
  }
  const order = query.orderBy;
  if (order) {
    const score = (r: InsightsResult) => apply(order.fn, r.values.filter((v): v is number => v !== undefined)) ?? Number.NEGATIVE_INFINITY;
    results.sort((a, b) => (order.descending ? score(b) - score(a) : score(a) - score(b)));
  } else {
    // Without ORDER BY: alphabetical by the GROUP BY labels.
    results.sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
  }
  return results.slice(0, query.limit);
}
