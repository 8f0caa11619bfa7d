// Builds DynamoDB update expressions from plain objects, so adapters state what they change
// instead of hand-writing placeholder names.
export interface UpdateSpec {
  /** SET name = value. */
  set?: Record<string, unknown>;
  /** SET name = if_not_exists(name, value): first writer wins (start times). */
  setIfNotExists?: Record<string, unknown>;
  /** ADD name value (numbers). */
  add?: Record<string, number>;
  remove?: string[];
}

export interface UpdateExpression {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/** Names and values shared with a condition expression: pass the same builder to both. */
export class ExpressionBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;

  name(attribute: string): string {
    const existing = Object.entries(this.names).find(([, value]) => value === attribute);
    if (existing) return existing[0];
    const placeholder = `#n${this.n++}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }

  value(value: unknown): string {
    const placeholder = `:v${this.n++}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  update(spec: UpdateSpec): string {
    const sets = [
      ...Object.entries(spec.set ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => `${this.name(k)} = ${this.value(v)}`),
      ...Object.entries(spec.setIfNotExists ?? {})
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => {
          const n = this.name(k);
          return `${n} = if_not_exists(${n}, ${this.value(v)})`;
        }),
    ];
    const adds = Object.entries(spec.add ?? {}).map(([k, v]) => `${this.name(k)} ${this.value(v)}`);
    const removes = (spec.remove ?? []).map((k) => this.name(k));
    const parts: string[] = [];
    if (sets.length > 0) parts.push(`SET ${sets.join(', ')}`);
    if (adds.length > 0) parts.push(`ADD ${adds.join(', ')}`);
    if (removes.length > 0) parts.push(`REMOVE ${removes.join(', ')}`);
    return parts.join(' ');
  }

  /** Placeholders for UpdateItem/Put/Delete input; values omitted when there are none (DynamoDB rejects an empty map). */
  attributes(): { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } {
    return {
      ...(Object.keys(this.names).length > 0 ? { ExpressionAttributeNames: this.names } : {}),
      ...(Object.keys(this.values).length > 0 ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}
