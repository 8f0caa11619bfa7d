// EC2 instance APIs: describe, start/stop, tags, status, instance types, security groups.
import type {
  CreateTagsCommandInput,
  DeleteTagsCommandInput,
  DescribeInstancesCommandInput,
  DescribeInstancesCommandOutput,
  DescribeInstanceStatusCommandInput,
  DescribeInstanceStatusCommandOutput,
  DescribeInstanceTypesCommandInput,
  DescribeInstanceTypesCommandOutput,
  Instance,
  InstanceStateChange,
  InstanceStatus,
  InstanceStatusSummary,
  ModifyInstanceAttributeCommandInput,
  StartInstancesCommandInput,
  StartInstancesCommandOutput,
  StopInstancesCommandInput,
  StopInstancesCommandOutput,
} from '@aws-sdk/client-ec2';
import { errorsFor, NotSimulatedError } from './errors.ts';
import { INSTANCE_TYPE_NAMES, instanceTypeInfo } from './instance-types.ts';
import type { StartRefusal, StopRefusal } from './faults.ts';
import { forceStop, setTags, startInstance, statusCheck, stopInstance, visibleTags } from './instances.ts';
import { stateOf, tagList, type SimInstance, type World } from './model.ts';
import { matchesFilters, paginate } from './query.ts';
import type { Handlers, Output } from './service.ts';

const error = errorsFor('ec2');
const ID_SHAPE = /^i-[0-9a-f]{8,17}$/;

