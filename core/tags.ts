// Tag keys, in two kinds that must never overlap. Control tags the workflow writes on pool nodes
// (informational; IAM lets it write exactly these keys and no other). Authorizing tags users set,
// which IAM grants on and which the control plane can therefore never change: each pool's tag
// (config pools[].tag) and MANAGED_TAG_KEY on the application resources outside the pools.
import { SERVING_TAG } from './detection.ts';

export const CONTROL_TAGS = {
  application: 'rapid-failover:application',
  /** `serving` on a node that serves: the status-check alarm's filter (core/detection.ts). */
  role: SERVING_TAG.key,
  incident: 'rapid-failover:incident',
  /** On a virtual-node host: one key per application it hosts, `rapid-failover:app:<app>`. */
  hostedAppPrefix: 'rapid-failover:app:',
} as const;

/** The control tag keys as IAM matches them (StringLike on aws:TagKeys). */
export const CONTROL_TAG_KEY_PATTERNS: readonly string[] = [
  CONTROL_TAGS.application,
  CONTROL_TAGS.role,
  CONTROL_TAGS.incident,
  `${CONTROL_TAGS.hostedAppPrefix}*`,
];

/**
 * Users tag every resource outside the pools that the control plane may act on with this key
 * (any value; the application's name reads best): an application's own nodes (preferred and
 * possible) and their network interfaces, its target groups, Elastic IP, isolation security
 * group, its own SSM documents, its AMI and its EBS KMS key. IAM checks that the key is present,
 * so the policies do not grow with the number of applications (README, "Tagging conventions").
 */
export const MANAGED_TAG_KEY = 'rapid-failover:managed';

/** True when the control plane writes this key: it cannot serve as a pool tag. */
export function isControlTagKey(key: string): boolean {
  return CONTROL_TAG_KEY_PATTERNS.some((pattern) => (pattern.endsWith('*') ? key.startsWith(pattern.slice(0, -1)) : key === pattern));
}
