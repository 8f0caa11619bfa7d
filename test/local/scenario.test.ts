// Scenario parsing: where instances are placed (subnet, AZ) and what is refused before anything
// runs, each problem named by its field.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config.ts';
import { parseScenario, subnetOf } from '../../local/scenario.ts';

/** One application (secondary private IP 10.0.1.50) on the first instance, and one pool node. */
function scenario(instances: Array<Record<string, unknown>>, ipAddress = '10.0.1.50'): Record<string, unknown> {
  return {
    name: 'subnets',
    config: {
      pools: [{ name: 'general', tag: { key: 'pool', value: 'general' } }],
      applications: [
        {
          name: 'ledger',
          priority: 500,
          provisioning: { method: 'activate' },
          cluster: {
            targetGroupArns: ['arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/ledger/0123456789abcdef'],
            logicalAddress: { kind: 'secondary-private-ip', ipAddress },
          },
        },
      ],
      alerts: { emails: ['oncall@example.com'] },
    },
    fleet: { instances },
    timeline: [{ at: 10, event: 'drill', app: 'ledger' }],
  };
}

function problems(raw: unknown): string[] {
  try {
    parseScenario(raw, 'test.json');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('scenario instances: subnets and Availability Zones', () => {
  it('places an instance in the subnet it names, the first subnet of its AZ, or 10.0.0.0/20', () => {
    expect(subnetOf({ subnet: 'subnet-0000000000000c002' })).toMatchObject({ availabilityZone: 'us-east-1c', cidrBlock: '10.0.80.0/20' });
    expect(subnetOf({ availabilityZone: 'us-east-1b' })).toMatchObject({ subnetId: 'subnet-0000000000000b001', cidrBlock: '10.0.16.0/20' });
    expect(subnetOf({})).toMatchObject({ subnetId: 'subnet-0000000000000a001', cidrBlock: '10.0.0.0/20' });
  });

  it('refuses a subnet outside the AZ named beside it', () => {
    const raw = scenario([
      { id: 'i-0123456789abcdef0', type: 'm7i.large', runs: ['ledger'] },
      { id: 'i-0123456789abcdef1', type: 'm7i.large', subnet: 'subnet-0000000000000b001', availabilityZone: 'us-east-1c' },
    ]);

    expect(problems(raw)).toEqual([expect.stringMatching(/^fleet\.instances\[1\]\.availabilityZone: subnet subnet-0000000000000b001 is in us-east-1b, not us-east-1c/)]);
  });

  it('refuses an application served from a subnet that does not hold its secondary private IP (AssignPrivateIpAddresses)', () => {
    const raw = scenario([{ id: 'i-0123456789abcdef0', type: 'm7i.large', runs: ['ledger'], availabilityZone: 'us-east-1b' }]);

    expect(problems(raw)).toEqual([
      'fleet.instances[0]: runs ledger, whose secondary private IP 10.0.1.50 is not in its subnet subnet-0000000000000b001 (10.0.16.0/20); ' +
        'place it in subnet-0000000000000a001 (10.0.0.0/20) with "subnet"',
    ]);
  });

  it('refuses a subnet the simulated VPC does not have and names the ones it has', () => {
    const raw = scenario([{ id: 'i-0123456789abcdef0', type: 'm7i.large', runs: ['ledger'], subnet: 'subnet-0000000000000d001' }]);

    expect(problems(raw)).toEqual([expect.stringMatching(/^fleet\.instances\[0\]\.subnet: .*subnet-0000000000000a001/)]);
  });
});

describe('scenario instances: instance types', () => {
  it('takes any type EC2 has and names the field of one it does not have', () => {
    const ok = scenario([
      { id: 'i-0123456789abcdef0', type: 'x2iedn.32xlarge', runs: ['ledger'] },
      { id: 'i-0123456789abcdef1', type: 'hpc7g.16xlarge' },
    ]);
    const typo = scenario([
      { id: 'i-0123456789abcdef0', type: 'm7i.large', runs: ['ledger'] },
      { id: 'i-0123456789abcdef1', type: 'c7gx.large' },
    ]);

    expect(problems(ok)).toEqual([]);
    expect(problems(typo)).toEqual([expect.stringMatching(/^fleet\.instances\[1\]\.type: unknown instance type 'c7gx\.large'; EC2 has 1263 types/)]);
  });
});

describe('scenario configs: boot images (A4)', () => {
  it('refuses the boot-volume example as it was, with a shared snapshot, naming the field and the fix', () => {
    const raw = JSON.parse(readFileSync(new URL('../../examples/boot-volume.json', import.meta.url), 'utf8')) as {
      config: { applications: Array<{ provisioning: { source: Record<string, string> } }> };
    };
    raw.config.applications[0]!.provisioning.source = { snapshotId: 'snap-0123456789abcdef0' };

    expect(problems(raw)).toEqual([expect.stringMatching(/^config\.applications\[0\]\.provisioning\.source\.snapshotId: a snapshot cannot be swapped onto a pool node: .*register-image/)]);
  });
});
