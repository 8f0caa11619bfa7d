// A stack's resources with those of its nested stacks (AWS::CloudFormation::Stack) merged in, as
// the local runtime deploys them: the performance alarms live in nested stacks (lib/detection.ts).
// Each nested template is the file asset its TemplateURL names, found through the assembly's
// asset manifest (`<stack>.assets.json`: object key → file). Nested resources are keyed
// `<nested stack's logical id>/<logical id>`; a nested stack takes no parameters here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveTemplateValue, type CfnTemplate } from '../state-machine-definition.ts';

/** Object key → file of every file asset in an assembly's asset manifest. */
export function assetFiles(outdir: string, assetsManifestFile: string): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(outdir, assetsManifestFile), 'utf8')) as {
    files?: Record<string, { source: { path: string }; destinations: Record<string, { objectKey: string }> }>;
  };
  const byKey = new Map<string, string>();
  for (const file of Object.values(manifest.files ?? {})) {
    for (const destination of Object.values(file.destinations)) byKey.set(destination.objectKey, join(outdir, file.source.path));
  }
  return byKey;
}

export function withNestedStacks(template: CfnTemplate, files: ReadonlyMap<string, string>): CfnTemplate {
  const resources: CfnTemplate['Resources'] = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    resources[logicalId] = resource;
    if (resource.Type !== 'AWS::CloudFormation::Stack') continue;
    const url = resolveTemplateValue(resource.Properties?.TemplateURL, template);
    const key = typeof url === 'string' ? url.split('/').at(-1) : undefined;
    const file = key ? files.get(key) : undefined;
    if (!file) throw new Error(`nested stack ${logicalId}: no template asset for ${JSON.stringify(url)} in the assembly`);
    const nested = withNestedStacks(JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate, files);
    for (const [id, r] of Object.entries(nested.Resources)) resources[`${logicalId}/${id}`] = r;
  }
  return { ...template, Resources: resources };
}
