// AMIs and root-volume snapshots: what they carry, DescribeImages, and the rules that decide
// which of them may replace an instance's root volume (CreateReplaceRootVolumeTask, API reference):
//   SnapshotId: "The specified snapshot must be a snapshot that you previously created from the
//     original root volume." (EC2 User Guide, "Replace a root volume": "a snapshot from the same
//     lineage as the current root volume".)
//   ImageId: "The specified AMI must have the same product code, billing information,
//     architecture type, and virtualization type as that of the instance."
// Billing information is the AMI's Platform details and Usage operation (EC2 User Guide, "AMI
// billing information fields"), which DescribeInstances also reports for the instance.
import type { DescribeImagesCommandInput, DescribeImagesCommandOutput, Image } from '@aws-sdk/client-ec2';
import { errorsFor } from './errors.ts';
import { defaultArchitecture } from './instance-types.ts';
import type { ImageDefinition, SimImage, SimInstance, SimSnapshot, World } from './model.ts';
import { matchesFilters, paginate } from './query.ts';
import type { Handlers, Output } from './service.ts';

const error = errorsFor('ec2');
const IMAGE_ID = /^ami-[0-9a-z]{8,17}$/;
const SNAPSHOT_ID = /^snap-[0-9a-z]{8,17}$/;

/** The images instances launch from when a test or scenario names none: a plain Linux image per architecture. */
const LAUNCH_IMAGES: Record<string, string> = { x86_64: 'ami-0sim0000000000001', arm64: 'ami-0sim0000000000002' };

export function defineImage(world: World, imageId: string, definition: ImageDefinition): SimImage {
  if (SNAPSHOT_ID.test(imageId)) {
    throw new Error(`${imageId} is a snapshot, not an AMI: define it with defineSnapshot (it can replace only the root volume it was taken from)`);
  }
  if (!IMAGE_ID.test(imageId)) throw new Error(`image id '${imageId}' is not like 'ami-0123456789abcdef0'`);
  const image: SimImage = {
    imageId,
    apps: [...definition.apps],
    architecture: definition.architecture ?? 'x86_64',
    virtualizationType: definition.virtualizationType ?? 'hvm',
    productCodes: [...(definition.productCodes ?? [])].sort(),
    platformDetails: definition.platformDetails ?? 'Linux/UNIX',
    usageOperation: definition.usageOperation ?? 'RunInstances',
    rootSnapshotId: world.newId('snap'),
    ...(definition.kmsKeyId ? { kmsKeyId: definition.kmsKeyId } : {}),
  };
  world.images.set(imageId, image);
  return image;
}

/** The image an instance launches from: the one named (defined, or a plain one made now), else the plain image of its architecture. */
export function launchImage(world: World, instanceType: string, imageId: string | undefined): SimImage {
  const architecture = defaultArchitecture(instanceType);
  const id = imageId ?? LAUNCH_IMAGES[architecture] ?? `ami-0sim${architecture.replace(/[^a-z0-9]/g, '').padEnd(13, '0').slice(0, 13)}`;
  const image = world.images.get(id) ?? defineImage(world, id, { apps: [], architecture });
  if (image.architecture !== architecture) {
    throw new Error(`image ${id} is ${image.architecture}; instance type ${instanceType} runs ${architecture}`);
  }
  return image;
}

/** A snapshot of `instance`'s current root volume, holding the applications named (default: those installed now). */
export function defineSnapshot(world: World, snapshotId: string, instance: SimInstance, apps?: readonly string[]): SimSnapshot {
  if (!SNAPSHOT_ID.test(snapshotId)) throw new Error(`snapshot id '${snapshotId}' is not like 'snap-0123456789abcdef0'`);
  const snapshot: SimSnapshot = {
    snapshotId,
    lineage: instance.rootLineage,
    fromInstanceId: instance.instanceId,
    apps: [...(apps ?? [...instance.apps].filter(([, r]) => r.installed).map(([app]) => app))],
  };
  world.snapshots.set(snapshotId, snapshot);
  return snapshot;
}

/**
 * Why the task's source cannot replace `instance`'s root volume, as EC2's error; nothing when it can.
 * ASSUMPTION: EC2 refuses a mismatched source when the task is created, with InvalidParameterValue
 * (its error for a parameter value that cannot be used); the API reference states the rules, not the error.
 */
