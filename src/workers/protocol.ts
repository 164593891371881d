// Messages between skiffd and a launcher worker, over the child_process IPC channel.
//
//   skiffd                         launcher worker (skiff-launcher N)
//     ── start {id, request} ──────▶  startContainer(request)
//     ── exec {id, request} ───────▶  execInContainer(request): same replies, the exec's pid
//     ◀─ started {id, pid, fd?,   ─   PID 1 exec'd (re-parented to skiffd); fd: an exec's pty master,
//                 startTime?}          held here for the forwarder to take (pidfd_getfd) until release;
//                                      startTime: a start's PID 1's /proc start time (null once it has
//                                      exited), read here so that skiffd's main thread need not
//     ── release {fd} ─────────────▶   close that held fd (no reply)
//     ◀─ failed {id, failure} ─────   nothing left behind
//     ◀─ ready {} ─────────────────   once, after loading the native launcher
//
// One start at a time per worker: skiffd sends the next start only after a reply.
import type { ExecRequest } from './exec.js';
import type { StartFailure, StartRequest } from './start.js';

export type ToLauncher =
  | { type: 'start'; id: number; request: StartRequest }
  | { type: 'exec'; id: number; request: ExecRequest }
  | { type: 'release'; fd: number };

export type FromLauncher =
  | { type: 'ready' }
  | { type: 'started'; id: number; pid: number; fd?: number; startTime?: number | null }
  | { type: 'failed'; id: number; failure: StartFailure };
