// Placeholder until the failover engine lands: validates its input, then refuses honestly.
import { NotImplementedError, ValidationError } from '../core/errors.ts';
import { IncidentInputSchema } from '../core/workflow-state.ts';

export function notImplemented(step: string) {
  return async (event: unknown): Promise<never> => {
    const parsed = IncidentInputSchema.loose().safeParse(event);
    if (step !== 'intake' && !parsed.success) throw new ValidationError(`${step}: input is not a workflow state`);
    throw new NotImplementedError(`${step}: not implemented yet`);
  };
}
