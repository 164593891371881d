// POST /containers/create, from body to an accepted request: the body mapped (create.ts), the
// fields it ignored logged, and the paths the host's read-only root must already have checked
// (mount-points.ts). The only part of the Docker mapping that does I/O before the supervisor.
import { log } from '../log.js';
import { specFromCreateBody, type CreateContext, type CreateRequest } from './create.js';
import { checkHostRootPaths } from './mount-points.js';

export function acceptCreate(body: unknown, name: string | null, ctx: CreateContext = {}): CreateRequest {
  const req = specFromCreateBody(body, name, ctx);
  // Docker ignores what it does not know, and so does skiff; a debug line says what was ignored.
  if (req.ignored.length > 0) log('debug', 'create: ignored fields skiff does not know', { name: req.spec.name, fields: req.ignored });
  checkHostRootPaths(req.spec, (what, i) => (what === 'workdir' ? 'WorkingDir' : req.mountFields[i] ?? `mounts[${i}]`));
  return req;
}
