// The workflow suite: scenarios run end to end on the local runtime (the synthesized state
// machine, the real handlers and SDK clients, DynamoDB Local and the simulated fleet). One test
// file, so the suite pays for one CDK import; the cases live by theme in
// ./cases. Every run is checked against the invariants in ./invariants.ts.
import { sharedDynamoEndpoint } from '../shared-dynamodb.ts';
import { runSimulation } from '../../local/runtime/simulation.ts';
import { contentionCases } from './cases/contention.ts';
import { controlPlaneCostCases } from './cases/control-plane-costs.ts';
import { fencingCases } from './cases/fencing.ts';
import { loadBalancerCases } from './cases/load-balancers.ts';
import { detectionCases } from './cases/detection.ts';
import { eventCases } from './cases/events.ts';
import { performanceCases } from './cases/performance.ts';
import { placementCases } from './cases/placement.ts';
import { provisioningCases } from './cases/provisioning.ts';
import { reportCases } from './cases/reports.ts';
import { ssmCases } from './cases/ssm.ts';
import { switchoverCases } from './cases/switchover.ts';
import { virtualNodeCases } from './cases/virtual-nodes.ts';
import type { Run } from './harness.ts';
import { expectInvariants } from './invariants.ts';

const dynamoEndpoint = sharedDynamoEndpoint();

const run: Run = async (scenario, { invariants = true, ...options } = {}) => {
  const result = await runSimulation(scenario, { ...options, dynamoEndpoint });
  if (invariants) expectInvariants(result, scenario);
  return result;
};

provisioningCases(run);
performanceCases(run);
detectionCases(run);
contentionCases(run);
virtualNodeCases(run);
switchoverCases(run);
controlPlaneCostCases(run);
fencingCases(run);
loadBalancerCases(run);
placementCases(run);
ssmCases(run);
eventCases(run);
reportCases(run);
