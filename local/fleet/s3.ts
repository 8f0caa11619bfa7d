// S3 GetObject on objects the scenario's deploy put there (the stack's config document, an S3
// asset): what each Lambda reads at cold start. Only what the control plane calls.
import { createHash } from 'node:crypto';
import type { GetObjectCommandInput } from '@aws-sdk/client-s3';
import { errorsFor } from './errors.ts';
import type { Handlers } from './service.ts';

const s3Error = errorsFor('s3');

export interface S3Object {
  body: Uint8Array;
  contentType: string;
  etag: string;
  lastModified: Date;
}

/** Bucket → key → object. */
export type S3State = Map<string, Map<string, S3Object>>;

export function putObject(state: S3State, bucket: string, key: string, body: Uint8Array | string, now: Date, contentType = 'application/json'): void {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  // A single-part upload's ETag is the MD5 of the body, in quotes (S3 API reference, Object: ETag).
  const etag = `"${createHash('md5').update(bytes).digest('hex')}"`;
  const objects = state.get(bucket) ?? new Map<string, S3Object>();
  objects.set(key, { body: bytes, contentType, etag, lastModified: now });
  state.set(bucket, objects);
}

/**
 * GetObject answers the body as bytes: the transport (attachFleet, or the bundle worker's hook)
 * hands the caller the SDK's stream over them (local/fleet/sdk-stream.ts), as the SDK does.
 * NoSuchBucket / NoSuchKey as S3 answers a caller that may list the bucket (GetObject, S3 API
 * reference: without s3:ListBucket the answer is 403 AccessDenied instead; IAM is not simulated).
 */
export function s3Handlers(state: S3State): Handlers {
  return {
    GetObject: (input: GetObjectCommandInput) => {
      const objects = state.get(input.Bucket ?? '');
      if (!objects) throw s3Error('NoSuchBucket', 'The specified bucket does not exist', { httpStatusCode: 404 });
      const object = objects.get(input.Key ?? '');
      if (!object) throw s3Error('NoSuchKey', 'The specified key does not exist.', { httpStatusCode: 404 });
      return {
        Body: object.body,
        ContentLength: object.body.byteLength,
        ContentType: object.contentType,
        ETag: object.etag,
        LastModified: object.lastModified,
      };
    },
  };
}
