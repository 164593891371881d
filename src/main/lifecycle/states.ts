// A container's states and the only ways between them. The supervisor changes a record's
// status through transition() alone, so a path not drawn here is a bug that fails loudly
// instead of a record that silently says something impossible.
//
//   created ──start──▶ queued ──launcher──▶ starting ──exec'd──▶ running ──exit──▶ exited
//      ▲                 │                     │                    │               │
//      │                 └──stop──▶ exited     └──fails──▶ failed   └──policy──▶ restarting
//      │                                                                            │
//   every state ──rm──▶ removed          exited/failed ──start──▶ queued ◀──back-off─┘
import type { ContainerStatus } from '../../api/fleets.js';
import type { ContainerRecord } from './record.js';

export type Status = ContainerStatus;

const NEXT: Readonly<Record<Status, readonly Status[]>> = {
  created: ['queued'],
  // exited: stopped before a launcher took it
  queued: ['starting', 'exited'],
  // exited: an older skiffd wrote it mid-start and a restarted one found no PID 1
  starting: ['running', 'failed', 'exited'],
  running: ['exited', 'restarting'],
  // queued: the back-off ran out; exited: stopped during the back-off
  restarting: ['queued', 'exited'],
  exited: ['queued', 'restarting'],
  failed: ['queued'],
  removed: [],
};

export function canTransition(from: Status, to: Status): boolean {
  return to === 'removed' ? from !== 'removed' : NEXT[from].includes(to);
}

/** Moves the record to `to`, or throws: an impossible move is skiffd's bug, never the client's. */
export function transition(r: ContainerRecord, to: Status): void {
  if (!canTransition(r.status, to)) {
    throw new Error(`container ${r.name}: no transition from ${r.status} to ${to} (a skiffd bug)`);
  }
  r.status = to;
}

/**
 * Whether rm took it. A function rather than an inline comparison: the record may be removed
 * by another request while a launch or an exit awaits, which the compiler cannot see.
 */
export function isRemoved(r: { status: Status }): boolean {
  return r.status === 'removed';
}

/** queued, starting, running or restarting: it has, or will have, a PID 1. */
export function isActive(r: { status: Status }): boolean {
  return r.status === 'queued' || r.status === 'starting' || r.status === 'running' || r.status === 'restarting';
}

const RESTART_FIRST_MS = 100;
const RESTART_MAX_MS = 30_000;

/** Docker's back-off: 100 ms, doubling with each restart, at most 30 s. */
export function restartDelayMs(restartCount: number): number {
  return Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** restartCount);
}

/** Whether the restart policy brings an exited container back (never after stop, kill or rm). */
export function shouldRestart(r: ContainerRecord): boolean {
  if (r.stoppedByUser) return false;
  const p = r.spec.restart;
  switch (p.name) {
    case 'no': return false;
    case 'always':
    case 'unless-stopped': return true;
    case 'on-failure': return r.exitCode !== 0 && (p.maxRetries === null || r.restartCount < p.maxRetries);
  }
}
