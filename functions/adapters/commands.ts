// SSM Run Command documents run in order on one instance (A2, A3, C3). Each command's id is kept
// in the incident's command ledger (DynamoDB, strongly consistent) from the moment it is sent:
// ListCommands is eventually consistent, so it is only a fallback for the one case the ledger
// cannot answer, a crash between SendCommand and the write that records its id. Commands are
// sent only to an instance whose SSM Agent is Online, and a command the workflow gives up on is
// cancelled.
import { createHash } from 'node:crypto';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type Command,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { SsmDocument } from '../../core/config.ts';
import { sendParameters, type IncidentContext } from '../../core/documents.ts';
import { hasName } from '../aws-errors.ts';
import type { CommandEntry, CommandLedger, SentEntry } from './command-ledger.ts';

export interface DocumentRun {
  instanceId: string;
  documents: readonly SsmDocument[];
  incidentId: string;
  /** What the documents are for on this node: 'provision', 'run', 'halt', 'preempt:<app>'... */
  purpose: string;
  /** Fills `{{rapid-failover.fromNode}}`-style placeholders in parameter values (A16). */
  context?: IncidentContext;
}

/** What running documents needs: SSM, the incident's command ledger and the invocation's clock. */
export interface CommandDeps {
  ssm: SSMClient;
  ledger: CommandLedger;
  now: Date;
  /** An invocation's end the step was resumed with (its event): trusted instead of asking SSM again, when it is a success. */
  ended?: { commandId: string; instanceId: string; status: string } | undefined;
}

/**
 * pending: a command runs (`commandId`, sent at `sentAt`; the workflow gives up on it after
 * `remainingSeconds`: wait for its end event until then), or none could be sent yet (no
 * `commandId`: try again after `retryAfterSeconds`).
 */
export type RunStatus =
  | { status: 'done'; commandIds: string[] }
  | { status: 'pending'; index: number; commandId: string; sentAt: string; remainingSeconds: number; detail: string }
  | { status: 'pending'; index: number; commandId: null; retryAfterSeconds: number; detail: string }
  | { status: 'failed'; index: number; commandId: string; reason: string };

/**
 * No event says when an SSM Agent comes Online after a start or reboot (the Systems Manager
 * event list has only managed-instance registration, deregistration and key updates), so the
 * step looks again this often. ASSUMPTION: a few seconds against a registration that takes tens.
 */
export const AGENT_POLL_SECONDS = 5;
/** Another invocation is sending the document (its intent is recorded): look again shortly. */
export const CONCURRENT_SEND_POLL_SECONDS = 2;

/**
 * SendCommand's TimeoutSeconds: how long SSM tries to deliver the command (it is not a run
 * limit). Commands are sent only to an agent that is Online, so delivery takes seconds; one not
 * picked up within two minutes must not run later, on a node that may be back in the pool by then.
 */
export const DELIVERY_TIMEOUT_SECONDS = 120;
/**
 * How long an intent without a recorded command id waits for ListCommands to show the command
 * before concluding it was never sent. ListCommands lags new commands (eventual consistency;
 * ASSUMPTION: by seconds, AWS publishes no bound): a minute is a wide margin, paid only after a
 * crash between SendCommand and the write of its id.
 */
export const COMMAND_LISTING_LAG_SECONDS = 60;
/** Slack beyond a document's delivery and run limits before the workflow gives up on the command. */
export const COMMAND_GRACE_SECONDS = 60;

/** SSM's Comment is at most 100 characters. */
const COMMENT_MAX = 100;

/** A short, unique token for (incident, purpose, document index, instance): the ledger's key and the Comment's first word. */
export function commandTag(incidentId: string, purpose: string, index: number, instanceId: string): string {
  return `rf-${createHash('sha256').update(`${incidentId}|${purpose}|${index}|${instanceId}`).digest('hex').slice(0, 16)}`;
}

export function commandComment(run: Pick<DocumentRun, 'incidentId' | 'purpose' | 'instanceId'>, index: number): string {
  const tag = commandTag(run.incidentId, run.purpose, index, run.instanceId);
  return `${tag} ${run.purpose}#${index} ${run.incidentId}`.slice(0, COMMENT_MAX);
}

/** Invocation states that have not ended (AWS Systems Manager User Guide, "Understanding command statuses"). */
const RUNNING = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

async function invocationStatus(ssm: SSMClient, commandId: string, instanceId: string): Promise<{ status: string; detail: string }> {
  try {
    const out = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    const detail = [out.StatusDetails, out.StandardErrorContent?.trim()].filter(Boolean).join(': ');
    return { status: out.Status ?? 'Pending', detail };
  } catch (error) {
    // Right after SendCommand the invocation may not be visible yet (eventual consistency).
    if (hasName(error, 'InvocationDoesNotExist')) return { status: 'Pending', detail: 'invocation not visible yet' };
    throw error;
  }
}

