// End to end on the synthesized workflow: what a run reports is what happened. An execution still
// running when the scenario's time runs out is reported as running (not given an outcome it did
// not reach); an application the scenario expects an outcome of but that had no incident at all
// is unexpected; and a node the control plane still holds for an application that was alerted
// on it (A14) is reported as that application's, as the pool treats it.
import { describe, expect, it } from 'vitest';
import { alertsFor, app, incidentsOf, node, nodeId, nodeOf, scenario } from '../fixtures.ts';
import type { Run } from '../harness.ts';

export function reportCases(run: Run): void {
  describe('what the report says', () => {
    it('an execution still running at the deadline is reported as running, and is unexpected', async () => {
      // The status-check alarm fires at +180 s (2 of 2 one-minute periods after the failure at +30 s);
      // the failover then takes about 50 s (provisioning, one 30 s health check): at the deadline,
      // +200 s (the last event + runForSeconds), it is still waiting for the health check.
      // (A deadline of +230 s was within a fraction of a second of the failover's end.)
      const s = {
        ...scenario({
          name: 'deadline-mid-failover',
          applications: [app('ledger')],
          instances: [node(1, { runs: ['ledger'] }), node(2)],
          timeline: [{ at: 30, event: 'instance-failed', node: nodeId(1) }],
          runForSeconds: 170,
        }),
        expect: { ledger: ['failed-over' as const] },
      };

      // The run cannot settle before its deadline: the invariants (which say it must) do not apply.
      const result = await run(s, { invariants: false });

      const [incident, ...others] = incidentsOf(result, 'ledger');
      expect(others).toEqual([]);
      expect(incident, 'the execution had started before the deadline').toBeDefined();
      expect(incident!.outcome).toBe('running');
      expect(alertsFor(result, 'ledger'), 'nobody was alerted: nothing went wrong yet').toEqual([]);
      expect(result.unexpected).toEqual([expect.stringMatching(/^ledger: running \(.+\); expected failed-over$/)]);
    });

    it('an application the scenario expects an outcome of, with no incident at all, is unexpected', async () => {
      // ledger is expected to fail over, but nothing ever happens to its host.
      const s = {
        ...scenario({
          name: 'expected-but-quiet',
          applications: [app('ledger'), app('orders')],
          instances: [node(1, { runs: ['ledger'] }), node(2, { runs: ['orders'] }), node(3)],
          timeline: [{ at: 30, event: 'instance-failed', node: nodeId(2) }],
        }),
        expect: { ledger: ['failed-over' as const], orders: ['failed-over' as const] },
      };

      const result = await run(s);

      expect(incidentsOf(result, 'orders').map((i) => i.outcome)).toEqual(['failed-over']);
      expect(incidentsOf(result, 'ledger')).toEqual([]);
      expect(result.unexpected).toEqual(['ledger: no incident; expected failed-over']);
    });

    it('A14: after a failure with no eligible node, the failed node stays the application’s: reported so, and never handed to another application once its status checks recover', async () => {
      // ledger's host fails and no node can take it (the only other node runs orders): alerted, it stays on node 1.
      // At +600 s node 1's status checks pass again (ledger's services are still down); at +700 s orders' host fails.
      const s = scenario({
        name: 'alerted-node-stays-held',
        applications: [app('ledger'), app('orders')],
        instances: [node(1, { runs: ['ledger'] }), node(2, { runs: ['orders'] })],
        timeline: [
          { at: 30, event: 'instance-failed', node: nodeId(1) },
          { at: 700, event: 'instance-failed', node: nodeId(2) },
        ],
      });

      const result = await run(s, {
        beforeRun: ({ fleet }) => {
          fleet.clock.after(600_000, () => fleet.faults.statusChecksImpaired(nodeId(1), false));
        },
      });

      expect(incidentsOf(result, 'ledger').map((i) => i.outcome)).toEqual(['alerted']);
      // The pool counts node 1 as ledger's (the state table names it): orders is not given it.
      expect(incidentsOf(result, 'orders').map((i) => i.outcome)).toEqual(['alerted']);
      // Node 1 was considered and turned down for ledger alone (its status checks pass again).
      expect(incidentsOf(result, 'orders')[0]!.explanation).toContain(`rejected ${nodeId(1)}: runs ledger (priority 500), not lower than orders's priority 500`);
      // And the report says the same: node 1 is held for ledger, which does not run there.
      expect(nodeOf(result, nodeId(1))).toMatchObject({ role: 'serving', applications: [], assignedTo: ['ledger'] });
      expect(nodeOf(result, nodeId(2))).toMatchObject({ role: 'serving', applications: [], assignedTo: ['orders'] });
    });
  });
}
