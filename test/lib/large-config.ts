// A generated config at the scale the design is built for, with every feature of the config
// in use, so template checks (cfn-lint) see every resource and statement the stack can emit:
// 50 applications over 5 pools (failover and backup tiers, virtual nodes), every provisioning
// method and boot source, both logical-address kinds, performance + target-health +
// status-check + user alarms, placement with possible nodes, run/halt documents, an isolation
// security group and a readiness command.
import { parseConfig, type Config, type ConfigInput } from '../../core/config.ts';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const POOL_TAG = 'rapid-failover:pool';

/** Deterministic hex of a given width from a number (ids must look like AWS's). */
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const instance = (n: number) => `i-0${hex(n, 16)}`;

export function largeConfig(applicationCount = 50): Config {
  const pools: ConfigInput['pools'] = [
    { name: 'general', tag: { key: POOL_TAG, value: 'general' }, tier: 'failover' },
    { name: 'compute', tag: { key: POOL_TAG, value: 'compute' }, tier: 'failover' },
    { name: 'arm', tag: { key: POOL_TAG, value: 'arm' }, tier: 'failover' },
    { name: 'shared-hosts', tag: { key: POOL_TAG, value: 'shared-hosts' }, virtualNodes: { maxApplications: 4, reservedFraction: 0.15 } },
    { name: 'backup', tag: { key: POOL_TAG, value: 'backup' }, tier: 'backup' },
  ];
  const applications: ConfigInput['applications'] = [];
  for (let i = 0; i < applicationCount; i++) {
    const name = `app-${String(i).padStart(2, '0')}`;
    const shell = (command: string) => ({ name: 'AWS-RunShellScript', parameters: { commands: [command] } });
    const ownDocument = { name: `arn:aws:ssm:${REGION}:${ACCOUNT}:document/${name}-configure`, parameters: { role: ['{{rapid-failover.toNode}}'] }, timeoutSeconds: 900 };
    const method = (['activate', 'install', 'boot-volume'] as const)[i % 3]!;
    const provisioning =
      method === 'activate' ? { method, documents: [shell(`systemctl start ${name}`)] }
      : method === 'install' ? { method, documents: [shell(`/opt/bootstrap/install-${name} --from {{rapid-failover.fromNode}}`), ownDocument], timeoutSeconds: 1_200 }
      : {
          method,
          // An AMI: a snapshot is refused at load (core/config.ts, SNAPSHOT_REFUSED).
          source: { imageId: `ami-0${hex(i, 16)}` },
          deleteReplacedRootVolume: i % 4 === 1,
          documents: [ownDocument],
          ...(i % 4 === 2 ? { kmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${hex(i, 8)}-${hex(i, 4)}-${hex(i, 4)}-${hex(i, 4)}-${hex(i, 12)}` } : {}),
        };
    const targetGroup = (k: number) => `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/${name}-${k}/${hex(i * 2 + k, 16)}`;
    const logicalAddress =
      i % 4 === 0 ? { kind: 'elastic-ip' as const, allocationId: `eipalloc-0${hex(i, 16)}` }
      : i % 4 === 1 ? { kind: 'secondary-private-ip' as const, ipAddress: `10.0.${Math.floor(i / 200)}.${(i % 200) + 10}` }
      : undefined;
    const arm = i % 5 === 2;
    applications.push({
      name,
      priority: (i * 37) % 1_000,
      pools: arm ? ['arm', 'backup'] : i % 5 === 3 ? ['shared-hosts', 'backup'] : i % 2 === 0 ? ['general', 'backup'] : ['compute', 'general', 'backup'],
      requirements: {
        minVcpu: 1 + (i % 4),
        minMemoryMiB: 1_024 * (1 + (i % 8)),
        architecture: arm ? 'arm64' : 'x86_64',
        ...(i % 7 === 0 ? { instanceFamilies: ['m7i', 'c7i'] } : {}),
        ...(i % 11 === 0 ? { instanceTypes: ['m7i.xlarge', 'm7i.2xlarge'] } : {}),
        ...(i === 13 ? { features: ['gpu' as const] } : {}),
        ...(i === 26 ? { features: ['nvme' as const] } : {}),
      },
      provisioning,
      cluster: {
        targetGroupArns: i % 6 === 0 ? [targetGroup(0), targetGroup(1)] : [targetGroup(0)],
        ...(i % 3 === 0 ? { port: 8_080 } : {}),
        ...(logicalAddress ? { logicalAddress } : {}),
        ...(i % 2 === 0 ? { isolationSecurityGroupId: `sg-0${hex(i, 16)}` } : {}),
        ...(i % 3 === 0 ? { readinessCommand: { name: 'AWS-RunShellScript', parameters: { commands: ['curl -fsS localhost:8080/health'] }, timeoutSeconds: 300 } } : {}),
      },
      detection: {
        ...(i % 2 === 0
          ? {
              performance: {
                namespace: `Apps/${name}`,
                metricName: 'RequestsPerSecondPerHost',
                dimensions: { Service: name },
                statistic: i % 4 === 0 ? 'Average' : 'p90',
                threshold: 100 + i,
                comparison: i % 4 === 0 ? 'LessThanThreshold' : 'GreaterThanOrEqualToThreshold',
                periodSeconds: i % 8 === 0 ? 10 : 60,
                evaluationPeriods: 5,
                datapointsToAlarm: 3,
              },
            }
          : {}),
        failure: {
          statusChecks: i % 5 !== 4,
          ...(i % 3 !== 2 ? { targetHealth: { loadBalancerArn: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:loadbalancer/${i % 2 ? 'net' : 'app'}/lb-${i % 5}/${hex(i % 5, 16)}` } } : {}),
          ...(i % 5 === 1 ? { alarmArns: [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:failover-trigger-${name}-process-down`] } : {}),
        },
      },
      placement: {
        preferredNode: instance(1_000 + i),
        possibleNodes: i % 4 === 3 ? [instance(2_000 + i), instance(3_000 + i)] : [],
      },
      run: i % 3 !== 1 ? [shell(`systemctl start ${name}-sidecar`)] : [],
      halt: i % 3 !== 1 ? [shell(`systemctl stop ${name}-sidecar`), shell(`systemctl stop ${name}`)] : [],
      policy: {
        maxAttempts: 1 + (i % 4),
        cooldownSeconds: 300,
        deregistrationDelaySeconds: 15,
        settleSeconds: 60 + i,
        returnOldNodeToPool: i % 9 !== 0,
      },
    });
  }
  return parseConfig({ pools, applications, alerts: { emails: ['oncall@example.com', 'platform@example.com'] } }, 'generated large config');
}
