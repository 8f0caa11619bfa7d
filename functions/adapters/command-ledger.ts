// Where the workflow keeps the SSM commands it sends (A2, A3, C3): one attribute per command on
// the incident's failover record, read with strongly consistent reads. SSM's own listings are
// eventually consistent (a command just sent may not show in ListCommands yet), so a step that
// must never send an install twice cannot rely on finding its command there. The intent is
// written before SendCommand and the CommandId right after it: a step re-entered after a crash
// between the two knows a command may exist and looks for it before sending again.
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RECORDS_TABLE } from '../../core/tables.ts';
import { isConditionFailure } from '../aws-errors.ts';
import { ExpressionBuilder } from './update-expression.ts';
import type { RecordKey } from './records.ts';

export interface CommandEntry {
  instanceId: string;
  /** What the documents are for: 'provision', 'run', 'halt', 'preempt:<app>'... */
  purpose: string;
  /** Position of the document in its list. */
  index: number;
  documentName: string;
  /** When the send was decided, written before SendCommand (ISO time). */
  intentAt: string;
  /** Set once SendCommand answered (or the command was found by its Comment tag). */
  commandId?: string;
  sentAt?: string;
  /** The workflow gave up on the command and asked SSM to cancel it. */
  cancelledAt?: string;
}

export type SentEntry = CommandEntry & { commandId: string; sentAt: string };

export interface CommandLedger {
  /** The entries recorded under these tags. */
  read(tags: readonly string[]): Promise<Map<string, CommandEntry>>;
  /** Every entry of the incident. */
  readAll(): Promise<Map<string, CommandEntry>>;
  /**
   * Records the intent to send. `replacing` is the intentAt of an earlier intent that was never
   * sent (it is superseded); without it, the tag must be new. False: another writer got there first.
   */
  recordIntent(tag: string, entry: CommandEntry, replacing?: string): Promise<boolean>;
  /** Records the command SSM created for the intent. Never replaces another command id. */
  recordSent(tag: string, entry: SentEntry): Promise<void>;
  /** SendCommand answered an error: no command exists, the intent goes. */
  forgetIntent(tag: string, intentAt: string): Promise<void>;
  recordCancelled(tag: string, at: string): Promise<void>;
}

/** Ledger attributes on the failover record: `command#<tag>`. */
export const LEDGER_ATTRIBUTE_PREFIX = 'command#';
const attributeOf = (tag: string) => `${LEDGER_ATTRIBUTE_PREFIX}${tag}`;

/** The ledger of one incident, on its failover record (app, incidentId) in the records table. */
export function recordLedger(ddb: DynamoDBDocumentClient, table: string, record: RecordKey): CommandLedger {
  const Key = { [RECORDS_TABLE.partitionKey]: record.app, [RECORDS_TABLE.sortKey]: record.incidentId };

  const entriesOf = (item: Record<string, unknown> | undefined): Map<string, CommandEntry> => {
    const entries = new Map<string, CommandEntry>();
    for (const [name, value] of Object.entries(item ?? {})) {
      if (name.startsWith(LEDGER_ATTRIBUTE_PREFIX)) entries.set(name.slice(LEDGER_ATTRIBUTE_PREFIX.length), value as CommandEntry);
    }
    return entries;
  };

  /** A conditional update; false when the condition did not hold. */
  const update = async (x: ExpressionBuilder, expression: string, condition: string): Promise<boolean> => {
    try {
      await ddb.send(new UpdateCommand({ TableName: table, Key, UpdateExpression: expression, ConditionExpression: condition, ...x.attributes() }));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  };

  return {
    async read(tags) {
      if (tags.length === 0) return new Map();
      const x = new ExpressionBuilder();
      const projection = tags.map((tag) => x.name(attributeOf(tag))).join(', ');
      const out = await ddb.send(new GetCommand({ TableName: table, Key, ConsistentRead: true, ProjectionExpression: projection, ...x.attributes() }));
      return entriesOf(out.Item);
    },

    async readAll() {
      const out = await ddb.send(new GetCommand({ TableName: table, Key, ConsistentRead: true }));
      return entriesOf(out.Item);
    },

    async recordIntent(tag, entry, replacing) {
      const x = new ExpressionBuilder();
      const attribute = x.name(attributeOf(tag));
      const condition =
        replacing === undefined
          ? `attribute_not_exists(${attribute})`
          : `${attribute}.${x.name('intentAt')} = ${x.value(replacing)} AND attribute_not_exists(${attribute}.${x.name('commandId')})`;
      return update(x, `SET ${attribute} = ${x.value(entry)}`, condition);
    },

    async recordSent(tag, entry) {
      const x = new ExpressionBuilder();
      const attribute = x.name(attributeOf(tag));
      const commandId = x.name('commandId');
      const condition = `attribute_not_exists(${attribute}.${commandId}) OR ${attribute}.${commandId} = ${x.value(entry.commandId)}`;
      if (!(await update(x, `SET ${attribute} = ${x.value(entry)}`, condition))) {
        throw new Error(`command ledger: ${tag} already records another command than ${entry.commandId}`);
      }
    },

    async forgetIntent(tag, intentAt) {
      const x = new ExpressionBuilder();
      const attribute = x.name(attributeOf(tag));
      await update(x, `REMOVE ${attribute}`, `${attribute}.${x.name('intentAt')} = ${x.value(intentAt)} AND attribute_not_exists(${attribute}.${x.name('commandId')})`);
    },

    async recordCancelled(tag, at) {
      const x = new ExpressionBuilder();
      const attribute = x.name(attributeOf(tag));
      await update(x, `SET ${attribute}.${x.name('cancelledAt')} = ${x.value(at)}`, `attribute_exists(${attribute}.${x.name('commandId')})`);
    },
  };
}
