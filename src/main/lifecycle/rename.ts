// `docker rename`'s checks: what a new name must be, and when a container may take it.
// The move itself is the supervisor's (the records index and the state directory).
import { SpecError, validateName } from '../../spec/container.js';
import { Conflict, InvalidArgument, NotFound } from './errors.js';
import type { ContainerRecord } from './record.js';
import type { Registry } from './registry.js';
import { isRemoved } from './states.js';

/** The name as stored ("/web" as Docker's clients write it becomes "web"), checked like a new container's. */
export function renameTarget(name: string): string {
  const newName = name.replace(/^\//, '');
  try {
    validateName(newName, 'name');
  } catch (err) {
    if (err instanceof SpecError) throw new InvalidArgument(`Invalid container name: ${err.message}`, 'name');
    throw err;
  }
  return newName;
}

/**
 * Throws unless `r` (still known as `oldName`) may be renamed to `newName` now. A start in
 * flight is refused: its launcher already holds the state directory's old path for the
 * container's writable layer.
 */
export function checkRename(
  r: ContainerRecord, oldName: string, newName: string, records: Pick<Registry, 'named'>, launching: boolean,
): void {
  if (isRemoved(r) || records.named(oldName) !== r) throw new NotFound(`No such container: ${oldName}`);
  if (newName === oldName) throw new InvalidArgument(`Renaming a container with the same name as its current name (${oldName})`, 'name');
  const holder = records.named(newName);
  if (holder) {
    throw new Conflict(`Conflict. The container name "/${newName}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
  }
  if (r.status === 'queued' || r.status === 'starting' || launching) {
    throw new Conflict(`Container ${oldName} is starting: rename it once it runs or has stopped`);
  }
}
