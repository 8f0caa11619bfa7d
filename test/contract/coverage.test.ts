// Every AWS call the code in functions/ makes has a contract case against moto (DynamoDB aside:
// DynamoDB Local is AWS's own emulator), and every contract case is for a call still made.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { awsCallsIn, contractCallsIn, sourceFiles, type AwsCall } from './coverage.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function callsMade(): { calls: AwsCall[]; unresolved: string[] } {
  const calls: AwsCall[] = [];
  const unresolved: string[] = [];
  for (const { path, source } of sourceFiles(`${ROOT}functions`, ROOT, (p) => p.endsWith('.ts'))) {
    const found = awsCallsIn(source, path);
    calls.push(...found.calls);
    unresolved.push(...found.unresolved.map((u) => `${u.command} at ${u.at}: ${u.why}`));
  }
  return { calls, unresolved };
}

function contractCases() {
  return sourceFiles(`${ROOT}test/contract`, ROOT, (p) => p.endsWith('.contract.test.ts')).flatMap(({ path, source }) =>
    contractCallsIn(source).map((c) => ({ ...c, file: path })),
  );
}

describe('contract coverage', () => {
  it('every AWS call in functions/ has a describeCall case in test/contract/*.contract.test.ts', () => {
    const { calls, unresolved } = callsMade();
    const covered = new Set(contractCases().map((c) => c.call));
    const missing = calls.filter((c) => !covered.has(c.call)).map((c) => `${c.call} (${c.at})`);

    expect(unresolved, 'commands whose AWS service could not be told from their import').toEqual([]);
    expect(missing, "AWS calls without a contract case: add a describeCall('service:Operation', ...) case (see test/contract/contract.ts)").toEqual([]);
    // The scan itself works: these calls are made today.
    expect(calls.map((c) => c.call)).toEqual(expect.arrayContaining(['ec2:DescribeInstances', 'ssm:SendCommand', 'elbv2:RegisterTargets']));
  });

  it('every contract case is for a call functions/ still makes, and is declared once', () => {
    const made = new Set(callsMade().calls.map((c) => c.call));
    const cases = contractCases();
    const stale = cases.filter((c) => !made.has(c.call)).map((c) => `${c.call} (${c.file})`);
    const seen = cases.map((c) => c.call);

    expect(stale, 'contract cases for calls no adapter makes any more: remove them').toEqual([]);
    expect(seen.filter((call, i) => seen.indexOf(call) !== i), 'calls with two describeCall blocks').toEqual([]);
  });

  it('lists the calls moto does not implement (checked against the SDK input shape instead)', () => {
    const notCovered = contractCases().filter((c) => c.notCoveredByMoto);
    console.info(`Contract calls not covered by moto (${notCovered.length}), checked against the SDK's input shape instead:\n${notCovered.map((c) => `  - ${c.call}`).join('\n')}`);

    // Keep this list short: each entry is a call no independent emulator checks.
    // moto 5.2 has no CancelCommand and no DescribeInstanceInformation (moto/ssm/responses.py).
    expect(notCovered.map((c) => c.call).sort()).toEqual(['ec2:CreateReplaceRootVolumeTask', 'ec2:DescribeReplaceRootVolumeTasks', 'ssm:CancelCommand', 'ssm:DescribeInstanceInformation']);
  });

  it('the scanner finds a new call, resolves its service from the import, and skips DynamoDB', () => {
    const source = [
      "import { CancelCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';",
      "import {\n  DescribeLoadBalancersCommand,\n} from '@aws-sdk/client-elastic-load-balancing-v2';",
      "import { GetCommand } from '@aws-sdk/lib-dynamodb';",
      "import * as ec2 from '@aws-sdk/client-ec2';",
      'await ssm.send(new CancelCommandCommand({ CommandId }));',
      'await elb.send(new DescribeLoadBalancersCommand({}));',
      'await doc.send(new GetCommand({ TableName }));',
      'await client.send(new ec2.DescribeImagesCommand({}));',
      'new LocalThingCommand();',
    ].join('\n');

    const found = awsCallsIn(source, 'x.ts');

    expect(found.calls.map((c) => c.call)).toEqual(['ssm:CancelCommand', 'elbv2:DescribeLoadBalancers', 'ec2:DescribeImages']);
    expect(found.calls[0]!.at).toBe('x.ts:7');
    expect(found.unresolved).toEqual([{ command: 'LocalThingCommand', at: 'x.ts:11', why: 'not imported from a package' }]);
    expect(contractCallsIn("describeCall('ssm:CancelCommand', () => {});\ndescribeCall('ec2:X', { notCoveredByMoto: true }, () => {});")).toEqual([
      { call: 'ssm:CancelCommand', notCoveredByMoto: false },
      { call: 'ec2:X', notCoveredByMoto: true },
    ]);
  });
});
