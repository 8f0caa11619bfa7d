// A built-in catalogue of common instance types, in DescribeInstanceTypes' shape, with the
// figures AWS publishes (EC2 instance type specifications: vCPUs, memory, accelerators,
// instance store, ENIs and IPv4 addresses per ENI).
import type { InstanceTypeInfo } from '@aws-sdk/client-ec2';

interface TypeSpec {
  vcpu: number;
  threadsPerCore: 1 | 2;
  memoryMiB: number;
  arch: 'x86_64' | 'arm64';
  enis: number;
  ipsPerEni: number;
  burstable?: boolean;
  gpu?: { name: string; manufacturer: string; count: number; memoryMiB: number };
  /** Local NVMe instance store: disks × size in GB. */
  nvme?: { count: number; sizeGB: number };
  inferentia?: { name: string; count: number; cores: number; memoryMiB: number };
}

const SPECS: Record<string, TypeSpec> = {
  't3.medium': { vcpu: 2, threadsPerCore: 2, memoryMiB: 4_096, arch: 'x86_64', enis: 3, ipsPerEni: 6, burstable: true },
  't3.large': { vcpu: 2, threadsPerCore: 2, memoryMiB: 8_192, arch: 'x86_64', enis: 3, ipsPerEni: 12, burstable: true },
  'm7i.large': { vcpu: 2, threadsPerCore: 2, memoryMiB: 8_192, arch: 'x86_64', enis: 3, ipsPerEni: 10 },
  'm7i.xlarge': { vcpu: 4, threadsPerCore: 2, memoryMiB: 16_384, arch: 'x86_64', enis: 4, ipsPerEni: 15 },
  'm7i.2xlarge': { vcpu: 8, threadsPerCore: 2, memoryMiB: 32_768, arch: 'x86_64', enis: 4, ipsPerEni: 15 },
  'm7i.4xlarge': { vcpu: 16, threadsPerCore: 2, memoryMiB: 65_536, arch: 'x86_64', enis: 8, ipsPerEni: 30 },
  'm7i.8xlarge': { vcpu: 32, threadsPerCore: 2, memoryMiB: 131_072, arch: 'x86_64', enis: 8, ipsPerEni: 30 },
  'c7i.xlarge': { vcpu: 4, threadsPerCore: 2, memoryMiB: 8_192, arch: 'x86_64', enis: 4, ipsPerEni: 15 },
  'r7i.xlarge': { vcpu: 4, threadsPerCore: 2, memoryMiB: 32_768, arch: 'x86_64', enis: 4, ipsPerEni: 15 },
  'm7g.large': { vcpu: 2, threadsPerCore: 1, memoryMiB: 8_192, arch: 'arm64', enis: 3, ipsPerEni: 10 },
  'm7g.xlarge': { vcpu: 4, threadsPerCore: 1, memoryMiB: 16_384, arch: 'arm64', enis: 4, ipsPerEni: 15 },
  'c7g.xlarge': { vcpu: 4, threadsPerCore: 1, memoryMiB: 8_192, arch: 'arm64', enis: 4, ipsPerEni: 15 },
  // 1 × NVIDIA A10G with 24 GiB, 1 × 250 GB NVMe SSD.
  'g5.xlarge': {
    vcpu: 4,
    threadsPerCore: 2,
    memoryMiB: 16_384,
    arch: 'x86_64',
    enis: 4,
    ipsPerEni: 15,
    gpu: { name: 'A10G', manufacturer: 'NVIDIA', count: 1, memoryMiB: 24_576 },
    nvme: { count: 1, sizeGB: 250 },
  },
  // 1 × Inferentia2 (2 NeuronCore-v2, 32 GiB device memory).
  'inf2.xlarge': {
    vcpu: 4,
    threadsPerCore: 2,
    memoryMiB: 16_384,
    arch: 'x86_64',
    enis: 4,
    ipsPerEni: 15,
    inferentia: { name: 'Inferentia2', count: 1, cores: 2, memoryMiB: 32_768 },
  },
  // 1 × 937 GB NVMe SSD.
  'i4i.xlarge': { vcpu: 4, threadsPerCore: 2, memoryMiB: 32_768, arch: 'x86_64', enis: 4, ipsPerEni: 15, nvme: { count: 1, sizeGB: 937 } },
};

