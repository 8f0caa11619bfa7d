// Which AWS calls the code makes (every `new XxxCommand(` and the AWS SDK package it is imported
// from) and which calls have contract cases (every `describeCall('service:Operation'`), so a new
// call without a case fails the suite.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** DynamoDB is AWS's own emulator already (DynamoDB Local): no contract case against moto. */
export const OUT_OF_SCOPE_PACKAGES: ReadonlySet<string> = new Set(['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb']);

const SERVICE_NAMES: Record<string, string> = { 'elastic-load-balancing-v2': 'elbv2' };

export interface AwsCall {
  /** `service:Operation`, e.g. `ec2:DescribeInstances`. */
  call: string;
  /** Where it is made: `file:line`. */
  at: string;
}

export interface Unresolved {
  command: string;
  at: string;
  why: string;
}

/** The service key for an AWS SDK client package, or null for a package that is not one. */
export function serviceOf(pkg: string): string | null {
  const match = /^@aws-sdk\/client-(.+)$/.exec(pkg);
  if (!match) return null;
  return SERVICE_NAMES[match[1]!] ?? match[1]!;
}

/** Every `new XxxCommand(` in one source file, with the package each command comes from. */
export function awsCallsIn(source: string, file: string): { calls: AwsCall[]; unresolved: Unresolved[] } {
  const imported = new Map<string, string>();
  const namespaces = new Map<string, string>();
  for (const match of source.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"]([^'"]+)['"]/g)) {
    for (const raw of match[1]!.split(',')) {
      const spec = raw.replace(/^\s*type\s+/, '').trim();
      if (!spec) continue;
      const [name, alias] = spec.split(/\s+as\s+/);
      imported.set((alias ?? name)!.trim(), `${match[2]}#${name!.trim()}`);
    }
  }
  for (const match of source.matchAll(/import\s+\*\s+as\s+(\w+)\s+from\s*['"]([^'"]+)['"]/g)) namespaces.set(match[1]!, match[2]!);

  const calls: AwsCall[] = [];
  const unresolved: Unresolved[] = [];
  for (const match of source.matchAll(/new\s+(?:(\w+)\.)?([A-Z][A-Za-z0-9]*Command)\s*\(/g)) {
    const line = source.slice(0, match.index).split('\n').length;
    const at = `${file}:${line}`;
    const [pkg, exported] = match[1]
      ? [namespaces.get(match[1]), match[2]!]
      : (imported.get(match[2]!)?.split('#') ?? [undefined, match[2]!]);
    if (!pkg) {
      unresolved.push({ command: match[2]!, at, why: 'not imported from a package' });
      continue;
    }
    if (OUT_OF_SCOPE_PACKAGES.has(pkg)) continue;
    const service = serviceOf(pkg);
    if (!service) {
      unresolved.push({ command: match[2]!, at, why: `imported from ${pkg}, not an AWS SDK client package` });
      continue;
    }
    calls.push({ call: `${service}:${exported!.replace(/Command$/, '')}`, at });
  }
  return { calls, unresolved };
}

/** The calls a contract test file has cases for, and which of them moto does not implement. */
export function contractCallsIn(source: string): Array<{ call: string; notCoveredByMoto: boolean }> {
  return [...source.matchAll(/describeCall\(\s*'([a-z0-9-]+:[A-Za-z0-9]+)'\s*(,\s*\{([^}]*)\})?/g)].map((match) => ({
    call: match[1]!,
    notCoveredByMoto: /notCoveredByMoto:\s*true/.test(match[3] ?? ''),
  }));
}

export function sourceFiles(dir: string, root: string, keep: (path: string) => boolean): Array<{ path: string; source: string }> {
  const out: Array<{ path: string; source: string }> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path, root, keep));
    else if (keep(path)) out.push({ path: relative(root, path), source: readFileSync(path, 'utf8') });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}
