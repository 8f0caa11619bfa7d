// SSM Run Command documents run in order on one instance (A2, A3, C3). Nothing is kept in
// memory between polls: every command carries a deterministic Comment, so a retried step
// finds what it started with ListCommands and never sends a document twice.
import { createHash } from 'node:crypto';
import {
  GetCommandInvocationCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type Command,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { SsmDocument } from '../../core/config.ts';
import { withIncidentContext, type IncidentContext } from '../../core/documents.ts';
import { hasName } from '../aws-errors.ts';

export interface DocumentRun {
  instanceId: string;
  documents: readonly SsmDocument[];
  incidentId: string;
  /** What the documents are for on this node: 'provision', 'run', 'halt', 'preempt:<app>'... */
  purpose: string;
  /** Fills `{{rapid-failover.fromNode}}`-style placeholders in parameter values (A16). */
  context?: IncidentContext;
}

export type RunStatus =
  | { status: 'done'; commandIds: string[] }
  | { status: 'pending'; index: number; commandId: string | null; detail: string }
  | { status: 'failed'; index: number; commandId: string; reason: string };

/** SSM's Comment is at most 100 characters. */
const COMMENT_MAX = 100;

/** A short, unique token for (incident, purpose, document index, instance): what ListCommands is matched on. */
export function commandTag(incidentId: string, purpose: string, index: number, instanceId: string): string {
  return `rf-${createHash('sha256').update(`${incidentId}|${purpose}|${index}|${instanceId}`).digest('hex').slice(0, 16)}`;
}

export function commandComment(run: DocumentRun, index: number): string {
  const tag = commandTag(run.incidentId, run.purpose, index, run.instanceId);
  return `${tag} ${run.purpose}#${index} ${run.incidentId}`.slice(0, COMMENT_MAX);
}

/** Commands on the instance whose Comment carries one of our tags, newest first (as SSM lists them). */
async function findCommands(ssm: SSMClient, instanceId: string, tags: ReadonlySet<string>): Promise<Map<string, Command>> {
  const found = new Map<string, Command>();
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await ssm.send(new ListCommandsCommand({ InstanceId: instanceId, NextToken: token, MaxResults: 50 }));
    for (const command of out.Commands ?? []) {
      const tag = command.Comment?.split(' ')[0];
      if (tag && tags.has(tag) && !found.has(tag)) found.set(tag, command);
    }
    token = out.NextToken;
    pages++;
  } while (token && found.size < tags.size && pages < 20);
  return found;
}

const RUNNING = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

async function invocationStatus(ssm: SSMClient, commandId: string, instanceId: string): Promise<{ status: string; detail: string }> {
  try {
    const out = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    const detail = [out.StatusDetails, out.StandardErrorContent?.trim()].filter(Boolean).join(': ');
    return { status: out.Status ?? 'Pending', detail };
  } catch (error) {
    // Right after SendCommand the invocation may not be visible yet.
    if (hasName(error, 'InvocationDoesNotExist')) return { status: 'Pending', detail: 'invocation not visible yet' };
    throw error;
  }
}

/**
 * Moves the run forward by at most one document: finds each document's command, sends the
 * first one not sent yet, and reports done / pending / failed. Call again until done.
 */
export async function advanceDocuments(ssm: SSMClient, run: DocumentRun): Promise<RunStatus> {
  if (run.documents.length === 0) return { status: 'done', commandIds: [] };
  const tags = run.documents.map((_, index) => commandTag(run.incidentId, run.purpose, index, run.instanceId));
  const existing = await findCommands(ssm, run.instanceId, new Set(tags));
  const done: string[] = [];
  for (const [index, document] of run.documents.entries()) {
    const command = existing.get(tags[index]!);
    if (!command?.CommandId) {
      const sent = await sendDocument(ssm, run, document, index);
      if ('notReady' in sent) return { status: 'pending', index, commandId: null, detail: sent.notReady };
      return { status: 'pending', index, commandId: sent.commandId, detail: `sent ${document.name}` };
    }
    const { status, detail } =
      command.Status === 'Success' ? { status: 'Success', detail: '' } : await invocationStatus(ssm, command.CommandId, run.instanceId);
    if (status === 'Success') {
      done.push(command.CommandId);
      continue;
    }
    if (RUNNING.has(status)) return { status: 'pending', index, commandId: command.CommandId, detail: `${document.name} ${status}` };
    return {
      status: 'failed',
      index,
      commandId: command.CommandId,
      reason: `${run.purpose} document ${index + 1} (${document.name}) ${status} on ${run.instanceId}${detail ? `: ${detail}` : ''}`.slice(0, 1_000),
    };
  }
  return { status: 'done', commandIds: done };
}

async function sendDocument(ssm: SSMClient, run: DocumentRun, document: SsmDocument, index: number): Promise<{ commandId: string } | { notReady: string }> {
  try {
    const out = await ssm.send(
      new SendCommandCommand({
        InstanceIds: [run.instanceId],
        DocumentName: document.name,
        Parameters: run.context ? withIncidentContext(document.parameters, run.context) : document.parameters,
        TimeoutSeconds: document.timeoutSeconds,
        Comment: commandComment(run, index),
      }),
    );
    return { commandId: out.Command?.CommandId ?? 'unknown' };
  } catch (error) {
    // The SSM agent is not registered yet (instance just started or rebooted): poll again.
    if (hasName(error, 'InvalidInstanceId')) return { notReady: `SSM agent on ${run.instanceId} not ready` };
    throw error;
  }
}