export const INSTANCE_TYPE_NAMES: readonly string[] = Object.keys(SPECS);

export function isKnownInstanceType(name: string): boolean {
  return Object.hasOwn(SPECS, name);
}

/** Addresses an ENI of this type may hold (primary included), for AssignPrivateIpAddresses. */
export function ipv4AddressesPerInterface(name: string): number {
  return SPECS[name]?.ipsPerEni ?? 15;
}

export function instanceTypeInfo(name: string): InstanceTypeInfo | undefined {
  const spec = SPECS[name];
  if (!spec) return undefined;
  const info: InstanceTypeInfo = {
    InstanceType: name as InstanceTypeInfo['InstanceType'],
    CurrentGeneration: true,
    FreeTierEligible: false,
    SupportedUsageClasses: ['on-demand', 'spot'],
    SupportedRootDeviceTypes: ['ebs'],
    SupportedVirtualizationTypes: ['hvm'],
    BareMetal: false,
    Hypervisor: 'nitro',
    ProcessorInfo: { SupportedArchitectures: [spec.arch] },
    VCpuInfo: {
      DefaultVCpus: spec.vcpu,
      DefaultCores: spec.vcpu / spec.threadsPerCore,
      DefaultThreadsPerCore: spec.threadsPerCore,
    },
    MemoryInfo: { SizeInMiB: spec.memoryMiB },
    InstanceStorageSupported: spec.nvme !== undefined,
    // Nitro exposes EBS volumes as NVMe devices: this is not local NVMe storage (see InstanceStorageInfo).
    EbsInfo: { EbsOptimizedSupport: 'default', EncryptionSupport: 'supported', NvmeSupport: 'required' },
    NetworkInfo: {
      MaximumNetworkInterfaces: spec.enis,
      Ipv4AddressesPerInterface: spec.ipsPerEni,
      Ipv6AddressesPerInterface: spec.ipsPerEni,
      Ipv6Supported: true,
      EnaSupport: 'required',
      EfaSupported: false,
    },
    BurstablePerformanceSupported: spec.burstable === true,
    HibernationSupported: true,
    AutoRecoverySupported: spec.nvme === undefined,
    DedicatedHostsSupported: true,
    SupportedBootModes: spec.arch === 'arm64' ? ['uefi'] : ['legacy-bios', 'uefi'],
  };
  if (spec.nvme) {
    info.InstanceStorageInfo = {
      TotalSizeInGB: spec.nvme.count * spec.nvme.sizeGB,
      Disks: [{ SizeInGB: spec.nvme.sizeGB, Count: spec.nvme.count, Type: 'ssd' }],
      NvmeSupport: 'required',
      EncryptionSupport: 'required',
    };
  }
  if (spec.gpu) {
    info.GpuInfo = {
      Gpus: [{ Name: spec.gpu.name, Manufacturer: spec.gpu.manufacturer, Count: spec.gpu.count, MemoryInfo: { SizeInMiB: spec.gpu.memoryMiB } }],
      TotalGpuMemoryInMiB: spec.gpu.count * spec.gpu.memoryMiB,
    };
  }
  if (spec.inferentia) {
    const { name: deviceName, count, cores, memoryMiB } = spec.inferentia;
    // Current API: NeuronInfo. InferenceAcceleratorInfo is the older field; both are filled so an
    // adapter reading either finds the accelerator.
    info.NeuronInfo = {
      NeuronDevices: [{ Name: deviceName, Count: count, CoreInfo: { Count: cores, Version: 2 }, MemoryInfo: { SizeInMiB: memoryMiB } }],
      TotalNeuronDeviceMemoryInMiB: count * memoryMiB,
    };
    info.InferenceAcceleratorInfo = {
      Accelerators: [{ Name: deviceName, Manufacturer: 'AWS', Count: count, MemoryInfo: { SizeInMiB: memoryMiB } }],
      TotalInferenceMemoryInMiB: count * memoryMiB,
    };
  }
  return info;
}
