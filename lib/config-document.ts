import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stage } from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { configDocument } from '../core/config-document.ts';
import type { Config } from '../core/config.ts';
import { EnvNames } from '../core/environment.ts';

export interface ConfigDocumentAssetProps {
  /** The validated config. */
  readonly config: Config;
}

/**
 * The config as an S3 asset of the deploy, read by every Lambda at cold start
 * (functions/adapters/config-document.ts), instead of inlined into eleven bundles.
 *
 * - Size: 1.7 MB at 1,000 applications (`npm run bench`). An SSM parameter holds at most 4 KB
 *   (standard) or 8 KB (advanced), an AppConfig hosted configuration 1 MB
 *   (AWS::AppConfig::HostedConfigurationVersion: "Configurations must be 1 MB or smaller"); an S3
 *   object has no limit that matters here. Powertools' Parameters utility reads SSM, Secrets
 *   Manager, AppConfig and DynamoDB, so it does not fit; one GetObject per cold start needs no cache.
 * - Versioned with the deploy: the object key is the document's content hash (CDK asset), and the
 *   key is in each function's environment. A config change changes that variable, not the code;
 *   the code checks that the document was written for its own config schema (ConfigMismatchError).
 * - Who can read it: whoever may read the CDK bootstrap bucket (the deploy roles), and each
 *   function, on this one object (`objectArn`, lib/permissions.ts). Reading a function's code (lambda:GetFunction)
 *   shows no instance ids or shell commands any more.
 */
export class ConfigDocumentAsset extends Construct {
  public readonly asset: s3assets.Asset;
  /** The variables that tell a function where its config is. */
  public readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: ConfigDocumentAssetProps) {
    super(scope, id);
    // Written into the cloud assembly (deleted with it); the asset copies it to asset.<hash>.json.
    const outdir = Stage.of(this)?.outdir;
    if (!outdir) throw new Error(`${this.node.path}: the config document needs an App or Stage to write its asset into`);
    const dir = join(outdir, 'rapid-failover-config');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${this.node.addr}.json`);
    writeFileSync(file, configDocument(props.config));
    this.asset = new s3assets.Asset(this, 'Document', { path: file });
    this.environment = { [EnvNames.ConfigBucket]: this.asset.s3BucketName, [EnvNames.ConfigKey]: this.asset.s3ObjectKey };
  }

  /** The object's ARN: each role may s3:GetObject it and nothing else of the bootstrap bucket (lib/permissions.ts). */
  get objectArn(): string {
    return this.asset.bucket.arnForObjects(this.asset.s3ObjectKey);
  }
}
