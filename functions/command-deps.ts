// The SSM command context of a step: its client, the incident's command ledger (on the failover
// record) and the invocation's clock.
import type { RecordKey } from './adapters/records.ts';
import { recordLedger } from './adapters/command-ledger.ts';
import type { CommandDeps } from './adapters/commands.ts';
import type { StepContext } from './step.ts';
import { endedCommand } from './waits.ts';

export function commandDeps(ctx: StepContext, incident: RecordKey): CommandDeps {
  return { ssm: ctx.deps.ssm, ledger: recordLedger(ctx.deps.ddb, ctx.deps.env.tables.records, incident), now: ctx.now, ended: endedCommand(ctx.resumed) };
}
