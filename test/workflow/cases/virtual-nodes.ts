// End to end on the synthesized workflow: a virtual-node host of the failover tier fails with
// three applications on it (B1); each has its own incident, and the backup tier takes over what
// the failover tier ran (B2), packed by capacity.
import { describe, expect, it } from 'vitest';
import { allocationId, app, elasticIpHolder, incidentsOf, node, nodeId, nodeOf, POOL_TAG, POOLS, registeredTargets, scenario, servingNodes, targetGroupArn, type PoolInput } from '../fixtures.ts';
import type { Run } from '../harness.ts';

/** Backup-tier virtual-node hosts (B2 behind the failover tier's hosts). */
const BACKUP_HOSTS: PoolInput = { name: 'backup-hosts', tag: { key: POOL_TAG, value: 'backup-hosts' }, tier: 'backup', virtualNodes: { maxApplications: 3, reservedFraction: 0.1 } };

/** Registers the cases; `run` runs a scenario and checks the invariants every run must keep. */
export function virtualNodeCases(run: Run): void {
  describe('a virtual-node host failing with three applications on it (B1, B2)', () => {
    it('B1, B2, B3: the host’s failure is detected per application (its own incident each); the backup tier takes them over, packed by capacity', async () => {
      const apps = ['ada', 'bob', 'cy'];
      const s = scenario({
        name: 'host-fails',
        pools: [POOLS.hosts, BACKUP_HOSTS, POOLS.backup],
        // 3 vCPU each: the backup host (8 vCPU, 10% reserved: 7.2) fits two, the dedicated backup node one.
        applications: apps.map((name) => app(name, { requirements: { minVcpu: 3, minMemoryMiB: 4096 }, pools: ['hosts', 'backup-hosts', 'backup'] })),
        instances: [
          node(1, { pool: 'hosts', type: 'm7i.4xlarge', runs: apps }),
          node(2, { pool: 'backup-hosts', type: 'm7i.2xlarge' }),
          node(3, { pool: 'backup', type: 'm7i.xlarge' }),
          node(4, { pool: 'backup', type: 'm7i.large' }),
        ],
        timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
      });

      const result = await run(s);

      // One incident per application (B3: the status-check alarm of each application names the host).
      const incidents = apps.map((name) => incidentsOf(result, name));
      for (const list of incidents) {
        expect(list).toEqual([expect.objectContaining({ trigger: 'failure', outcome: 'failed-over', fromNode: nodeId(1), attempts: 1 })]);
      }
      expect(new Set(incidents.map((list) => list[0]!.incidentId)).size).toBe(3);

      // B1: the backup host packs two applications up to its capacity; the third goes to the node it fits on.
      const placed = Object.fromEntries(apps.map((name) => [name, servingNodes(result, name)]));
      expect(Object.values(placed).flat().sort()).toEqual([nodeId(2), nodeId(2), nodeId(3)]);
      expect(nodeOf(result, nodeId(2)).lease.filter((l) => l.role === 'serving')).toHaveLength(2);
      // The m7i.large (2 vCPU) is too small for any of them (A6).
      expect(nodeOf(result, nodeId(4))).toMatchObject({ role: 'free', applications: [], lease: [] });
      for (const name of apps) {
        const [to] = placed[name]!;
        expect(incidentsOf(result, name)[0]!.toNode).toBe(to);
        expect(registeredTargets(result, targetGroupArn(name))).toEqual([to]);
        expect(elasticIpHolder(result, allocationId(name))).toBe(to);
      }
      // C1: the two applications on the shared host keep an Elastic IP each, on different private IPs.
      const onHost = result.network.elasticIps.filter((a) => a.instanceId === nodeId(2));
      expect(new Set(onHost.map((a) => a.privateIp)).size).toBe(2);

      // The failed host is set aside with each application's reason, never handed out again.
      const host = nodeOf(result, nodeId(1));
      expect(host.role).toBe('quarantined');
      expect(host.applications).toEqual([]);
      expect(host.lease.map((l) => l.holder).sort()).toEqual(apps);
      expect(result.serviceEvents.filter((e) => e.detailType === 'Service Up')).toHaveLength(3);
    });
  });
}