/** The instances named, in order; EC2's errors for malformed and unknown ids. */
export function requireInstances(world: World, ids: readonly string[] | undefined): SimInstance[] {
  const malformed = (ids ?? []).filter((id) => !ID_SHAPE.test(id));
  if (malformed.length > 0) throw error('InvalidInstanceID.Malformed', `Invalid id: "${malformed[0]}"`);
  const missing = (ids ?? []).filter((id) => !world.instances.has(id));
  if (missing.length === 1) throw error('InvalidInstanceID.NotFound', `The instance ID '${missing[0]}' does not exist`);
  if (missing.length > 1) throw error('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
  return (ids ?? []).map((id) => world.instances.get(id)!);
}

export function ec2InstanceHandlers(world: World): Handlers {
  return {
    DescribeInstances: (input: DescribeInstancesCommandInput): Output<DescribeInstancesCommandOutput> => {
      if (input.InstanceIds?.length && input.MaxResults !== undefined) {
        throw error('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
      }
      const candidates = input.InstanceIds?.length ? requireInstances(world, input.InstanceIds) : [...world.instances.values()];
      const matching = candidates.filter((instance) => matchesFilters(input.Filters, (name) => instanceFilterValues(world, instance, name), error));
      const { page, nextToken } = paginate(matching, input.MaxResults, input.NextToken, { min: 5, max: 1000, default: 1000 }, error);
      return {
        Reservations: page.map((instance) => ({
          ReservationId: `r-${instance.instanceId.slice(2)}`,
          OwnerId: world.accountId,
          Groups: [],
          Instances: [describeInstance(world, instance)],
        })),
        ...(nextToken ? { NextToken: nextToken } : {}),
      };
    },

    DescribeInstanceStatus: (input: DescribeInstanceStatusCommandInput): Output<DescribeInstanceStatusCommandOutput> => {
      if (input.InstanceIds?.length && input.MaxResults !== undefined) {
        throw error('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
      }
      const candidates = input.InstanceIds?.length ? requireInstances(world, input.InstanceIds) : [...world.instances.values()];
      const statuses = candidates
        .filter((instance) => input.IncludeAllInstances === true || instance.state === 'running')
        .map((instance) => describeStatus(world, instance))
        .filter((status) =>
          matchesFilters(
            input.Filters,
            (name) =>
              ({
                'instance-state-name': [status.InstanceState?.Name ?? ''],
                'instance-state-code': [String(status.InstanceState?.Code)],
                'instance-status.status': [status.InstanceStatus?.Status ?? ''],
                'system-status.status': [status.SystemStatus?.Status ?? ''],
                'availability-zone': [status.AvailabilityZone ?? ''],
              })[name],
            error,
          ),
        );
      const { page, nextToken } = paginate(statuses, input.MaxResults, input.NextToken, { min: 5, max: 1000, default: 1000 }, error);
      return { InstanceStatuses: page, ...(nextToken ? { NextToken: nextToken } : {}) };
    },

    DescribeInstanceTypes: (input: DescribeInstanceTypesCommandInput): Output<DescribeInstanceTypesCommandOutput> => {
      const names = input.InstanceTypes?.length ? input.InstanceTypes : INSTANCE_TYPE_NAMES;
      const unknown = names.filter((name) => instanceTypeInfo(name) === undefined);
      if (unknown.length > 0) {
        throw error('InvalidInstanceType', `The following supplied instance types do not exist: [${unknown.join(', ')}]`);
      }
      const infos = names
        .map((name) => instanceTypeInfo(name)!)
        .filter((info) =>
          matchesFilters(
            input.Filters,
            (name) =>
              ({
                'instance-type': [info.InstanceType ?? ''],
                'processor-info.supported-architecture': info.ProcessorInfo?.SupportedArchitectures ?? [],
                'current-generation': [String(info.CurrentGeneration)],
                'vcpu-info.default-vcpus': [String(info.VCpuInfo?.DefaultVCpus)],
                'memory-info.size-in-mib': [String(info.MemoryInfo?.SizeInMiB)],
                'instance-storage-supported': [String(info.InstanceStorageSupported)],
              })[name],
            error,
          ),
        );
      const { page, nextToken } = paginate(infos, input.MaxResults, input.NextToken, { min: 5, max: 100, default: 100 }, error);
      return { InstanceTypes: page, ...(nextToken ? { NextToken: nextToken } : {}) };
    },

    StartInstances: (input: StartInstancesCommandInput): Output<StartInstancesCommandOutput> => {
      const instances = requireInstances(world, input.InstanceIds);
      for (const instance of instances) {
        if (!['stopped', 'pending', 'running'].includes(instance.state)) {
          throw error('IncorrectInstanceState', `The instance '${instance.instanceId}' is not in a state from which it can be started.`);
        }
      }
      for (const instance of instances) {
        const refusal = instance.state === 'stopped' ? world.faults.takeStartRefusal(instance.instanceId) : null;
        if (refusal) throw startRefusal(instance, refusal);
      }
      const changes: InstanceStateChange[] = instances.map((instance) => {
        const previous = stateOf(instance);
        if (instance.state === 'stopped') startInstance(world, instance);
        return { InstanceId: instance.instanceId, PreviousState: previous, CurrentState: stateOf(instance) };
      });
      return { StartingInstances: changes };
    },

    StopInstances: (input: StopInstancesCommandInput): Output<StopInstancesCommandOutput> => {
      const instances = requireInstances(world, input.InstanceIds);
      for (const instance of instances) {
        if (!['running', 'stopping', 'stopped'].includes(instance.state)) {
          throw error('IncorrectInstanceState', `The instance '${instance.instanceId}' is not in a state from which it can be stopped.`);
        }
      }
      for (const instance of instances) {
        const refusal = instance.state === 'stopped' ? null : world.faults.takeStopRefusal(instance.instanceId);
        if (refusal) throw stopRefusal(instance, refusal);
      }
      const changes: InstanceStateChange[] = instances.map((instance) => {
        const previous = stateOf(instance);
        if (instance.state === 'running') stopInstance(world, instance);
        else if (instance.state === 'stopping' && input.Force === true) forceStop(world, instance);
        return { InstanceId: instance.instanceId, PreviousState: previous, CurrentState: stateOf(instance) };
      });
      return { StoppingInstances: changes };
    },

    CreateTags: (input: CreateTagsCommandInput) => {
      const instances = taggableInstances(world, input.Resources);
      const tags = input.Tags ?? [];
      for (const tag of tags) {
        if (!tag.Key) throw error('InvalidParameterValue', 'Tag keys must not be empty');
        if (tag.Key.toLowerCase().startsWith('aws:')) throw error('InvalidParameterValue', `Tag keys starting with 'aws:' are reserved for internal use`);
        if (tag.Key.length > 128 || (tag.Value ?? '').length > 256) throw error('InvalidParameterValue', `Tag ${tag.Key} is too long`);
      }
      for (const instance of instances) {
        const keys = new Set([...instance.tags.keys(), ...tags.map((t) => t.Key!)]);
        if (keys.size > 50) throw error('TagLimitExceeded', `Instance ${instance.instanceId} would have more than 50 tags`);
      }
      for (const instance of instances) {
        setTags(world, instance, (current) => {
          for (const tag of tags) current.set(tag.Key!, tag.Value ?? '');
        });
      }
      return {};
    },

    DeleteTags: (input: DeleteTagsCommandInput) => {
      const instances = taggableInstances(world, input.Resources);
      for (const instance of instances) {
        setTags(world, instance, (current) => {
          if (input.Tags === undefined) {
            current.clear();
            return;
          }
          for (const tag of input.Tags) {
            if (tag.Key === undefined) continue;
            if (tag.Value === undefined || current.get(tag.Key) === tag.Value) current.delete(tag.Key);
          }
        });
      }
      return {};
    },

    ModifyInstanceAttribute: (input: ModifyInstanceAttributeCommandInput) => {
      const [instance] = requireInstances(world, input.InstanceId ? [input.InstanceId] : []);
      if (!instance) throw error('MissingParameter', 'The request must contain the parameter InstanceId');
      const others = Object.entries(input).filter(([key, value]) => !['InstanceId', 'Groups', 'DryRun'].includes(key) && value !== undefined);
      if (others.length > 0) {
        throw new NotSimulatedError('ec2', 'ModifyInstanceAttribute', `only Groups is simulated, not ${others.map(([key]) => key).join(', ')}`);
      }
      if (!input.Groups?.length) throw error('InvalidParameterCombination', 'No attribute specified');
      const malformed = input.Groups.find((group) => !/^sg-[0-9a-z]+$/.test(group));
      if (malformed) throw error('InvalidGroupId.Malformed', `Invalid id: "${malformed}"`);
      world.sync();
      instance.securityGroups = [...input.Groups];
      return {};
    },
  };
}

/** The error EC2 answers a refused StopInstances with (messages as EC2 words them). */
function stopRefusal(instance: SimInstance, code: StopRefusal): Error {
  switch (code) {
    case 'UnauthorizedOperation':
      return error(code, 'You are not authorized to perform this operation. User is not authorized to perform: ec2:StopInstances (fault injected)', { httpStatusCode: 403 });
    case 'UnsupportedOperation':
      return error(code, `The instance '${instance.instanceId}' does not have an 'ebs' root device type and cannot be stopped.`);
    case 'IncorrectInstanceState':
      return error(code, `This instance '${instance.instanceId}' is not in a state from which it can be stopped.`);
  }
}

/** The error EC2 answers a refused StartInstances with; InsufficientInstanceCapacity is a server error. */
function startRefusal(instance: SimInstance, code: StartRefusal): Error {
  switch (code) {
    case 'InsufficientInstanceCapacity':
      return error(
        code,
        `We currently do not have sufficient ${instance.instanceType} capacity in the Availability Zone you requested (${instance.availabilityZone}). Our system will be working on provisioning additional capacity.`,
        { fault: 'server', httpStatusCode: 500 },
      );
    case 'UnauthorizedOperation':
      return error(code, 'You are not authorized to perform this operation. User is not authorized to perform: ec2:StartInstances (fault injected)', { httpStatusCode: 403 });
  }
}

function taggableInstances(world: World, resources: readonly string[] | undefined): SimInstance[] {
  if (!resources?.length) throw error('MissingParameter', 'The request must contain the parameter resourceIdSet');
  const other = resources.find((id) => !id.startsWith('i-'));
  if (other) throw new NotSimulatedError('ec2', 'CreateTags/DeleteTags', `tags on ${other}: only instances are simulated`);
  return requireInstances(world, resources);
}

function instanceFilterValues(world: World, instance: SimInstance, name: string): readonly string[] | undefined {
  const tags = visibleTags(world, instance);
  if (name.startsWith('tag:')) {
    const key = name.slice(4);
    return tags.filter(([k]) => k === key).map(([, v]) => v);
  }
  const eni = world.enis.get(instance.networkInterfaceId);
  switch (name) {
    case 'instance-id':
      return [instance.instanceId];
    case 'instance-state-name':
      return [instance.state];
    case 'instance-state-code':
      return [String(stateOf(instance).Code)];
    case 'instance-type':
      return [instance.instanceType];
    case 'tag-key':
      return tags.map(([k]) => k);
    case 'tag-value':
      return tags.map(([, v]) => v);
    case 'availability-zone':
      return [instance.availabilityZone];
    case 'subnet-id':
      return [instance.subnetId];
    case 'vpc-id':
      return [instance.vpcId];
    case 'image-id':
      return [instance.imageId];
    case 'private-ip-address':
      return [eni?.primaryIp ?? ''];
    case 'network-interface.addresses.private-ip-address':
      return eni ? [eni.primaryIp, ...eni.secondaryIps] : [];
    case 'instance.group-id':
      return instance.securityGroups;
    default:
      return undefined;
  }
}

export function describeInstance(world: World, instance: SimInstance): Instance {
  const eni = world.enis.get(instance.networkInterfaceId)!;
  const info = instanceTypeInfo(instance.instanceType)!;
  const groups = instance.securityGroups.map((GroupId) => ({ GroupId, GroupName: GroupId }));
  const addressFor = (ip: string) => {
    for (const address of world.addresses.values()) {
      const a = address.association;
      if (a && a.networkInterfaceId === eni.networkInterfaceId && a.privateIp === ip) {
        return { PublicIp: address.publicIp, IpOwnerId: world.accountId, PublicDnsName: '' };
      }
    }
    return undefined;
  };
  const dns = (ip: string) => `ip-${ip.replaceAll('.', '-')}.ec2.internal`;
  const primaryAssociation = addressFor(eni.primaryIp);
  const tags = visibleTags(world, instance);
  const result: Instance = {
    InstanceId: instance.instanceId,
    InstanceType: instance.instanceType as Instance['InstanceType'],
    ImageId: instance.imageId,
    State: stateOf(instance),
    StateTransitionReason: instance.stateTransitionReason,
    LaunchTime: new Date(instance.launchTime),
    AmiLaunchIndex: 0,
    Placement: { AvailabilityZone: instance.availabilityZone, Tenancy: 'default' },
    PrivateIpAddress: eni.primaryIp,
    PrivateDnsName: dns(eni.primaryIp),
    SubnetId: instance.subnetId,
    VpcId: instance.vpcId,
    Architecture: info.ProcessorInfo?.SupportedArchitectures?.[0] as Instance['Architecture'],
    RootDeviceType: 'ebs',
    RootDeviceName: '/dev/xvda',
    BlockDeviceMappings:
      instance.rootVolumeId === ''
        ? []
        : [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: instance.rootVolumeId, Status: 'attached', AttachTime: new Date(instance.launchTime), DeleteOnTermination: true } }],
    SecurityGroups: groups,
    VirtualizationType: 'hvm',
    Hypervisor: 'xen',
    EbsOptimized: true,
    EnaSupport: true,
    SourceDestCheck: true,
    Monitoring: { State: 'disabled' },
    NetworkInterfaces: [
      {
        NetworkInterfaceId: eni.networkInterfaceId,
        SubnetId: instance.subnetId,
        VpcId: instance.vpcId,
        OwnerId: world.accountId,
        MacAddress: eni.macAddress,
        Status: 'in-use',
        SourceDestCheck: true,
        InterfaceType: 'interface',
        Groups: groups,
        PrivateIpAddress: eni.primaryIp,
        PrivateDnsName: dns(eni.primaryIp),
        ...(primaryAssociation ? { Association: primaryAssociation } : {}),
        Attachment: {
          AttachmentId: `eni-attach-${eni.networkInterfaceId.slice(4)}`,
          DeviceIndex: 0,
          NetworkCardIndex: 0,
          Status: 'attached',
          AttachTime: new Date(instance.launchTime),
          DeleteOnTermination: true,
        },
        PrivateIpAddresses: [eni.primaryIp, ...eni.secondaryIps].map((ip, i) => {
          const association = addressFor(ip);
          return { Primary: i === 0, PrivateIpAddress: ip, PrivateDnsName: dns(ip), ...(association ? { Association: association } : {}) };
        }),
      },
    ],
  };
  if (primaryAssociation) result.PublicIpAddress = primaryAssociation.PublicIp;
  if (tags.length > 0) result.Tags = tagList(tags);
  if (instance.stateReason) result.StateReason = { ...instance.stateReason };
  return result;
}

function describeStatus(world: World, instance: SimInstance): InstanceStatus {
  const check = statusCheck(world, instance);
  const summary = (status: typeof check): InstanceStatusSummary =>
    status === 'not-applicable'
      ? { Status: 'not-applicable' }
      : {
          Status: status,
          Details: [{ Name: 'reachability', Status: status === 'ok' ? 'passed' : status === 'impaired' ? 'failed' : 'initializing' }],
        };
  return {
    InstanceId: instance.instanceId,
    AvailabilityZone: instance.availabilityZone,
    InstanceState: stateOf(instance),
    InstanceStatus: summary(check),
    // System (AWS-side) checks follow the instance's boot; faults only impair the instance checks.
    SystemStatus: summary(check === 'impaired' ? 'ok' : check),
  };
}
