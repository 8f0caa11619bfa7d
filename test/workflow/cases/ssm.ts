// Systems Manager as AWS behaves, end to end on the synthesized workflow (A2, A3, A13): a node
// that was stopped is started and the engine waits for its SSM Agent to come Online before it
// installs, once; an install that hangs is cancelled when provisioning times out, and the node
// is compensated while another takes over.
import { describe, expect, it } from 'vitest';
import type { SimulatedFleet } from '../../../local/fleet/index.ts';
import { DEFAULT_LATENCY } from '../../../local/fleet/latency.ts';
import { POOLS, app, incidentsOf, node, nodeId, nodeOf, scenario, servingNodes } from '../fixtures.ts';
import type { Run } from '../harness.ts';

const INSTALL = { name: 'AWS-RunShellScript', parameters: { commands: ['/opt/bootstrap/install-ledger.sh'] }, timeoutSeconds: 1_800 };

/** Captures the run's simulated fleet, to read what SSM saw. */
function fleetOf(): { beforeRun: (runtime: { fleet: SimulatedFleet }) => void; fleet: () => SimulatedFleet } {
  let captured: SimulatedFleet | undefined;
  return {
    beforeRun: ({ fleet }) => {
      captured = fleet;
    },
    fleet: () => captured!,
  };
}

export function ssmCases(run: Run): void {
  describe('Systems Manager (A2, A3)', () => {
    it('A2/A3: a stopped pool node is started; the engine waits for its SSM Agent to be Online (no InvalidInstanceId), then installs once', async () => {
      const s = scenario({
        name: 'ssm-agent-readiness',
        applications: [app('ledger', { provisioning: { method: 'install', documents: [INSTALL] } })],
        instances: [node(1, { runs: ['ledger'] }), node(2, { state: 'stopped' })],
        timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
      });
      const capture = fleetOf();

      const result = await run(s, { beforeRun: capture.beforeRun });

      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(2), attempts: 1 });
      expect(servingNodes(result, 'ledger')).toEqual([nodeId(2)]);
      const fleet = capture.fleet();
      expect(fleet.callErrors()['ssm:SendCommand:InvalidInstanceId']).toBeUndefined();
      const onNew = fleet.snapshot().instances.find((i) => i.instanceId === nodeId(2))!;
      // The install (then the run document), each sent once.
      expect(onNew.documents.map((d) => [d.documentName, d.status])).toEqual([
        ['AWS-RunShellScript', 'Success'],
        ['AWS-RunShellScript', 'Success'],
      ]);
      // Not before EC2 start + OS boot + the agent's registration, counted from the start of provisioning.
      const provision = incident!.steps.find((step) => step.name === 'ProvisionNode')!;
      const { instanceStartMs, bootToServicesMs } = DEFAULT_LATENCY.ec2;
      expect(Date.parse(onNew.documents[0]!.requestedAt) - Date.parse(provision.startedAt)).toBeGreaterThanOrEqual(
        instanceStartMs + bootToServicesMs + DEFAULT_LATENCY.ssm.agentRegistrationMs,
      );
      expect(fleet.callCounts().byCommand['ssm:DescribeInstanceInformation']).toBeGreaterThan(2);
    });

    it('A13: an install that hangs is cancelled (CancelCommand) when provisioning times out; the node is compensated and another takes over', async () => {
      const s = scenario({
        name: 'ssm-hung-install',
        applications: [app('ledger', { pools: ['general', 'backup'], provisioning: { method: 'install', timeoutSeconds: 120, documents: [INSTALL] } })],
        instances: [node(1, { runs: ['ledger'] }), node(2), node(3, { pool: 'backup' })],
        pools: [POOLS.general, POOLS.backup],
        timeline: [
          { at: 0, event: 'provisioning-fails', node: nodeId(2), how: 'command-hangs' },
          { at: 30, event: 'instance-failed', node: nodeId(1) },
        ],
      });
      const capture = fleetOf();

      const result = await run(s, { beforeRun: capture.beforeRun });

      const [incident] = incidentsOf(result, 'ledger');
      expect(incident).toMatchObject({ outcome: 'failed-over', toNode: nodeId(3), attempts: 2 });
      expect(incident!.explanation.join('\n')).toMatch(/provisioning i-0+2 \(install\) did not finish within 120 s/);
      const fleet = capture.fleet();
      expect(fleet.callCounts().byCommand['ssm:CancelCommand']).toBe(1);
      const given = fleet.snapshot().instances.find((i) => i.instanceId === nodeId(2))!;
      // The hung install, cancelled; then the application's halt document that compensation starts there.
      expect(given.documents.map((d) => d.status)).toEqual(['Cancelled', 'Success']);
      expect(given.appsInstalled).toEqual([]); // the hung install never took effect
      expect(nodeOf(result, nodeId(2)).role).toBe('free'); // a timeout returns the node to the pool
      expect(servingNodes(result, 'ledger')).toEqual([nodeId(3)]);
    });
  });
}
