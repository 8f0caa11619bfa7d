// The config as the Lambdas read it at cold start: one JSON document, written at synth (lib/)
// and deployed as an S3 asset next to the bundles, never inside them. It carries the
// fingerprint of the config schema it was validated against, so a function whose code and
// document come from different deploys notices instead of reading the document with another
// schema (old code would reject new fields, new code might read an old document differently).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, ConfigSchema, parseConfig, type Config } from './config.ts';
import { ConfigMismatchError } from './errors.ts';

export interface ConfigDocument {
  /** Fingerprint of the config schema (its JSON Schema) the config was validated with. */
  schema: string;
  config: Config;
}

let fingerprint: string | undefined;

/**
 * The config schema's fingerprint: the first 16 hex digits of the SHA-256 of its JSON Schema.
 * It changes when a field, type, default or enum changes (the shape both sides must agree on);
 * about 10 ms the first time, once per cold start.
 */
export function configSchemaFingerprint(): string {
  fingerprint ??= createHash('sha256')
    .update(JSON.stringify(z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' })))
    .digest('hex')
    .slice(0, 16);
  return fingerprint;
}

/** The document for a validated config (deterministic: the same config gives the same bytes, so the same S3 key). */
export function configDocument(config: Config): string {
  const document: ConfigDocument = { schema: configSchemaFingerprint(), config };
  return JSON.stringify(document);
}

const DocumentSchema = z.strictObject({ schema: z.string().regex(/^[0-9a-f]{16}$/), config: z.unknown() });

/**
 * Reads a config document: its shape, then whether this code's schema is the one it was
 * written with (ConfigMismatchError if not: the workflow retries it, a deploy in progress ends
 * within seconds), then the config itself (ConfigError naming each field).
 */
export function parseConfigDocument(text: string, source: string): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(source, [`(root): not valid JSON: ${(error as Error).message}`]);
  }
  const document = DocumentSchema.safeParse(raw);
  if (!document.success) {
    throw new ConfigError(source, ['(root): expected a rapid-failover config document { "schema": "<16 hex digits>", "config": { ... } }, written by the stack at synth']);
  }
  if (document.data.schema !== configSchemaFingerprint()) {
    throw new ConfigMismatchError(
      `${source} was written for config schema ${document.data.schema}, this function's code reads schema ${configSchemaFingerprint()}: ` +
        'code and config come from different deploys (is a deploy still updating this function?)',
    );
  }
  return parseConfig(document.data.config, source);
}
