// DynamoDB Local: starts on loopback, does what the control plane relies on (conditional writes,
// transactions), takes tables from a template, and leaves nothing behind when stopped.
// One instance for the whole file (startup costs seconds); the stop test runs last.
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CLIENT_CONFIG, startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local.ts';
import { createTablesFromTemplate, tableDefinitionsFromTemplate, type CloudFormationTemplate } from '../../local/tables.ts';

let db: DynamoDbLocal;
let client: DynamoDBClient;

beforeAll(async () => {
  db = await startDynamoDbLocal();
  client = new DynamoDBClient({ ...LOCAL_CLIENT_CONFIG, endpoint: db.endpoint });
  console.info(`DynamoDB Local answered ${db.startupMs} ms after spawn (pid ${db.pid}, port ${db.port})`);
});

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

/** Resolves true if something accepts a TCP connection there, false if refused or unreachable. */
function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

const LOCKS = 'locks';

describe('DynamoDB Local', () => {
  it('listens on 127.0.0.1 only', async () => {
    expect(db.endpoint).toBe(`http://127.0.0.1:${db.port}`);
    expect(db.loopbackOnly).toBe(true);
    expect(await canConnect('127.0.0.1', db.port)).toBe(true);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal);
    // On a machine with a non-loopback address, that address must not reach the emulator.
    expect(external ? await canConnect(external.address, db.port) : false).toBe(false);
  });

  it('rejects a second writer of the same item with ConditionalCheckFailedException', async () => {
    await client.send(
      new CreateTableCommand({
        TableName: LOCKS,
        KeySchema: [{ AttributeName: 'app', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'app', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const claim = (holder: string) =>
      client.send(
        new PutItemCommand({
          TableName: LOCKS,
          Item: { app: { S: 'web' }, holder: { S: holder } },
          ConditionExpression: 'attribute_not_exists(app)',
        }),
      );

    await claim('first');
    const second = claim('second');

    await expect(second).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await expect(second).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    const { Item } = await client.send(new GetItemCommand({ TableName: LOCKS, Key: { app: { S: 'web' } }, ConsistentRead: true }));
    expect(Item?.holder?.S).toBe('first');
  });

  it('applies TransactWriteItems all or nothing', async () => {
    const put = (app: string, condition?: string) => ({
      Put: { TableName: LOCKS, Item: { app: { S: app }, holder: { S: 'tx' } }, ...(condition ? { ConditionExpression: condition } : {}) },
    });

    await client.send(new TransactWriteItemsCommand({ TransactItems: [put('api'), put('db')] }));
    const failing = client.send(
      new TransactWriteItemsCommand({ TransactItems: [put('batch'), put('web', 'attribute_not_exists(app)')] }),
    );

    await expect(failing).rejects.toBeInstanceOf(TransactionCanceledException);
    const get = async (app: string) => (await client.send(new GetItemCommand({ TableName: LOCKS, Key: { app: { S: app } } }))).Item;
    expect((await get('api'))?.holder?.S).toBe('tx');
    expect((await get('db'))?.holder?.S).toBe('tx');
    expect(await get('batch')).toBeUndefined();
  });
});

const TEMPLATE: CloudFormationTemplate = {
  Resources: {
    // What CDK's TableV2 synthesizes (abridged from a real synth).
    ClaimsE8D96B24: {
      Type: 'AWS::DynamoDB::GlobalTable',
      Properties: {
        AttributeDefinitions: [
          { AttributeName: 'nodeId', AttributeType: 'S' },
          { AttributeName: 'holder', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        GlobalSecondaryIndexes: [{ IndexName: 'byHolder', KeySchema: [{ AttributeName: 'holder', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
        KeySchema: [
          { AttributeName: 'nodeId', KeyType: 'HASH' },
          { AttributeName: 'holder', KeyType: 'RANGE' },
        ],
        Replicas: [{ Region: { Ref: 'AWS::Region' }, GlobalSecondaryIndexes: [{ IndexName: 'byHolder' }] }],
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      },
    },
    State1C20CC9A: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'rapid-failover-state',
        AttributeDefinitions: [{ AttributeName: 'app', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'app', KeyType: 'HASH' }],
        ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
      },
    },
    Topic: { Type: 'AWS::SNS::Topic', Properties: {} },
  },
};

describe('tables from a CloudFormation template', () => {
  it('reads Table and GlobalTable resources into on-demand CreateTable inputs', () => {
    const definitions = tableDefinitionsFromTemplate(TEMPLATE);

    expect(definitions.map((d) => d.logicalId)).toEqual(['ClaimsE8D96B24', 'State1C20CC9A']);
    const [claims, state] = definitions;
    expect(claims?.input).toMatchObject({
      TableName: 'ClaimsE8D96B24',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'nodeId', KeyType: 'HASH' },
        { AttributeName: 'holder', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [{ IndexName: 'byHolder', Projection: { ProjectionType: 'ALL' } }],
    });
    expect(claims?.ttlAttribute).toBe('ttl');
    expect(state?.input.TableName).toBe('rapid-failover-state');
    expect(state?.input.BillingMode).toBe('PAY_PER_REQUEST');
    expect(state?.ttlAttribute).toBeUndefined();
  });

  it('creates the tables in DynamoDB Local, with TTL, and maps logical ids to names', async () => {
    const names = await createTablesFromTemplate(client, TEMPLATE, { nameFor: (id) => `t1-${id}` });

    expect(names).toEqual({ ClaimsE8D96B24: 't1-ClaimsE8D96B24', State1C20CC9A: 't1-State1C20CC9A' });
    const { Table } = await client.send(new DescribeTableCommand({ TableName: 't1-ClaimsE8D96B24' }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'nodeId', KeyType: 'HASH' },
      { AttributeName: 'holder', KeyType: 'RANGE' },
    ]);
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['byHolder']);
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: 't1-ClaimsE8D96B24' }));
    expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: 'ttl', TimeToLiveStatus: 'ENABLED' });
  });

  it('refuses a template whose key schema is not a list', () => {
    const broken: CloudFormationTemplate = {
      Resources: { Bad: { Type: 'AWS::DynamoDB::Table', Properties: { KeySchema: { 'Fn::GetAtt': ['x', 'y'] }, AttributeDefinitions: [] } } },
    };

    expect(() => tableDefinitionsFromTemplate(broken)).toThrow(/Bad \(AWS::DynamoDB::Table\) KeySchema/);
  });
});

describe('stopping DynamoDB Local', () => {
  it('kills the java process and closes the port', async () => {
    const { pid, port } = db;

    await db.stop();
    await db.stop(); // a second stop is harmless

    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(await canConnect('127.0.0.1', port)).toBe(false);
  });
});
