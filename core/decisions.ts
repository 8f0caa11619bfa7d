// The workflow's decisions, as pure functions: retry or alert (A13), damping, fail over
// again or stop (A15), the last possible node (C7), alert texts, and M-of-N thresholds (A10).
import type { Application, PerformanceDetection } from './config.ts';
import type { Alert, Outcome, TriggerKind } from './workflow-state.ts';

export interface AttemptCount {
  /** 1-based: how many node claims this incident has tried so far. */
  attempt: number;
  maxAttempts: number;
}

/** A13: the claimed node did not come online; try another node until maxAttempts nodes were tried. */
export function afterNodeFailure({ attempt, maxAttempts }: AttemptCount): 'retry' | 'alert' {
  return attempt < maxAttempts ? 'retry' : 'alert';
}

export type DampingPolicy = Pick<Application['policy'], 'cooldownSeconds' | 'flapWindowSeconds' | 'maxFailoversPerWindow'>;

export interface FailoverHistoryEntry {
  /** ISO timestamp the incident started. */
  startedAt: string;
  /** Null while the incident is still running. */
  outcome: Outcome | null;
}

export interface DampingInput {
  now: Date;
  policy: DampingPolicy;
  history: readonly FailoverHistoryEntry[];
  trigger: TriggerKind;
}

export type DampingVerdict = { allowed: true } | { allowed: false; reason: string; /** ISO time from which a failover would be allowed. */ retryAt: string };

/** Outcomes that moved the application to another node: the only ones that can flap. */
const NODE_CHANGES: readonly Outcome[] = ['failed-over', 'switched-over'];

/**
 * Cooldown and flap damping. An operator switchover is a deliberate move and bypasses both.
 */
export function checkDamping({ now, policy, history, trigger }: DampingInput): DampingVerdict {
  if (trigger === 'switchover') return { allowed: true };
  const changes = nodeChangeTimes(history);
  const blocks = [cooldownBlock(now, policy, changes), flapBlock(now, policy, changes)].filter((b) => b !== null);
  if (blocks.length === 0) return { allowed: true };
  const retryAt = Math.max(...blocks.map((b) => b.retryAt));
  return { allowed: false, reason: blocks.map((b) => b.reason).join('; '), retryAt: new Date(retryAt).toISOString() };
}

interface Block {
  reason: string;
  retryAt: number;
}

/** Epoch milliseconds of past node changes, oldest first. Unparsable timestamps are skipped. */
function nodeChangeTimes(history: readonly FailoverHistoryEntry[]): number[] {
  return history
    .filter((entry) => entry.outcome !== null && NODE_CHANGES.includes(entry.outcome))
    .map((entry) => Date.parse(entry.startedAt))
    .filter((time) => !Number.isNaN(time))
    .sort((a, b) => a - b);
}

function cooldownBlock(now: Date, policy: DampingPolicy, changes: readonly number[]): Block | null {
  const last = changes.at(-1);
  if (last === undefined) return null;
  const retryAt = last + policy.cooldownSeconds * 1_000;
  if (now.getTime() >= retryAt) return null;
  const left = Math.ceil((retryAt - now.getTime()) / 1_000);
  return {
    reason: `cooldown: last failover started ${new Date(last).toISOString()}, ${left} s of the ${policy.cooldownSeconds} s cooldown left`,
    retryAt,
  };
}

function flapBlock(now: Date, policy: DampingPolicy, changes: readonly number[]): Block | null {
  const windowMs = policy.flapWindowSeconds * 1_000;
  const inWindow = changes.filter((time) => now.getTime() - time < windowMs);
  if (inWindow.length < policy.maxFailoversPerWindow) return null;
  // Allowed again once enough of the oldest ones have left the window.
  const mustExpire = inWindow[inWindow.length - policy.maxFailoversPerWindow] ?? now.getTime();
  return {
    reason: `flap damping: ${inWindow.length} failovers in the last ${policy.flapWindowSeconds} s (at most ${policy.maxFailoversPerWindow})`,
    retryAt: mustExpire + windowMs,
  };
}

export interface VerifyInput extends AttemptCount {
  trigger: TriggerKind;
  /** Performance on the new node is still below the threshold after settling. */
  stillDegraded: boolean;
}

/** A15: still slow on the new node after a performance failover: move on to a third node, while attempts remain. */
export function afterVerify({ trigger, stillDegraded, attempt, maxAttempts }: VerifyInput): 'done' | 'failover-again' {
  return trigger === 'performance' && stillDegraded && attempt < maxAttempts ? 'failover-again' : 'done';
}

/** C7: the node is the last one in the application's sequenced list of possible nodes. */
export function lastPossibleNodeReached(app: Application, nodeId: string): boolean {
  const { possibleNodes } = app.placement;
  return possibleNodes.length > 0 && possibleNodes.at(-1) === nodeId;
}

export type AlertKind = Alert['kind'];