/**
 * The SSM Agent's connection as DescribeInstanceInformation reports it: 'Online', another
 * PingStatus, or 'not registered' (not listed: stopped, or the agent never reported).
 */
export async function agentStatus(ssm: SSMClient, instanceId: string): Promise<string> {
  const out = await ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }));
  const info = out.InstanceInformationList?.find((i) => i.InstanceId === instanceId);
  return info?.PingStatus ?? 'not registered';
}

/** The command with this tag in its Comment among the instance's commands sent since `since`, if ListCommands shows it yet. */
async function findByTag(ssm: SSMClient, instanceId: string, tag: string, since: Date): Promise<Command | undefined> {
  // Clock skew between the Lambda and SSM: look a little before the intent.
  const after = new Date(since.getTime() - COMMAND_LISTING_LAG_SECONDS * 1000).toISOString();
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await ssm.send(
      new ListCommandsCommand({ InstanceId: instanceId, Filters: [{ key: 'InvokedAfter', value: after }], NextToken: token, MaxResults: 50 }),
    );
    const found = out.Commands?.find((command) => command.Comment?.split(' ')[0] === tag && command.CommandId);
    if (found) return found;
    token = out.NextToken;
    pages++;
  } while (token && pages < 20);
  return undefined;
}

const secondsBetween = (iso: string, now: Date) => (now.getTime() - Date.parse(iso)) / 1000;

/**
 * Moves the run forward by at most one document: reads what the ledger recorded for each
 * document, sends the first one not sent yet, and reports done / pending / failed. Call again
 * until done. Never sends a document twice for the same incident, purpose and instance.
 */
export async function advanceDocuments(deps: CommandDeps, run: DocumentRun): Promise<RunStatus> {
  if (run.documents.length === 0) return { status: 'done', commandIds: [] };
  const { ssm, ledger, now } = deps;
  const tags = run.documents.map((_, index) => commandTag(run.incidentId, run.purpose, index, run.instanceId));
  const entries = await ledger.read(tags);
  const done: string[] = [];
  for (const [index, document] of run.documents.entries()) {
    const tag = tags[index]!;
    let entry = entries.get(tag);
    if (!entry) return send(deps, run, document, index);
    if (!entry.commandId) {
      // Sent or not? A crash came between the intent and the record of the command id.
      const found = await findByTag(ssm, run.instanceId, tag, new Date(entry.intentAt));
      if (!found) {
        const waited = secondsBetween(entry.intentAt, now);
        if (waited < COMMAND_LISTING_LAG_SECONDS) {
          return {
            status: 'pending',
            index,
            commandId: null,
            retryAfterSeconds: Math.max(1, Math.ceil(COMMAND_LISTING_LAG_SECONDS - waited)),
            detail: `${document.name} may have been sent ${Math.round(waited)} s ago; waiting for SSM to list it before sending again`,
          };
        }
        return send(deps, run, document, index, entry);
      }
      const sent: SentEntry = { ...entry, commandId: found.CommandId!, sentAt: (found.RequestedDateTime ?? new Date(entry.intentAt)).toISOString() };
      await ledger.recordSent(tag, sent);
      entry = sent;
    }
    const commandId = entry.commandId!;
    // The event that resumed the step said it succeeded: no need to ask SSM (GetCommandInvocation).
    const ended = deps.ended?.commandId === commandId && deps.ended.instanceId === run.instanceId && deps.ended.status === 'Success';
    const { status, detail } = ended ? { status: 'Success', detail: '' } : await invocationStatus(ssm, commandId, run.instanceId);
    if (status === 'Success') {
      done.push(commandId);
      continue;
    }
    if (RUNNING.has(status)) {
      const limit = DELIVERY_TIMEOUT_SECONDS + document.timeoutSeconds + COMMAND_GRACE_SECONDS;
      const sentAt = entry.sentAt ?? entry.intentAt;
      const running = secondsBetween(sentAt, now);
      if (running <= limit) return { status: 'pending', index, commandId, sentAt, remainingSeconds: Math.max(1, Math.ceil(limit - running)), detail: `${document.name} ${status}` };
      // The document's own limit, enforced by the workflow for documents without executionTimeout.
      await cancelEntry(deps, tag, entry);
      return failed(run, index, document, commandId, `still ${status} after ${Math.round(running)} s (timeoutSeconds ${document.timeoutSeconds}); cancelled`);
    }
    return failed(run, index, document, commandId, `${status}${detail ? `: ${detail}` : ''}`);
  }
  return { status: 'done', commandIds: done };
}