export function checkRootVolumeSource(world: World, instance: SimInstance, source: { snapshotId?: string; imageId?: string }): void {
  if (source.snapshotId) {
    const snapshot = world.snapshots.get(source.snapshotId);
    if (!snapshot) throw error('InvalidSnapshot.NotFound', `The snapshot '${source.snapshotId}' does not exist.`);
    if (snapshot.lineage !== instance.rootLineage) {
      throw error(
        'InvalidParameterValue',
        `The specified snapshot must be a snapshot that you previously created from the original root volume: ${snapshot.snapshotId} ` +
          `was taken from the root volume of ${snapshot.fromInstanceId}, not of ${instance.instanceId}.`,
      );
    }
  }
  if (source.imageId) {
    const image = world.images.get(source.imageId);
    if (!image) throw error('InvalidAMIID.NotFound', `The image id '[${source.imageId}]' does not exist`);
    const differences = imageDifferences(image, instance);
    if (differences.length > 0) {
      throw error(
        'InvalidParameterValue',
        `The specified AMI must have the same product code, billing information, architecture type, and virtualization type as that of the instance: ${differences.join('; ')}.`,
      );
    }
  }
}

/** Each way the AMI differs from the instance, in the words of the rule. */
export function imageDifferences(image: SimImage, instance: SimInstance): string[] {
  const out: string[] = [];
  if (image.architecture !== instance.architecture) out.push(`architecture ${image.architecture} (instance ${instance.architecture})`);
  if (image.virtualizationType !== instance.virtualizationType) {
    out.push(`virtualization type ${image.virtualizationType} (instance ${instance.virtualizationType})`);
  }
  if (image.productCodes.join(',') !== [...instance.productCodes].sort().join(',')) {
    out.push(`product codes [${image.productCodes.join(', ')}] (instance [${instance.productCodes.join(', ')}])`);
  }
  if (image.platformDetails !== instance.platformDetails || image.usageOperation !== instance.usageOperation) {
    out.push(`billing ${image.platformDetails} / ${image.usageOperation} (instance ${instance.platformDetails} / ${instance.usageOperation})`);
  }
  return out;
}

export function ec2ImageHandlers(world: World): Handlers {
  return {
    DescribeImages: (input: DescribeImagesCommandInput): Output<DescribeImagesCommandOutput> => {
      const malformed = (input.ImageIds ?? []).find((id) => !IMAGE_ID.test(id));
      if (malformed) throw error('InvalidAMIID.Malformed', `Invalid id: "${malformed}" (expecting "ami-...")`);
      const missing = (input.ImageIds ?? []).filter((id) => !world.images.has(id));
      if (missing.length > 0) throw error('InvalidAMIID.NotFound', `The image id '[${missing.join(', ')}]' does not exist`);
      const images = input.ImageIds?.length ? [...new Set(input.ImageIds)].map((id) => world.images.get(id)!) : [...world.images.values()];
      const matching = images.filter((image) =>
        matchesFilters(
          input.Filters,
          (name) =>
            ({
              'image-id': [image.imageId],
              architecture: [image.architecture],
              'virtualization-type': [image.virtualizationType],
              'product-code': image.productCodes,
              'platform-details': [image.platformDetails],
              'usage-operation': [image.usageOperation],
              state: ['available'],
              'owner-id': [world.accountId],
            })[name],
          error,
        ),
      );
      const { page, nextToken } = paginate(matching, input.MaxResults, input.NextToken, { min: 5, max: 1000, default: 1000 }, error);
      return { Images: page.map((image) => describeImage(world, image)), ...(nextToken ? { NextToken: nextToken } : {}) };
    },
  };
}

function describeImage(world: World, image: SimImage): Image {
  return {
    ImageId: image.imageId,
    Name: `simulated-${image.imageId}`,
    OwnerId: world.accountId,
    State: 'available',
    ImageType: 'machine',
    Public: false,
    CreationDate: '2029-12-01T00:00:00.000Z',
    Architecture: image.architecture as Image['Architecture'],
    VirtualizationType: image.virtualizationType,
    Hypervisor: 'xen',
    EnaSupport: true,
    RootDeviceType: 'ebs',
    RootDeviceName: '/dev/xvda',
    PlatformDetails: image.platformDetails,
    UsageOperation: image.usageOperation,
    ProductCodes: image.productCodes.map((ProductCodeId) => ({ ProductCodeId, ProductCodeType: 'marketplace' })),
    BlockDeviceMappings: [
      {
        DeviceName: '/dev/xvda',
        Ebs: {
          SnapshotId: image.rootSnapshotId,
          VolumeSize: 8,
          VolumeType: 'gp3',
          DeleteOnTermination: true,
          Encrypted: image.kmsKeyId !== undefined,
          ...(image.kmsKeyId ? { KmsKeyId: image.kmsKeyId } : {}),
        },
      },
    ],
  };
}
