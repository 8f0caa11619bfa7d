// The control plane's config, read once per cold start from the S3 object the deploy wrote
// (core/config-document.ts). The key names one config version (its content hash), so nothing
// here expires: a new config is a new key in the environment, and new execution environments.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseConfigDocument } from '../../core/config-document.ts';
import type { Config } from '../../core/config.ts';
import type { ConfigLocation } from '../../core/environment.ts';
import { toNamedError } from '../aws-errors.ts';

export async function readConfigDocument(s3: S3Client, location: ConfigLocation): Promise<Config> {
  const source = `s3://${location.bucket}/${location.key}`;
  let text: string;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
    if (!out.Body) throw new Error(`${source}: GetObject returned no body`);
    text = await out.Body.transformToString('utf-8');
  } catch (error) {
    // Throttling (SlowDown) is retried by the workflow; AccessDenied or NoSuchKey are not: the deploy is broken.
    throw toNamedError(error);
  }
  return parseConfigDocument(text, source);
}
