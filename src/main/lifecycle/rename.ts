// `docker rename`: what a new name must be, when a container may take it, and the move. Only
// the name index and the state directory move: everything else skiffd keeps of a container
// (its PID 1, console, waiters, a pending restart) is keyed by its id, which a rename leaves
// as it is. So a running container stays supervised and its exit is recorded under the new
// name. The hostname stays, as Docker keeps it.
import { SpecError, validateName } from '../../spec/container.js';
import { Conflict, InvalidArgument, NotFound, Unavailable } from './errors.js';
import type { ContainerRecord } from './record.js';
import type { Registry } from './registry.js';
import type { StateStore } from './state-store.js';
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

export interface RenameDeps {
  records: Registry;
  store: StateStore;
  /** whether a launch of this container id is in flight */
  launching: (id: string) => boolean;
  persist: (r: ContainerRecord) => Promise<void>;
  /** whatever else is keyed by the name (the networks' endpoints), moved in the same synchronous step */
  also?: (oldName: string, newName: string) => void;
}

/** Renames `r` to `name`, or throws a domain error naming why not (nothing moved then). */
export async function renameContainer(r: ContainerRecord, name: string, d: RenameDeps): Promise<void> {
  const newName = renameTarget(name);
  const oldName = r.name;
  const check = () => checkRename(r, oldName, newName, d.records, d.launching(r.id));
  check();
  await d.store.settle(oldName);
  // From here on, synchronous: nothing can use the old name or take the new one in between.
  check();
  try {
    d.store.renameDir(oldName, newName);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') throw new Conflict(`Conflict. The state directory of "${newName}" already exists`);
    throw new Unavailable(`rename state directory \`${d.store.dir(oldName)}\` to \`${d.store.dir(newName)}\`: ${e.code ?? e.message}`);
  }
  d.records.rename(r, oldName, newName);
  r.name = newName;
  r.spec = { ...r.spec, name: newName };
  d.also?.(oldName, newName);
  await d.persist(r);
}
