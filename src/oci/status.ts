// A container's status, read from the kernel each time (there is no daemon to remember it):
// stopped once its init is gone or a zombie (or its pid belongs to another process now),
// created while the start fifo exists, paused while its freezer says FROZEN, else running.
import { existsSync, readFileSync } from 'node:fs';
import { liveStartTime } from '../sys/proc.js';
import { fifoPath, type ContainerRecord } from './store.js';

export type Status = 'created' | 'running' | 'paused' | 'stopped';

export function isAlive(r: Pick<ContainerRecord, 'pid' | 'startTime'>): boolean {
  return liveStartTime(r.pid) === r.startTime;
}

export function freezerDir(r: ContainerRecord): string | undefined {
  return r.cgroups.find((d) => /\/freezer\//.test(d));
}

export function statusOf(root: string, r: ContainerRecord): Status {
  if (!isAlive(r)) return 'stopped';
  if (existsSync(fifoPath(root, r.id))) return 'created';
  const freezer = freezerDir(r);
  if (freezer !== undefined) {
    try {
      if (readFileSync(`${freezer}/freezer.state`, 'utf8').trim() === 'FROZEN') return 'paused';
    } catch {
      // no freezer file: not paused
    }
  }
  return 'running';
}

/** The OCI state JSON, as `state` prints it and hooks read it on stdin (runc's field order). */
export function stateJson(root: string, r: ContainerRecord): Record<string, unknown> {
  const status = statusOf(root, r);
  return {
    ociVersion: r.ociVersion,
    id: r.id,
    pid: status === 'stopped' ? 0 : r.pid,
    status,
    bundle: r.bundle,
    rootfs: r.rootfs,
    created: r.created,
    owner: '',
    ...(Object.keys(r.annotations).length > 0 ? { annotations: r.annotations } : {}),
  };
}

/** Blocks the thread for `ms` milliseconds (the calls are synchronous, short-lived processes). */
export function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Waits until the init is gone or a zombie; false if it is still alive after `ms`. */
export function waitGone(r: Pick<ContainerRecord, 'pid' | 'startTime'>, ms: number): boolean {
  const deadline = Date.now() + ms;
  for (let wait = 1; isAlive(r); wait = Math.min(wait * 2, 20)) {
    if (Date.now() > deadline) return false;
    pause(wait);
  }
  return true;
}