export interface AlertDetails {
  app: string;
  incidentId: string;
  trigger: TriggerKind;
  /** The node the alert is about: the one claimed, quarantined or last in the list. */
  node?: string;
  /** Where the application runs now, if anywhere. */
  currentNode?: string | null;
  /** What went wrong, in words: a selection summary, an error message. */
  reason?: string;
  /** Nodes tried in this incident. */
  triedNodes?: readonly string[];
}

// Amazon SNS API Reference, Publish (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html),
// Subject: "Subjects must be UTF-8 text with no line breaks or control characters, and less than
// 100 characters long." A longer subject is InvalidParameterException: the alert would be lost.
const SUBJECT_MAX = 99;

/** An administrator alert: what happened, then what to do about it. */
export function describeAlert(kind: AlertKind, details: AlertDetails): Alert {
  const text = ALERT_TEXTS[kind](details);
  const message = [
    text.happened,
    details.reason ? `Details: ${details.reason}` : null,
    `Where it runs now: ${details.currentNode ?? 'no node (the application may be down)'}.`,
    `Incident ${details.incidentId}, ${details.trigger} trigger.`,
    `What to do: ${text.todo}`,
  ]
    .filter((line) => line !== null)
    .join('\n');
  return { kind, subject: truncate(`rapid-failover: ${details.app}: ${text.title}`, SUBJECT_MAX), message };
}

interface AlertText {
  title: string;
  happened: string;
  todo: string;
}

const ALERT_TEXTS: Record<AlertKind, (d: AlertDetails) => AlertText> = {
  'no-eligible-node': (d) => ({
    title: 'no eligible node to fail over to',
    happened: `No pool node is eligible to take over ${d.app}, so it was not moved.`,
    todo: `free or add pool capacity that meets ${d.app}'s requirements (or clear quarantined nodes), check the application on its current node, then start a switchover from the operator CLI.`,
  }),
  'attempts-exhausted': (d) => ({
    title: 'failover failed on every node tried',
    happened: `Failover of ${d.app} failed on ${d.triedNodes?.length ?? 'all'} node(s) tried${formatList(d.triedNodes)}; no more attempts are made for this incident.`,
    todo: `read the provisioning errors in the execution history, fix the provisioning documents or boot image, clear the quarantine of the nodes tried once they are fixed, then start a switchover from the operator CLI.`,
  }),
  'last-possible-node': (d) => ({
    title: 'running on its last possible node',
    happened: `${d.app} now runs on ${d.node ?? 'the last node'} of its possible nodes: automatic switching is disabled until it moves back (C7).`,
    todo: `repair the preferred node or extend placement.possibleNodes, then switch ${d.app} back with an operator switchover.`,
  }),
  quarantine: (d) => ({
    title: d.node ? `node ${d.node} quarantined` : 'a pool node was quarantined',
    happened: `Node ${d.node ?? '(unknown)'} was set aside while failing over ${d.app}; it will not be selected again until released.`,
    todo: `inspect the node (console output, SSM command output), repair or replace it, then clear its quarantine so it returns to the pool.`,
  }),
  'shift-failed': (d) => ({
    title: 'traffic could not be moved',
    happened: `Traffic for ${d.app} could not be shifted to ${d.node ?? 'the new node'}; the new node was taken out of the cluster again.`,
    todo: `check the target groups' health checks and the logical address (Elastic IP / secondary IP), confirm clients reach ${d.app}, then retry with an operator switchover.`,
  }),
  'workflow-error': (d) => ({
    title: 'failover workflow stopped with an error',
    happened: `The failover workflow for ${d.app} stopped unexpectedly; its work may be incomplete.`,
    todo: `open the execution named ${d.incidentId} in Step Functions, check which step failed, confirm ${d.app} is served and that no node is left claimed, then start a switchover if needed.`,
  }),
};

function formatList(items: readonly string[] | undefined): string {
  return items && items.length > 0 ? ` (${items.join(', ')})` : '';
}

/** At most `max` UTF-16 units (so at most `max` characters however they are counted), never cutting a character in two. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let kept = '';
  for (const character of text) {
    if (kept.length + character.length > max - 1) break;
    kept += character;
  }
  return `${kept}…`;
}

export interface ThresholdEvaluation {
  breaching: boolean;
  /** Bad datapoints among the last evaluationPeriods. */
  badDatapoints: number;
}

/**
 * A10: performance is below par when at least datapointsToAlarm of the last evaluationPeriods
 * datapoints (oldest first) are bad. A missing datapoint (NaN) is never bad.
 */
export function evaluateThreshold(performance: PerformanceDetection, datapoints: readonly number[]): ThresholdEvaluation {
  const recent = datapoints.slice(-performance.evaluationPeriods);
  const badDatapoints = recent.filter((value) => isBad(value, performance)).length;
  return { breaching: badDatapoints >= performance.datapointsToAlarm, badDatapoints };
}

function isBad(value: number, { comparison, threshold }: PerformanceDetection): boolean {
  switch (comparison) {
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
  }
}
