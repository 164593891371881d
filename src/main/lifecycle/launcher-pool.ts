// The launcher pool: N forked worker processes (`skiff-launcher N`), one start each at a
// time. A worker that dies or hangs mid-start is replaced and that start fails with a clear
// error; it is never retried behind the caller's back. Protocol: src/workers/protocol.ts.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromLauncher, ToLauncher } from '../../workers/protocol.js';
import { StartError, type StartRequest } from '../../workers/start.js';
import type { ExecRequest } from '../../workers/exec.js';
import { unreachable } from '../../api/unreachable.js';

interface Slot {
  index: number;
  child: ChildProcess;
  ready: Promise<void>;
  busy: { id: number; resolve: (r: Launched) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null;
  /** set when a start outlived the timeout and the worker was killed for it */
  timedOut: boolean;
}

/** The compiled worker: dist/src/workers/launcher.js, also when skiffd runs from sources under tsx. */
function workerPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const compiled = join(here, '../../workers/launcher.js');
  if (existsSync(compiled)) return compiled;
  const fromSrc = join(here, '../../../dist/src/workers/launcher.js');
  if (existsSync(fromSrc)) return fromSrc;
  throw new Error(`skiffd: launcher worker not built (looked for ${compiled}); run \`npm run build\``);
}

/** A launch's answer: the pid, and for an exec with a pty made in the container, where its master is. */
interface Launched { pid: number; fd?: number; startTime?: number | null }

/** A started container's PID 1: its pid, and its /proc start time (null once it has exited), which names it for good. */
export interface StartedInit { pid: number; startTime: number | null }

/** An exec whose pty was made in the container: its master is held by the launcher worker until released. */
export interface ExecWithPty {
  pid: number;
  /** the worker's pid and its fd of the master, for the forwarder to take (pidfd_getfd) */
  master: { pid: number; fd: number };
  /** the worker closes its copy: once the forwarder holds the master, or when nobody will */
  release(): void;
}

export interface PoolEvents {
  /** a worker was replaced (crash, hang or exit) */
  onRestart?: (index: number, reason: string) => void;
}

export class LauncherPool {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly waiters: ((s: Slot) => void)[] = [];
  private nextId = 1;
  private closed = false;
  private readonly path = workerPath();

  constructor(size: number, private readonly startTimeoutMs: number, private readonly events: PoolEvents = {}) {
    this.size = size;
    for (let i = 0; i < size; i++) {
      const slot = this.spawn(i);
      this.slots.push(slot);
      this.idle.push(slot);
    }
  }

  /** Pids of the worker processes, for `ps` checks and for telling them from orphans. */
  pids(): number[] {
    return this.slots.map((s) => s.child.pid ?? -1);
  }

  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
  }

  private spawn(index: number): Slot {
    const child = fork(this.path, [], {
      env: { ...process.env, SKIFF_LAUNCHER_INDEX: String(index) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    let markReady!: () => void;
    const slot: Slot = { index, child, ready: new Promise((r) => { markReady = r; }), busy: null, timedOut: false };
    child.on('message', (m: FromLauncher) => {
      switch (m.type) {
        case 'ready':
          markReady();
          return;
        case 'started':
        case 'failed': {
          const job = slot.busy;
          if (!job || job.id !== m.id) return; // a reply to a start we already gave up on
          clearTimeout(job.timer);
          slot.busy = null;
          if (m.type === 'started') job.resolve(m);
          else job.reject(new StartError(m.failure));
          this.release(slot);
          return;
        }
        default:
          unreachable(m, `launcher IPC: message from launcher worker ${index}`);
      }
    });
    child.on('exit', (code, signal) => {
      const reason = slot.timedOut ? `hung for more than ${this.startTimeoutMs} ms and was killed`
        : signal ? `was killed by ${signal}` : `exited with code ${code}`;
      this.replace(slot, reason);
    });
    child.on('error', () => { /* 'exit' follows and replaces it */ });
    return slot;
  }

  private replace(slot: Slot, reason: string): void {
    const job = slot.busy;
    slot.busy = null;
    if (job) {
      clearTimeout(job.timer);
      job.reject(new StartError({ message: `launcher worker ${slot.index} ${reason} during the start; the start was not retried`, exitCode: 125 }));
    }
    const i = this.idle.indexOf(slot);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.closed) return;
    const fresh = this.spawn(slot.index);
    this.slots[this.slots.indexOf(slot)] = fresh;
    this.events.onRestart?.(slot.index, reason);
    void fresh.ready.then(() => this.release(fresh));
  }

  private release(slot: Slot): void {
    if (this.closed || !this.slots.includes(slot)) return;
    const w = this.waiters.shift();
    if (w) w(slot);
    else this.idle.push(slot);
  }

  private acquire(): Promise<Slot> {
    const s = this.idle.shift();
    if (s) return Promise.resolve(s);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Runs one start on an idle worker; resolves with PID 1's pid and start time. */
  async start(request: StartRequest): Promise<StartedInit> {
    const { pid, startTime } = (await this.run((id) => ({ type: 'start', id, request }))).launched;
    return { pid, startTime: startTime ?? null };
  }

  /** Runs one exec on an idle worker (the same slots and timeout as a start); resolves with the exec's pid. */
  async exec(request: ExecRequest): Promise<number> {
    return (await this.run((id) => ({ type: 'exec', id, request }))).launched.pid;
  }

  /** An exec with `console: {kind: 'container-pty'}`: resolves once it has exec'd, its pty's master held by the worker. */
  async execWithPty(request: ExecRequest): Promise<ExecWithPty> {
    const { launched, slot } = await this.run((id) => ({ type: 'exec', id, request }));
    const child = slot.child;
    const fd = launched.fd;
    if (fd === undefined || child.pid === undefined) throw new StartError({ message: 'launcher: the exec\'s pty master did not come back', exitCode: 125 });
    let released = false;
    return {
      pid: launched.pid,
      master: { pid: child.pid, fd },
      release: () => {
        // A worker that died (and was replaced) took its fds with it.
        if (released || !child.connected) return;
        released = true;
        try {
          child.send({ type: 'release', fd } satisfies ToLauncher);
        } catch {
          // its channel closed meanwhile: the worker is exiting, and its fds go with it
        }
      },
    };
  }

  private async run(message: (id: number) => ToLauncher): Promise<{ launched: Launched; slot: Slot }> {
    if (this.closed) throw new StartError({ message: 'skiffd is shutting down', exitCode: 125 });
    const slot = await this.acquire();
    await slot.ready;
    const id = this.nextId++;
    return new Promise<{ launched: Launched; slot: Slot }>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A hung worker: kill it; 'exit' replaces it and fails this start with the reason.
        slot.timedOut = true;
        slot.child.kill('SIGKILL');
      }, this.startTimeoutMs);
      slot.busy = { id, resolve: (launched) => resolve({ launched, slot }), reject, timer };
      slot.child.send(message(id));
    });
  }

  /**
   * Stops every worker (SIGTERM). The promise settles once all have exited and been reaped;
   * skiffd need not wait for it, the start benchmark does (a reaped worker's CPU time then
   * counts in getrusage(RUSAGE_CHILDREN)).
   */
  close(): Promise<void> {
    this.closed = true;
    return Promise.all(this.slots.map((s) => new Promise<void>((resolve) => {
      if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
      s.child.once('exit', () => resolve());
      s.child.kill('SIGTERM');
    }))).then(() => undefined);
  }
}
