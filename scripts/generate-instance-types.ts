// Writes local/fleet/instance-types.generated.json, the simulated fleet's instance-type
// catalogue, from the DescribeInstanceTypes data that the Python package moto ships
// (moto/ec2/resources/instance_types.json.gz, Apache-2.0: AWS's own output for every type).
//   npx tsx scripts/generate-instance-types.ts          write the file
//   npx tsx scripts/generate-instance-types.ts --check  exit 1 if the committed file differs
// python3 is asked only where moto is installed and which version it is; the gzip is read here.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const INSTANCE_TYPES_FILE = fileURLToPath(new URL('../local/fleet/instance-types.generated.json', import.meta.url));

type Json = Record<string, unknown>;

/** The parts of DescribeInstanceTypes' InstanceTypeInfo the simulator serves (the adapters read a few of them). */
const KEPT: Record<string, true | readonly string[]> = {
  InstanceType: true,
  CurrentGeneration: true,
  SupportedRootDeviceTypes: true,
  SupportedVirtualizationTypes: true,
  SupportedBootModes: true,
  BareMetal: true,
  Hypervisor: true,
  BurstablePerformanceSupported: true,
  ProcessorInfo: ['SupportedArchitectures'],
  VCpuInfo: ['DefaultVCpus', 'DefaultCores', 'DefaultThreadsPerCore'],
  MemoryInfo: true,
  InstanceStorageSupported: true,
  InstanceStorageInfo: true,
  NetworkInfo: ['MaximumNetworkInterfaces', 'Ipv4AddressesPerInterface', 'EfaSupported', 'EfaInfo'],
  GpuInfo: true,
  InferenceAcceleratorInfo: true,
  NeuronInfo: true,
};

/** GPU entries carry workload hints and partition sizes the simulator has no use for. */
const GPU_KEPT = ['Name', 'Manufacturer', 'Count', 'MemoryInfo'];

function pick(source: Json, keys: readonly string[]): Json {
  return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}

function trim(info: Json): Json {
  const out: Json = {};
  for (const [key, rule] of Object.entries(KEPT)) {
    const value = info[key];
    if (value === undefined) continue;
    out[key] = rule === true ? value : pick(value as Json, rule);
  }
  const gpu = out.GpuInfo as { Gpus?: Json[] } | undefined;
  if (gpu?.Gpus) out.GpuInfo = { ...gpu, Gpus: gpu.Gpus.map((g) => pick(g, GPU_KEPT)) };
  return out;
}

function moto(): { dataFile: string; version: string } {
  const out = execFileSync(
    'python3',
    ['-c', 'import importlib.metadata as m, moto, os; print(os.path.dirname(moto.__file__)); print(m.version("moto"))'],
    { encoding: 'utf8' },
  );
  const [dir, version] = out.trim().split('\n');
  if (!dir || !version) throw new Error(`python3 did not say where moto is: ${out}`);
  return { dataFile: join(dir, 'ec2', 'resources', 'instance_types.json.gz'), version };
}

/** The file's exact text: a header object, then one instance type per line (readable diffs). */
export function instanceTypesText(): string {
  const { dataFile, version } = moto();
  const all = JSON.parse(gunzipSync(readFileSync(dataFile)).toString('utf8')) as Record<string, Json>;
  const types = Object.keys(all)
    .sort()
    .map((name) => trim(all[name]!));
  const header = {
    source: `moto ${version}, moto/ec2/resources/instance_types.json.gz: AWS EC2 DescribeInstanceTypes output`,
    license: 'Apache-2.0 (moto, https://github.com/getmoto/moto)',
    generatedBy: 'npx tsx scripts/generate-instance-types.ts (do not edit by hand)',
    count: types.length,
  };
  return `{\n"about": ${JSON.stringify(header)},\n"instanceTypes": [\n${types.map((t) => JSON.stringify(t)).join(',\n')}\n]\n}\n`;
}

function main(args: string[]): number {
  const text = instanceTypesText();
  if (args.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(INSTANCE_TYPES_FILE, 'utf8');
    } catch {
      // missing: reported below as out of date
    }
    if (committed === text) return 0;
    process.stderr.write(`${INSTANCE_TYPES_FILE} is out of date; run: npx tsx scripts/generate-instance-types.ts\n`);
    return 1;
  }
  writeFileSync(INSTANCE_TYPES_FILE, text);
  process.stdout.write(`wrote ${INSTANCE_TYPES_FILE}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
