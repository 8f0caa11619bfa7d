// Contract cases for the one S3 call the control plane makes: each Lambda's GetObject of the
// config document at cold start (functions/adapters/config-document.ts), against moto and the
// simulated fleet, each seeded as a deploy uploads the asset.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { configDocument } from '../../core/config-document.ts';
import { parseConfig } from '../../core/config.ts';
import { readConfigDocument } from '../../functions/adapters/config-document.ts';
import { bothSides, describeCall, useMoto } from './contract.ts';

useMoto();

const BUCKET = 'cdk-hnb659fds-assets-123456789012-us-east-1';
const config = parseConfig(JSON.parse(readFileSync(new URL('../../failover.config.json', import.meta.url), 'utf8')), 'failover.config.json');
const DOCUMENT = configDocument(config);
/** The asset's object key: its content hash, as the CDK names file assets. */
const KEY = '0f3c2a1b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8.json';

describeCall('s3:GetObject', () => {
  it('agreed: readConfigDocument reads the document the deploy uploaded and validates the config in it', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      await side.seed.object({ bucket: BUCKET, key: KEY, body: DOCUMENT });
      const read = await readConfigDocument(side.s3, { bucket: BUCKET, key: KEY });
      return { applications: read.applications.map((a) => a.name), same: JSON.stringify(read) === JSON.stringify(config) };
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: { applications: ['checkout', 'search', 'reports'], same: true } });
  });

  // GetObject (S3 API reference): NoSuchKey, "The specified key does not exist." (404) for a
  // caller that may list the bucket; without s3:ListBucket, as the control plane's roles are,
  // AWS answers 403 AccessDenied instead. Neither moto nor the simulator evaluates IAM.
  it('agreed: a key the deploy did not upload is NoSuchKey; a bucket that does not exist is NoSuchBucket', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      await side.seed.object({ bucket: BUCKET, key: KEY, body: DOCUMENT });
      const read = (bucket: string, key: string) => readConfigDocument(side.s3, { bucket, key }).then(
        () => 'read',
        (error: Error) => error.name,
      );
      return { missingKey: await read(BUCKET, `x${KEY}`), missingBucket: await read('rapid-failover-no-such-bucket', KEY) };
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: { missingKey: 'NoSuchKey', missingBucket: 'NoSuchBucket' } });
  });

  it('agreed: a document written for another config schema is ConfigMismatchError (the workflow retries it), a bad one ConfigError', async () => {
    const { moto, simulator } = await bothSides(async (side) => {
      const other = JSON.stringify({ ...JSON.parse(DOCUMENT), schema: '0000000000000000' });
      await side.seed.object({ bucket: BUCKET, key: 'other.json', body: other });
      await side.seed.object({ bucket: BUCKET, key: 'bare.json', body: JSON.stringify(config) });
      const read = (key: string) => readConfigDocument(side.s3, { bucket: BUCKET, key }).then(
        () => 'read',
        (error: Error) => error.name,
      );
      return { otherSchema: await read('other.json'), bareConfig: await read('bare.json') };
    });

    expect(moto).toEqual(simulator);
    expect(simulator).toEqual({ ok: true, value: { otherSchema: 'ConfigMismatchError', bareConfig: 'ConfigError' } });
  });
});
