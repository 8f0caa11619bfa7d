// IPv4 addresses and CIDR blocks as numbers: enough to ask whether a subnet holds an address
// (a secondary private IP moves only within its subnet, C1). Pure; no AWS imports.

/** '10.0.1.50' → 167772466; null when it is not a dotted-quad IPv4 address. */
export function ipv4ToNumber(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    value = value * 256 + Number(part);
  }
  return value;
}

export function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export interface Ipv4Block {
  /** The network address, as a number. */
  base: number;
  prefixLength: number;
  /** Addresses in the block, network and broadcast addresses included. */
  size: number;
}

/** '10.0.0.0/20' → { base, prefixLength: 20, size: 4096 }; null when malformed or not aligned. */
export function parseCidr(cidr: string): Ipv4Block | null {
  const [address, length] = cidr.split('/');
  const base = address === undefined ? null : ipv4ToNumber(address);
  const prefixLength = Number(length);
  if (base === null || !/^\d{1,2}$/.test(length ?? '') || prefixLength > 32) return null;
  const size = 2 ** (32 - prefixLength);
  return base % size === 0 ? { base, prefixLength, size } : null;
}

export function cidrContains(cidr: string, ip: string): boolean {
  const block = parseCidr(cidr);
  const value = ipv4ToNumber(ip);
  return block !== null && value !== null && value >= block.base && value < block.base + block.size;
}
