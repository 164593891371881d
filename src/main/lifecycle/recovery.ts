// Recovery after a restart: a new skiffd rebuilds its containers from their records on disk.
// A PID 1 still alive is adopted as running, and so is the PID 1 of a start a crash interrupted
// (found in its cgroup: orphans.ts); any other record that says active is marked exited, status
// unknown. The supervisor alone changes a status (states.ts), so the moves themselves are its
// callbacks (`lost`, `resumed`): this module decides which record gets which.
import { liveStartTime } from '../../sys/proc.js';
import { log } from '../log.js';
import type { ConsoleHolds, KeptConsole } from './console-holds.js';
import type { ContainerCgroups } from './container-cgroups.js';
import type { ExitStatus, Reaper } from './reaper.js';
import { stillRunning, withCurrentDefaults, type ContainerRecord } from './record.js';
import type { StateStore } from './state-store.js';
import { isActive } from './states.js';

export interface RestoreContext {
  stateStore: StateStore;
  reaper: Reaper;
  cg: ContainerCgroups;
  /** takes a loaded record into the supervisor's index */
  add(r: ContainerRecord): void;
  /** supervises an adopted PID 1: its exit is recorded as any run's */
  watch(r: ContainerRecord, handle: { signal: (sig: number) => void; exited: Promise<ExitStatus> }): void;
  /** an active record whose PID 1 is gone: the supervisor marks it exited, status unknown */
  lost(r: ContainerRecord): void;
  /** the PID 1 of an interrupted start, now watched: the supervisor marks its record running */
  resumed(r: ContainerRecord, pid: number, startTime: number): void;
}

/**
 * Reloads every container: live PID 1s are adopted as running, and so are the PID 1s of
 * starts a crash interrupted (found in their cgroups: orphans.ts); others are marked exited
 * (status unknown). Call once the previous skiffd's launchers are gone (old-launchers.ts).
 */
export async function restoreContainers(o: RestoreContext): Promise<void> {
  o.stateStore.recoverTrash();
  const records = o.stateStore.loadAll((name, err) => log('warn', 'unreadable state', { name, error: err.message }));
  for (const r of records.map(withCurrentDefaults)) {
    o.add(r);
    if (r.status === 'running' && stillRunning(r)) {
      try {
        o.watch(r, o.reaper.watch(r.pid!));
        o.cg.adopt(r);
        log('info', 'adopted running container', { name: r.name, pid: r.pid });
        continue;
      } catch (err) {
        log('warn', 'could not adopt', { name: r.name, error: (err as Error).message });
      }
    }
    if (isActive(r)) {
      o.lost(r);
      continue;
    }
    await adoptOrphan(o, r);
  }
}

/** The PID 1 of a start that was in flight when skiffd died, if its cgroup holds one: the record says running. */
async function adoptOrphan(o: RestoreContext, r: ContainerRecord): Promise<void> {
  const pid = await o.cg.orphan(r);
  if (pid === null) return;
  const startTime = liveStartTime(pid);
  if (startTime === null) return;
  try {
    o.watch(r, o.reaper.watch(pid));
  } catch (err) {
    log('warn', 'could not adopt the PID 1 of an interrupted start', { name: r.name, pid, error: (err as Error).message });
    return;
  }
  o.resumed(r, pid, startTime);
  log('info', 'adopted the PID 1 of a start interrupted by a crash', { name: r.name, pid });
}

/** After restoreContainers(): the consoles the forwarder kept across the restart go back to their containers. */
export async function adoptConsoles(consoles: ConsoleHolds | null, records: ContainerRecord[], kept: KeptConsole[]): Promise<void> {
  const byId = new Map(records.map((r) => [r.id, r]));
  await consoles?.adopt(kept, (id) => byId.get(id));
}
