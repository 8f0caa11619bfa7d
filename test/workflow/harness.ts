import type { SimulationOptions, SimulationResult } from '../../local/runtime/simulation.ts';
import type { Scenario } from '../../local/scenario.ts';

/** Runs a scenario on the local runtime (shared DynamoDB Local) and checks the invariants; `beforeRun` sees the fleet. */
export type Run = (scenario: Scenario, options?: Omit<SimulationOptions, 'dynamoEndpoint'>) => Promise<SimulationResult>;
