// Every AWS call a handler makes must be allowed by the synthesized IAM policies: a call the
// policy forgot fails only in AWS, never in the local runtime, so it is checked here.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthStack } from './synth.ts';

const FUNCTIONS = new URL('../../functions', import.meta.url).pathname;

const SERVICE_PREFIX: Record<string, string> = {
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-elastic-load-balancing-v2': 'elasticloadbalancing',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-eventbridge': 'events',
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-s3': 's3',
};

/** The document client's commands and the DynamoDB actions they need. */
const DOCUMENT_CLIENT_ACTIONS: Record<string, string[]> = {
  GetCommand: ['dynamodb:GetItem'],
  BatchGetCommand: ['dynamodb:BatchGetItem'],
  QueryCommand: ['dynamodb:Query'],
  ScanCommand: ['dynamodb:Scan'],
  UpdateCommand: ['dynamodb:UpdateItem'],
  DeleteCommand: ['dynamodb:DeleteItem'],
  PutCommand: ['dynamodb:PutItem'],
  TransactWriteCommand: ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** IAM actions for every `new XCommand(` in the handlers, from the module each command is imported from. */
function actionsUsed(): Map<string, string> {
  const used = new Map<string, string>();
  for (const file of sourceFiles(FUNCTIONS)) {
    const text = readFileSync(file, 'utf8');
    for (const [, names, module] of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(@aws-sdk\/[a-z0-9-]+)'/g)) {
      for (const raw of names!.split(',')) {
        const command = raw.trim().replace(/^type\s+/, '');
        if (!command.endsWith('Command') || !new RegExp(`new ${command}\\(`).test(text)) continue;
        const actions = module === '@aws-sdk/lib-dynamodb' ? DOCUMENT_CLIENT_ACTIONS[command] : [`${SERVICE_PREFIX[module!]}:${command.replace(/Command$/, '')}`];
        for (const action of actions ?? [`unmapped:${command}`]) used.set(action, file.slice(FUNCTIONS.length + 1));
      }
    }
  }
  return used;
}

describe('IAM covers the handlers', () => {
  let allowed: Set<string>;

  beforeAll(() => {
    const { template } = synthStack();
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Array<{ Properties: { PolicyDocument: { Statement: Array<{ Action: string | string[]; Effect: string }> } } }>;
    allowed = new Set(policies.flatMap((p) => p.Properties.PolicyDocument.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action].flat())));
  });

  it('finds the AWS calls in functions/ (the scan itself works)', () => {
    const used = actionsUsed();
    expect(used.get('ec2:CreateReplaceRootVolumeTask')).toBe('adapters/root-volume.ts');
    expect(used.get('states:StartExecution')).toBeDefined();
    expect(used.size).toBeGreaterThan(25);
  });

  it('allows every action a handler calls', () => {
    const missing = [...actionsUsed()].filter(([action]) => !allowed.has(action)).map(([action, file]) => `${action} (${file})`);
    expect(missing).toEqual([]);
  });
});
