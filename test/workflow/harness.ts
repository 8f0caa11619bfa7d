import type { SimulationOptions, SimulationResult } from '../../local/runtime/simulation.ts';
import type { Scenario } from '../../local/scenario.ts';

/** Runs a scenario on the local runtime (shared DynamoDB Local) and checks the invariants. */
export type Run = (scenario: Scenario, options?: RunOptions) => Promise<SimulationResult>;

export interface RunOptions extends Omit<SimulationOptions, 'dynamoEndpoint'> {
  /** Check the invariants every run must keep (default true; off only where a test stops a node on purpose and says why). */
  invariants?: boolean;
}
