import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { CLAIMS_TABLE, RECORDS_TABLE, STATE_TABLE, TOKENS_TABLE } from '../core/tables.ts';

export interface StateStoreProps {
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The tables: application state and locks, node claims (leases), failover records, and the
 * token store of waiting steps (keyed by what an AWS event carries: a command id, an instance id).
 */
export class StateStore extends Construct {
  public readonly stateTable: dynamodb.TableV2;
  public readonly claimsTable: dynamodb.TableV2;
  public readonly recordsTable: dynamodb.TableV2;
  public readonly tokensTable: dynamodb.TableV2;

  constructor(scope: Construct, id: string, props: StateStoreProps = {}) {
    super(scope, id);
    const common = {
      billing: dynamodb.Billing.onDemand(),
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      deletionProtection: (props.removalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.RETAIN,
    };
    this.stateTable = new dynamodb.TableV2(this, 'StateTable', {
      ...common,
      partitionKey: { name: STATE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
    });
    this.claimsTable = new dynamodb.TableV2(this, 'ClaimsTable', {
      ...common,
      partitionKey: { name: CLAIMS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: CLAIMS_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: CLAIMS_TABLE.ttlAttribute,
    });
    this.recordsTable = new dynamodb.TableV2(this, 'RecordsTable', {
      ...common,
      partitionKey: { name: RECORDS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: RECORDS_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
    });
    // Short-lived items (a token, an event nobody waited for): swept by TTL, nothing to restore.
    this.tokensTable = new dynamodb.TableV2(this, 'TokensTable', {
      ...common,
      partitionKey: { name: TOKENS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TOKENS_TABLE.ttlAttribute,
    });
  }
}
