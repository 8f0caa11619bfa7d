// How CloudWatch decides an alarm's state from its datapoints, as documented in "Using Amazon
// CloudWatch alarms" → "Evaluating an alarm" and "Configuring how CloudWatch alarms treat missing
// data" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html,
// .../alarms-and-missing-data.html; the same text in awsdocs/amazon-cloudwatch-user-guide,
// doc_source/AlarmThatSendsEmail.md). Pure: datapoints in, state out.
//
// - Period: one datapoint per period. Evaluation Periods (N): the most recent N datapoints.
//   Datapoints to Alarm (M): ALARM when at least M of those N breach; they need not be
//   consecutive ("M out of N").
// - CloudWatch retrieves more datapoints than N, the "evaluation range". If at least N exist, it
//   evaluates the most recent N that exist (the missing-data setting is not needed). If fewer
//   exist, it fills in the missing ones with the setting, as few as possible, and every real
//   datapoint in the range counts. If none exist: missing → INSUFFICIENT_DATA, ignore → the
//   current state, breaching → ALARM, notBreaching → OK.
// - The pages' two tables (N = 3, M = 3 and M = 2, 5 datapoints retrieved) are reproduced in
//   test/local/fleet/alarm-evaluation.test.ts; every row holds.

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type TreatMissingData = 'breaching' | 'notBreaching' | 'ignore' | 'missing';
export type Comparison = 'GreaterThanOrEqualToThreshold' | 'GreaterThanThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';

export interface EvaluationRule {
  threshold: number;
  comparison: Comparison;
  /** N */
  evaluationPeriods: number;
  /** M (≤ N) */
  datapointsToAlarm: number;
  treatMissingData: TreatMissingData;
}

export interface Evaluation {
  state: AlarmState;
  /** How many of the evaluated datapoints breach, and how many were evaluated (filled ones included). */
  breaching: number;
  evaluated: number;
  /** In CloudWatch's words, e.g. "Threshold Crossed: 2 out of the last 2 datapoints were greater than or equal to the threshold (1.0)". */
  reason: string;
}

const WORDS: Record<Comparison, [string, string]> = {
  GreaterThanOrEqualToThreshold: ['greater than or equal to', 'not greater than or equal to'],
  GreaterThanThreshold: ['greater than', 'not greater than'],
  LessThanThreshold: ['less than', 'not less than'],
  LessThanOrEqualToThreshold: ['less than or equal to', 'not less than or equal to'],
};

export function breaches(value: number, rule: Pick<EvaluationRule, 'threshold' | 'comparison'>): boolean {
  switch (rule.comparison) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= rule.threshold;
    case 'GreaterThanThreshold':
      return value > rule.threshold;
    case 'LessThanThreshold':
      return value < rule.threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= rule.threshold;
  }
}

/**
 * How many periods CloudWatch retrieves. ASSUMPTION: N + 2, as in the pages' example (N = 3,
 * 5 datapoints retrieved); the pages say only that it is more than N and depends on the period.
 */
export function evaluationRange(rule: Pick<EvaluationRule, 'evaluationPeriods'>): number {
  return rule.evaluationPeriods + 2;
}

/**
 * The state after one evaluation. `datapoints` covers the evaluation range, oldest first, one per
 * period (undefined: missing); `current` is the state before (kept by `ignore`).
 */
export function evaluate(datapoints: ReadonlyArray<number | undefined>, rule: EvaluationRule, current: AlarmState): Evaluation {
  const N = rule.evaluationPeriods;
  const M = rule.datapointsToAlarm;
  const existing = datapoints.filter((v): v is number => v !== undefined && !Number.isNaN(v));
  const [crossed, notCrossed] = WORDS[rule.comparison];
  const threshold = rule.threshold.toFixed(1);
  const verdict = (breaching: number, evaluated: number, filled: number): Evaluation => {
    const state: AlarmState = breaching >= M ? 'ALARM' : 'OK';
    const fill = filled > 0 ? ` (${filled} missing datapoint(s) treated as ${rule.treatMissingData})` : '';
    const words = state === 'ALARM' ? crossed : notCrossed;
    const count = state === 'ALARM' ? breaching : evaluated - breaching;
    return {
      state,
      breaching,
      evaluated,
      reason: `Threshold Crossed: ${count} out of the last ${evaluated} datapoints ${count === 1 ? 'was' : 'were'} ${words} the threshold (${threshold})${fill} (minimum ${M} datapoint${M === 1 ? '' : 's'} for ALARM).`,
    };
  };
  const count = (values: number[]) => values.filter((v) => breaches(v, rule)).length;

  // Enough real datapoints: the most recent N of them; how missing data is treated does not matter.
  if (existing.length >= N) {
    const recent = existing.slice(-N);
    return verdict(count(recent), N, 0);
  }
  if (existing.length === 0) {
    const reason = `no datapoints in the last ${datapoints.length} periods (missing data treated as ${rule.treatMissingData})`;
    switch (rule.treatMissingData) {
      case 'missing':
        return { state: 'INSUFFICIENT_DATA', breaching: 0, evaluated: 0, reason: `Insufficient Data: ${reason}.` };
      case 'ignore':
        return { state: current, breaching: 0, evaluated: 0, reason: `Unchanged: ${reason}.` };
      case 'breaching':
        return { state: 'ALARM', breaching: N, evaluated: N, reason: `Threshold Crossed: ${reason}.` };
      case 'notBreaching':
        return { state: 'OK', breaching: 0, evaluated: N, reason: `Threshold Crossed: ${reason}.` };
    }
  }
  // Fewer than N: fill in as few missing datapoints as needed, with the setting.
  const filled = N - existing.length;
  if (rule.treatMissingData === 'breaching' || rule.treatMissingData === 'notBreaching') {
    const extra = rule.treatMissingData === 'breaching' ? filled : 0;
    return verdict(count(existing) + extra, N, filled);
  }
  // missing / ignore fill nothing: the real datapoints decide when they can (tables: "0 - X - -"
  // is OK, "- - - - X" with M > 1 is not decided). Undecided: ignore keeps the state; missing is
  // INSUFFICIENT_DATA, except that data which stopped flowing before the last N periods is
  // re-evaluated as it was (table 1, row 6: "X - - - -" is ALARM; the page's note on
  // re-evaluating the last datapoints after the metric stopped).
  const breaching = count(existing);
  if (breaching >= M) return verdict(breaching, existing.length, 0);
  if (breaching < existing.length) return verdict(breaching, existing.length, 0);
  if (rule.treatMissingData === 'ignore') {
    return { state: current, breaching, evaluated: existing.length, reason: `Unchanged: ${breaching} of ${M} breaching datapoints needed, the rest missing (ignore).` };
  }
  const lastN = datapoints.slice(-N);
  if (lastN.every((v) => v === undefined)) return { ...verdict(M, M, 0), reason: `Threshold Crossed: the last datapoints before the metric stopped were ${crossed} the threshold (${threshold}).` };
  return { state: 'INSUFFICIENT_DATA', breaching, evaluated: existing.length, reason: `Insufficient Data: ${breaching} of ${M} breaching datapoints needed, the rest missing.` };
}
