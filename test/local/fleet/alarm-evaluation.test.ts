// The simulated CloudWatch decides alarm states by the rules AWS documents: "Evaluating an alarm"
// and "Configuring how CloudWatch alarms treat missing data" (both tables of "How alarm state is
// evaluated when data is missing" are reproduced row by row, awsdocs/amazon-cloudwatch-user-guide
// doc_source/AlarmThatSendsEmail.md).
import { describe, expect, it } from 'vitest';
import { evaluate, evaluationRange, type AlarmState, type EvaluationRule, type TreatMissingData } from '../../../local/fleet/alarm-evaluation.ts';

/** "0" not breaching, "X" breaching, "-" missing; oldest first, as the pages print them. */
function points(text: string): Array<number | undefined> {
  return text.split(' ').map((c) => (c === 'X' ? 5 : c === '0' ? 1 : undefined));
}

const rule = (m: number, treatMissingData: TreatMissingData): EvaluationRule => ({
  threshold: 3,
  comparison: 'GreaterThanThreshold',
  evaluationPeriods: 3,
  datapointsToAlarm: m,
  treatMissingData,
});

const RETAIN = 'retain';
type Row = [string, AlarmState | typeof RETAIN, AlarmState | typeof RETAIN, AlarmState, AlarmState];

describe('alarm evaluation (CloudWatch "Evaluating an alarm", missing data)', () => {
  it('retrieves more datapoints than N: 5 for N = 3, as in the documented tables', () => {
    expect(evaluationRange({ evaluationPeriods: 3 })).toBe(5);
  });

  // Columns: data points, then MISSING, IGNORE, BREACHING, NOT BREACHING.
  const threeOfThree: Row[] = [
    ['0 - X - X', 'OK', 'OK', 'OK', 'OK'],
    ['0 - - - -', 'OK', 'OK', 'OK', 'OK'],
    ['- - - - -', 'INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK'],
    ['0 X X - X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
    ['- - - - X', 'INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK'],
    ['X - - - -', 'ALARM', RETAIN, 'ALARM', 'OK'],
  ];
  const twoOfThree: Row[] = [
    ['0 - X - X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
    ['0 0 X 0 X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
    ['0 - X - -', 'OK', 'OK', 'ALARM', 'OK'],
    ['- - - - 0', 'OK', 'OK', 'ALARM', 'OK'],
    ['- - - - X', 'INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK'],
  ];
  const treatments: TreatMissingData[] = ['missing', 'ignore', 'breaching', 'notBreaching'];

  for (const [m, table] of [
    [3, threeOfThree],
    [2, twoOfThree],
  ] as const) {
    for (const [data, ...expected] of table) {
      it(`${m} of 3, "${data}": ${expected.join(' / ')} (missing / ignore / breaching / notBreaching)`, () => {
        for (const [i, treatment] of treatments.entries()) {
          for (const current of ['OK', 'ALARM'] as const) {
            const want = expected[i] === RETAIN ? current : expected[i];
            expect(evaluate(points(data), rule(m, treatment), current).state, `${treatment}, was ${current}`).toBe(want);
          }
        }
      });
    }
  }

  it('M of N: the breaching datapoints need not be consecutive; fewer than M is OK', () => {
    const threeOfFive: EvaluationRule = { threshold: 100, comparison: 'LessThanThreshold', evaluationPeriods: 5, datapointsToAlarm: 3, treatMissingData: 'notBreaching' };
    const alarm = evaluate([150, 150, 20, 150, 20, 150, 20], threeOfFive, 'OK');
    expect(alarm).toMatchObject({ state: 'ALARM', breaching: 3, evaluated: 5 });
    expect(alarm.reason).toBe('Threshold Crossed: 3 out of the last 5 datapoints were less than the threshold (100.0) (minimum 3 datapoints for ALARM).');
    expect(evaluate([150, 150, 20, 150, 20, 150, 150], threeOfFive, 'ALARM')).toMatchObject({ state: 'OK', breaching: 2 });
  });

  it('compares with the operator given: at the threshold, >= breaches and > does not', () => {
    const at = [1, 1, 1, 1];
    const base = { threshold: 1, evaluationPeriods: 2, datapointsToAlarm: 2, treatMissingData: 'notBreaching' } as const;
    expect(evaluate(at, { ...base, comparison: 'GreaterThanOrEqualToThreshold' }, 'OK').state).toBe('ALARM');
    expect(evaluate(at, { ...base, comparison: 'GreaterThanThreshold' }, 'OK').state).toBe('OK');
    expect(evaluate(at, { ...base, comparison: 'LessThanOrEqualToThreshold' }, 'OK').state).toBe('ALARM');
    expect(evaluate(at, { ...base, comparison: 'LessThanThreshold' }, 'OK').state).toBe('OK');
  });
});
