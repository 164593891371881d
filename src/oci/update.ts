// `skiff-oci update --resources FILE|- ID`: new limits (linux.resources' format) written into a
// running container's cgroup, as create writes them.
import { readFileSync } from 'node:fs';
import { limitWrites, writeLimits, LimitError, type Controller } from '../main/cgroups/limits.js';
import { detectLayout } from '../main/cgroups/layout.js';
import { ConfigError, parseResources } from './config.js';
import { OciError, fsMessage } from './errors.js';
import { statusOf } from './status.js';
import { mustRecord } from './store.js';

export function update(root: string, id: string, file: string): void {
  const r = mustRecord(root, id);
  if (statusOf(root, r) === 'stopped') throw new OciError('container not running');
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new OciError(fsMessage('read the resources', file, err), { cause: err });
  }
  let parsed;
  try {
    parsed = parseResources(JSON.parse(text));
  } catch (err) {
    throw new OciError(`update --resources: ${err instanceof ConfigError ? err.message : `not JSON: ${(err as Error).message}`}`, { cause: err });
  }
  if (parsed.deviceRules.length > 0) throw new OciError('update --resources: devices cannot be changed on a running container by skiff-oci');
  const layout = detectLayout();
  const dirOf = (c: Controller): string => {
    const mount = layout.v1.find((h) => h.controllers.includes(c))?.mount ?? (layout.version === 2 ? layout.unified : null);
    const dir = mount === null ? undefined : r.cgroups.find((d) => d.startsWith(`${mount}/`));
    if (dir === undefined) throw new OciError(`update: the container has no ${c} cgroup`);
    return dir;
  };
  try {
    writeLimits(dirOf, limitWrites(layout.version, parsed.resources));
  } catch (err) {
    if (err instanceof LimitError) throw new OciError(`update: ${err.message}`, { cause: err });
    throw err;
  }
}
