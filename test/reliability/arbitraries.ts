// Arbitraries for the bad-input fuzzing: documents generated from a zod schema's JSON Schema
// (`z.toJSONSchema`, the keywords it emits), and mutations of known-valid documents (a field
// dropped, a type changed, an unknown key, a corrupted ARN or id, an element duplicated).
import fc from 'fast-check';

/** The JSON Schema keywords `z.toJSONSchema` emits for our schemas. */
export interface JsonSchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
}

const LIMIT = 1e9;
const FORMATS: Record<string, () => fc.Arbitrary<string>> = {
  email: () => fc.emailAddress(),
  ipv4: () => fc.ipV4(),
  'date-time': () => fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
};

/**
 * Values shaped by `schema`: the right types, required keys, patterns, enums and ranges, with
 * optional keys sometimes left out. Cross-field rules (refinements) are not in JSON Schema, so
 * some generated documents are still invalid: exactly what a fuzzer wants.
 */
export function fromJsonSchema(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const union = schema.oneOf ?? schema.anyOf;
  if (union) return fc.oneof(...union.map((s) => fromJsonSchema(s, depth + 1)));
  if (schema.allOf?.length) return fromJsonSchema(Object.assign({}, ...schema.allOf) as JsonSchema, depth);
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type) => fromJsonSchema({ ...schema, type }, depth)));
  switch (schema.type) {
    case 'object':
      return objectOf(schema, depth);
    case 'array': {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.min(schema.maxItems ?? minLength + 3, minLength + 3);
      return fc.array(fromJsonSchema(schema.items ?? {}, depth + 1), { minLength, maxLength });
    }
    case 'string':
      return stringOf(schema);
    case 'integer': {
      const min = Math.max(schema.minimum ?? -LIMIT, -LIMIT);
      const max = Math.min(schema.maximum ?? LIMIT, LIMIT);
      // Boundaries and everyday values (1, 60, 300…) as well as anything in range: rules that live
      // in refinements (periods in whole minutes, M of N) get met now and then.
      const usual = [min, max, 0, 1, 2, 3, 5, 10, 30, 60, 120, 300, 3_600].filter((n) => n >= min && n <= max);
      return fc.oneof(fc.constantFrom(...usual), fc.integer({ min, max }));
    }
    case 'number':
      return fc.double({
        min: Math.max(schema.minimum ?? schema.exclusiveMinimum ?? -LIMIT, -LIMIT),
        max: Math.min(schema.maximum ?? schema.exclusiveMaximum ?? LIMIT, LIMIT),
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      // `{}`: anything (unrepresentable in JSON Schema, or really unconstrained).
      return depth > 4 ? fc.constant(null) : fc.jsonValue({ maxDepth: 2 });
  }
}

function objectOf(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const keys = Object.keys(properties);
  const extra = schema.additionalProperties;
  if (keys.length === 0 && extra !== false) {
    const keyArb = schema.propertyNames ? (fromJsonSchema(schema.propertyNames, depth + 1) as fc.Arbitrary<string>) : fc.string({ maxLength: 8 });
    const valueArb = typeof extra === 'object' ? fromJsonSchema(extra, depth + 1) : fc.jsonValue({ maxDepth: 1 });
    return fc.dictionary(keyArb, valueArb, { maxKeys: 3, noNullPrototype: true });
  }
  const model = Object.fromEntries(keys.map((k) => [k, fromJsonSchema(properties[k]!, depth + 1)]));
  return fc.record(model, { requiredKeys: (schema.required ?? []).filter((k) => k in model) });
}

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  const format = schema.format ? FORMATS[schema.format] : undefined;
  if (format) return format();
  const minLength = schema.minLength ?? 0;
  if (schema.pattern) {
    const maxLength = schema.maxLength ?? Number.POSITIVE_INFINITY;
    return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= minLength && s.length <= maxLength);
  }
  return fc.string({ minLength, maxLength: Math.min(schema.maxLength ?? minLength + 24, minLength + 24) });
}

// ---- mutations of valid documents -------------------------------------------------------------

export type Path = Array<string | number>;

export type Mutation =
  | { kind: 'drop'; path: Path }
  | { kind: 'retype'; path: Path; value: unknown }
  | { kind: 'unknown-key'; path: Path; key: string; value: unknown }
  | { kind: 'corrupt'; path: Path; value: string }
  | { kind: 'duplicate'; path: Path }
  | { kind: 'out-of-range'; path: Path; value: number };

/** Every path in a JSON document (the root excluded). */
export function pathsOf(doc: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(doc)) return doc.flatMap((v, i) => [[...prefix, i], ...pathsOf(v, [...prefix, i])]);
  if (doc && typeof doc === 'object') return Object.entries(doc).flatMap(([k, v]) => [[...prefix, k], ...pathsOf(v, [...prefix, k])]);
  return [];
}

export function getAt(doc: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown> | undefined)?.[key], doc);
}

/** A value of another JSON type than `value`. */
function otherType(value: unknown): fc.Arbitrary<unknown> {
  const all: Array<[string, fc.Arbitrary<unknown>]> = [
    ['string', fc.string({ maxLength: 6 })],
    ['number', fc.oneof(fc.integer(), fc.double({ noNaN: true }))],
    ['boolean', fc.boolean()],
    ['null', fc.constant(null)],
    ['array', fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 })],
    ['object', fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2, noNullPrototype: true })],
  ];
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return fc.oneof(...all.filter(([t]) => t !== type).map(([, arb]) => arb));
}

