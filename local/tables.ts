// Creates the DynamoDB tables a synthesized CloudFormation template declares, in DynamoDB Local,
// so the local runtime uses the very key schemas lib/ deploys.
//
// `AWS::DynamoDB::Table` and `AWS::DynamoDB::GlobalTable` (what CDK's TableV2 synthesizes) are
// both read: key schema, attribute definitions, secondary indexes, streams and TTL. Billing is
// always on demand; replicas, encryption and point-in-time recovery mean nothing locally and are
// ignored.
import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type LocalSecondaryIndex,
  type Projection,
  type StreamViewType,
} from '@aws-sdk/client-dynamodb';

export const TABLE_TYPES = ['AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable'] as const;

export interface CloudFormationTemplate {
  Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown> } | undefined>;
}

export interface CreateTablesOptions {
  /** Table name for a logical id; default: the template's TableName if a plain string, else the logical id. */
  nameFor?: (logicalId: string) => string;
}

export interface LocalTableDefinition {
  logicalId: string;
  input: CreateTableCommandInput;
  /** TTL attribute to enable after creation, if the template enables one. */
  ttlAttribute?: string;
}

/** Reads every table resource of a template into CreateTable inputs (no AWS calls). */
export function tableDefinitionsFromTemplate(template: CloudFormationTemplate, options: CreateTablesOptions = {}): LocalTableDefinition[] {
  const definitions: LocalTableDefinition[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (!resource?.Type || !(TABLE_TYPES as readonly string[]).includes(resource.Type)) continue;
    const props = resource.Properties ?? {};
    const where = `${logicalId} (${resource.Type})`;
    const tableName = options.nameFor?.(logicalId) ?? (typeof props.TableName === 'string' ? props.TableName : generatedName(logicalId));

    const input: CreateTableCommandInput = {
      TableName: tableName,
      KeySchema: keySchema(props.KeySchema, `${where} KeySchema`),
      AttributeDefinitions: attributeDefinitions(props.AttributeDefinitions, where),
      BillingMode: 'PAY_PER_REQUEST',
    };
    const gsis = indexes(props.GlobalSecondaryIndexes, `${where} GlobalSecondaryIndexes`);
    if (gsis.length > 0) input.GlobalSecondaryIndexes = gsis satisfies GlobalSecondaryIndex[];
    const lsis = indexes(props.LocalSecondaryIndexes, `${where} LocalSecondaryIndexes`);
    if (lsis.length > 0) input.LocalSecondaryIndexes = lsis satisfies LocalSecondaryIndex[];
    const stream = record(props.StreamSpecification)?.StreamViewType;
    if (typeof stream === 'string') input.StreamSpecification = { StreamEnabled: true, StreamViewType: stream as StreamViewType };

    const definition: LocalTableDefinition = { logicalId, input };
    const ttl = record(props.TimeToLiveSpecification);
    if (ttl && ttl.Enabled === true && typeof ttl.AttributeName === 'string') definition.ttlAttribute = ttl.AttributeName;
    definitions.push(definition);
  }
  return definitions;
}

/**
 * Creates every table of the template, waits until each is ACTIVE, enables TTL where the template
 * does, and returns logical id → table name.
 */
export async function createTablesFromTemplate(
  client: DynamoDBClient,
  template: CloudFormationTemplate,
  options: CreateTablesOptions = {},
): Promise<Record<string, string>> {
  const definitions = tableDefinitionsFromTemplate(template, options);
  const names = definitions.map((d) => d.input.TableName);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) throw new Error(`two table resources map to the same table name '${duplicate}'; pass options.nameFor`);

  await Promise.all(
    definitions.map(async ({ logicalId, input, ttlAttribute }) => {
      let status: string | undefined;
      try {
        status = (await client.send(new CreateTableCommand(input))).TableDescription?.TableStatus;
      } catch (error) {
        throw new Error(`creating table ${input.TableName} for ${logicalId} failed: ${(error as Error).message}`, { cause: error });
      }
      // DynamoDB Local answers CreateTable with the table ACTIVE already: no DescribeTable then.
      if (status !== 'ACTIVE') await waitUntilActive(client, input.TableName!);
      if (ttlAttribute) {
        await client.send(
          new UpdateTimeToLiveCommand({ TableName: input.TableName, TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true } }),
        );
      }
    }),
  );
  return Object.fromEntries(definitions.map((d) => [d.logicalId, d.input.TableName!]));
}

/** Real DynamoDB answers CreateTable with CREATING; the table takes writes once DescribeTable says ACTIVE. */
async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

/** DynamoDB table names: 3-255 characters of [a-zA-Z0-9_.-]. */
function generatedName(logicalId: string): string {
  const cleaned = logicalId.replace(/[^A-Za-z0-9_.-]/g, '');
  return cleaned.length >= 3 ? cleaned.slice(0, 255) : `${cleaned}___`.slice(0, 3);
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function keySchema(value: unknown, where: string): KeySchemaElement[] {
  if (!Array.isArray(value) || value.length === 0) throw new Error(`${where}: expected a non-empty list`);
  return value.map((element, i) => {
    const e = record(element);
    if (typeof e?.AttributeName !== 'string' || (e.KeyType !== 'HASH' && e.KeyType !== 'RANGE')) {
      throw new Error(`${where}[${i}]: expected { AttributeName: string, KeyType: 'HASH' | 'RANGE' }`);
    }
    return { AttributeName: e.AttributeName, KeyType: e.KeyType };
  });
}

function attributeDefinitions(value: unknown, where: string): AttributeDefinition[] {
  if (!Array.isArray(value) || value.length === 0) throw new Error(`${where} AttributeDefinitions: expected a non-empty list`);
  return value.map((element, i) => {
    const e = record(element);
    if (typeof e?.AttributeName !== 'string' || !['S', 'N', 'B'].includes(e.AttributeType as string)) {
      throw new Error(`${where} AttributeDefinitions[${i}]: expected { AttributeName: string, AttributeType: 'S' | 'N' | 'B' }`);
    }
    return { AttributeName: e.AttributeName, AttributeType: e.AttributeType as 'S' | 'N' | 'B' };
  });
}

function indexes(value: unknown, where: string): Array<{ IndexName: string; KeySchema: KeySchemaElement[]; Projection: Projection }> {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list`);
  return value.map((element, i) => {
    const e = record(element);
    if (typeof e?.IndexName !== 'string') throw new Error(`${where}[${i}]: expected an IndexName`);
    const projection = record(e.Projection);
    return {
      IndexName: e.IndexName,
      KeySchema: keySchema(e.KeySchema, `${where}[${i}].KeySchema`),
      Projection: {
        ProjectionType: (projection?.ProjectionType as Projection['ProjectionType']) ?? 'ALL',
        ...(Array.isArray(projection?.NonKeyAttributes) ? { NonKeyAttributes: projection.NonKeyAttributes as string[] } : {}),
      },
    };
  });
}