function failed(run: DocumentRun, index: number, document: SsmDocument, commandId: string, what: string): RunStatus {
  return {
    status: 'failed',
    index,
    commandId,
    reason: `${run.purpose} document ${index + 1} (${document.name}) ${what} on ${run.instanceId}`.slice(0, 1_000),
  };
}

/**
 * Sends one document, once: only to an Online agent, with the intent recorded before SendCommand
 * and the command id right after. `previous`: an intent that was never sent, superseded now.
 */
async function send(deps: CommandDeps, run: DocumentRun, document: SsmDocument, index: number, previous?: CommandEntry): Promise<RunStatus> {
  const { ssm, ledger, now } = deps;
  const later = (detail: string, retryAfterSeconds: number): RunStatus => ({ status: 'pending', index, commandId: null, retryAfterSeconds, detail });
  // After a start or a reboot, SendCommand fails until the agent has registered: wait for Online.
  const agent = await agentStatus(ssm, run.instanceId);
  if (agent !== 'Online') return later(`waiting for the SSM Agent on ${run.instanceId} to come Online (it is ${agent})`, AGENT_POLL_SECONDS);

  const tag = commandTag(run.incidentId, run.purpose, index, run.instanceId);
  const intent: CommandEntry = { instanceId: run.instanceId, purpose: run.purpose, index, documentName: document.name, intentAt: now.toISOString() };
  if (!(await ledger.recordIntent(tag, intent, previous?.intentAt))) return later(`${document.name} is being sent by another invocation`, CONCURRENT_SEND_POLL_SECONDS);

  let commandId: string;
  try {
    const out = await ssm.send(
      new SendCommandCommand({
        InstanceIds: [run.instanceId],
        DocumentName: document.name,
        Parameters: sendParameters(document, run.context),
        TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
        Comment: commandComment(run, index),
      }),
    );
    if (!out.Command?.CommandId) throw new Error(`SendCommand answered no CommandId for ${document.name} on ${run.instanceId}`);
    commandId = out.Command.CommandId;
  } catch (error) {
    // An error answer (4xx) means SSM created no command: the intent goes, the next poll sends afresh.
    if ((error as { $fault?: string }).$fault === 'client') await ledger.forgetIntent(tag, intent.intentAt);
    // The agent dropped between the check and the send (a reboot): poll again.
    if (hasName(error, 'InvalidInstanceId')) return later(`SSM Agent on ${run.instanceId} not ready`, AGENT_POLL_SECONDS);
    throw error;
  }
  await ledger.recordSent(tag, { ...intent, commandId, sentAt: now.toISOString() });
  const limit = DELIVERY_TIMEOUT_SECONDS + document.timeoutSeconds + COMMAND_GRACE_SECONDS;
  return { status: 'pending', index, commandId, sentAt: now.toISOString(), remainingSeconds: limit, detail: `sent ${document.name}` };
}

/** Asks SSM to cancel a recorded command and notes it in the ledger (CancelCommand is best effort in AWS). */
async function cancelEntry(deps: CommandDeps, tag: string, entry: CommandEntry): Promise<void> {
  if (!entry.commandId) return;
  try {
    await deps.ssm.send(new CancelCommandCommand({ CommandId: entry.commandId, InstanceIds: [entry.instanceId] }));
  } catch (error) {
    // Gone already (expired, or never visible): nothing left to cancel.
    if (!hasName(error, 'InvalidCommandId')) throw error;
  }
  await deps.ledger.recordCancelled(tag, deps.now.toISOString());
}

/**
 * The workflow gives up on commands (a step timed out, a node is given up): every recorded
 * command that `which` selects and that has not ended is cancelled. Returns the ids cancelled.
 */
export async function cancelCommands(deps: CommandDeps, which: (entry: CommandEntry) => boolean): Promise<string[]> {
  const cancelled: string[] = [];
  for (const [tag, recorded] of await deps.ledger.readAll()) {
    if (recorded.cancelledAt || !which(recorded)) continue;
    let commandId = recorded.commandId;
    if (!commandId) {
      // A crash after SendCommand left only the intent: the command may exist all the same.
      const found = await findByTag(deps.ssm, recorded.instanceId, tag, new Date(recorded.intentAt));
      if (!found?.CommandId) continue;
      commandId = found.CommandId;
      await deps.ledger.recordSent(tag, { ...recorded, commandId, sentAt: (found.RequestedDateTime ?? new Date(recorded.intentAt)).toISOString() });
    }
    const { status } = await invocationStatus(deps.ssm, commandId, recorded.instanceId);
    if (!RUNNING.has(status) || status === 'Cancelling') continue;
    await cancelEntry(deps, tag, { ...recorded, commandId });
    cancelled.push(commandId);
  }
  return cancelled;
}
