import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as core from '../../core/index.ts';

const CORE_DIR = join(import.meta.dirname, '../../core');

describe('core public API', () => {
  it('A1: exports the schemas, the selection policy and the decisions from one place', () => {
    const expected = ['parseConfig', 'poolsFor', 'checkEligibility', 'selectNodes', 'afterNodeFailure', 'checkDamping', 'afterVerify', 'lastPossibleNodeReached', 'describeAlert', 'evaluateThreshold', 'initialState', 'ErrorNames', 'CLAIMS_TABLE'];

    const missing = expected.filter((name) => typeof (core as Record<string, unknown>)[name] === 'undefined');

    expect(missing).toEqual([]);
  });

  it('A1: the domain core imports no AWS SDK or CDK module (design §2: pure core)', () => {
    const files = readdirSync(CORE_DIR).filter((file) => file.endsWith('.ts'));

    const offenders = files.filter((file) => /from\s+['"](@aws-sdk\/|aws-cdk-lib|constructs|@aws-lambda-powertools\/)/.test(readFileSync(join(CORE_DIR, file), 'utf8')));

    expect(files.length).toBeGreaterThan(0);
    expect(offenders).toEqual([]);
  });
});