/** ARNs and AWS ids made subtly wrong: truncated, upper-cased, wrong service or partition, a character swapped. */
function corrupted(value: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.integer({ min: 0, max: Math.max(0, value.length - 1) }).map((n) => value.slice(0, n)),
    fc.constant(value.toUpperCase()),
    fc.constant(value.replace(/^arn:aws/, 'arn:azure')),
    fc.constant(value.replace(/:\d{12}:/, ':12345:')),
    fc.constant(value.replace(/elasticloadbalancing|cloudwatch|ssm/, 'ec2')),
    fc.constant(`${value} `),
    fc.constant(value.replace(/^(i|snap|ami|eipalloc)-/, '$1_')),
    fc.integer({ min: 0, max: Math.max(0, value.length - 1) }).map((n) => `${value.slice(0, n)}Z${value.slice(n + 1)}`),
  );
}

const AWS_LIKE = /^(arn:|i-|snap-|ami-|eipalloc-|sg-)|@|^\d+\.\d+\.\d+\.\d+$/;

/** One mutation of `doc`, at a path that exists in it. */
export function mutationOf(doc: unknown): fc.Arbitrary<Mutation> {
  const paths = pathsOf(doc);
  const objects: Path[] = [[], ...paths.filter((p) => { const v = getAt(doc, p); return v !== null && typeof v === 'object' && !Array.isArray(v); })];
  const arrays = paths.filter((p) => Array.isArray(getAt(doc, p)) && (getAt(doc, p) as unknown[]).length > 0);
  const strings = paths.filter((p) => typeof getAt(doc, p) === 'string' && AWS_LIKE.test(getAt(doc, p) as string));
  const numbers = paths.filter((p) => typeof getAt(doc, p) === 'number');
  const options: Array<fc.Arbitrary<Mutation>> = [
    fc.constantFrom(...paths).map((path): Mutation => ({ kind: 'drop', path })),
    fc.constantFrom(...paths).chain((path) => otherType(getAt(doc, path)).map((value): Mutation => ({ kind: 'retype', path, value }))),
    fc
      .tuple(fc.constantFrom(...objects), fc.constantFrom('zzUnknown', 'Name', 'poolz', '__proto__x', 'targetGroupArn'), fc.jsonValue({ maxDepth: 1 }))
      .map(([path, key, value]): Mutation => ({ kind: 'unknown-key', path, key, value })),
  ];
  if (arrays.length > 0) options.push(fc.constantFrom(...arrays).map((path): Mutation => ({ kind: 'duplicate', path })));
  if (strings.length > 0) {
    options.push(fc.constantFrom(...strings).chain((path) => corrupted(getAt(doc, path) as string).map((value): Mutation => ({ kind: 'corrupt', path, value }))));
  }
  if (numbers.length > 0) {
    options.push(
      fc
        .tuple(fc.constantFrom(...numbers), fc.constantFrom(-1, 0, 0.5, 1e12, -1e12, Number.MAX_SAFE_INTEGER + 2, Number.NaN, Number.POSITIVE_INFINITY))
        .map(([path, value]): Mutation => ({ kind: 'out-of-range', path, value })),
    );
  }
  return fc.oneof(...options);
}

/** `doc` with the mutation applied (a deep copy; `doc` is left alone). */
export function applyMutation(doc: unknown, mutation: Mutation): unknown {
  const copy = structuredClone(doc);
  const { path } = mutation;
  if (mutation.kind === 'unknown-key') {
    const target = (path.length === 0 ? copy : getAt(copy, path)) as Record<string, unknown>;
    target[mutation.key] = mutation.value;
    return copy;
  }
  const parent = getAt(copy, path.slice(0, -1)) as Record<string | number, unknown> | unknown[];
  const key = path.at(-1)!;
  switch (mutation.kind) {
    case 'drop':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case 'duplicate': {
      const list = getAt(copy, path) as unknown[];
      list.push(structuredClone(list[0]));
      break;
    }
    case 'retype':
    case 'corrupt':
    case 'out-of-range':
      (parent as Record<string | number, unknown>)[key] = mutation.value;
      break;
  }
  return copy;
}

/** One to three mutations in a row, each at a path of the document as it is by then. */
export function mutated(doc: unknown, count = fc.integer({ min: 1, max: 3 })): fc.Arbitrary<{ doc: unknown; mutations: Mutation[] }> {
  const step = (state: { doc: unknown; mutations: Mutation[] }, left: number): fc.Arbitrary<{ doc: unknown; mutations: Mutation[] }> =>
    left === 0 || pathsOf(state.doc).length === 0
      ? fc.constant(state)
      : mutationOf(state.doc).chain((m) => step({ doc: applyMutation(state.doc, m), mutations: [...state.mutations, m] }, left - 1));
  return count.chain((n) => step({ doc, mutations: [] }, n));
}

/** A path as the error lines spell it: `applications[0].cluster.port`. */
export function formatPath(path: Path): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
}
