// A16: an application resumes its checkpointed state on the new node with its own tooling;
// its documents learn where from through placeholders in their parameter values.
import { documentBaseName, EXECUTION_TIMEOUT_DOCUMENTS, type SsmDocument } from './config.ts';

/** What a document may refer to: `{{rapid-failover.fromNode}}` and the like. */
export interface IncidentContext {
  app: string;
  incidentId: string;
  /** The node the application is leaving (where its last checkpoint was taken), or ''. */
  fromNode: string | null;
  /** The node being provisioned for it. */
  toNode: string;
}

const PLACEHOLDER = /\{\{rapid-failover\.(app|incidentId|fromNode|toNode)\}\}/g;

/** The document's parameters with every placeholder replaced; other text is left as written. */
export function withIncidentContext(parameters: SsmDocument['parameters'], context: IncidentContext): SsmDocument['parameters'] {
  const fill = (value: string) => value.replace(PLACEHOLDER, (_, key: keyof IncidentContext) => context[key] ?? '');
  return Object.fromEntries(Object.entries(parameters).map(([name, values]) => [name, values.map(fill)]));
}

/**
 * The Parameters SendCommand gets for a document: its own, with the incident placeholders filled
 * and, for AWS-RunShellScript / AWS-RunPowerShellScript, `timeoutSeconds` as executionTimeout
 * (SendCommand's TimeoutSeconds only bounds delivery: AWS Systems Manager User Guide,
 * "Understanding command timeout values"). Other documents get no extra parameter: they may not
 * declare executionTimeout, and SendCommand rejects undeclared ones; the workflow enforces
 * `timeoutSeconds` for them by cancelling the command.
 */
export function sendParameters(document: SsmDocument, context?: IncidentContext): SsmDocument['parameters'] {
  const parameters = context ? withIncidentContext(document.parameters, context) : { ...document.parameters };
  if (EXECUTION_TIMEOUT_DOCUMENTS.has(documentBaseName(document.name))) parameters.executionTimeout = [String(document.timeoutSeconds)];
  return parameters;
}
