// Real SDK clients wired to a simulated fleet, as the local runtime builds them.
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { attachFleet, SimulatedFleet, type FleetOptions } from '../../../local/fleet/index.ts';

const config = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };

export function clientsFor(fleet: SimulatedFleet) {
  return {
    ec2: attachFleet(new EC2Client(config), fleet),
    ssm: attachFleet(new SSMClient(config), fleet),
    elb: attachFleet(new ElasticLoadBalancingV2Client(config), fleet),
    sns: attachFleet(new SNSClient(config), fleet),
    events: attachFleet(new EventBridgeClient(config), fleet),
    cloudwatch: attachFleet(new CloudWatchClient(config), fleet),
  };
}

/** A fleet whose API calls cost no virtual time, so tests control the clock exactly. */
export function quietFleet(options: FleetOptions = {}) {
  const fleet = new SimulatedFleet({
    ...options,
    latency: { ...options.latency, apiCallMs: { ec2: 0, ssm: 0, elbv2: 0, sns: 0, eventbridge: 0, cloudwatch: 0, ...options.latency?.apiCallMs } },
  });
  return { fleet, clock: fleet.clock, ...clientsFor(fleet) };
}

export const SECOND = 1_000;
