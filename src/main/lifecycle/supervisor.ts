// The supervisor: every container skiffd knows, its lifecycle (create → queued → starting →
// running → exited/failed), the bounded start queue, exits, restart policies, stop/kill/rm.
import { readFileSync, readdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import PQueue from 'p-queue';
import { validateSpec, type ContainerSpec } from '../../spec/container.js';
import { StartError } from '../../workers/start.js';
import { closeSlave, makeRaw, openSlave } from '../../sys/termios.js';
import type { LaunchConsole } from '../../workers/plan.js';
import type { EventBus } from '../events.js';
import type { LauncherPool } from './launcher-pool.js';
import { log } from '../log.js';
import type { Metrics } from '../metrics.js';
import { isActive, newRecord, type ContainerRecord } from './record.js';
import type { ExitStatus, Reaper } from './reaper.js';
import type { StateStore } from './state-store.js';

/** What the supervisor needs of the console forwarder (src/forwarder's ConsoleHub). */
export interface ConsoleService {
  open(id: string, opts: { buffer: number; logPath: string | null; logMax: number }): Promise<{ slavePath: string }>;
  exited(id: string): Promise<void>;
  remove(id: string): Promise<void>;
}

interface ConsoleState {
  slavePath: string;
  /** a PID 1 has used this pty: the next start needs a fresh one */
  used: boolean;
  /** skiffd's own fd on the slave, until PID 1 holds it */
  hold: number | null;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
  }
}

interface Live {
  signal: (sig: number) => void;
  /** resolves once the exit is recorded (status, exit code, restart decided) */
  recorded: Promise<void>;
}

const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 30_000;

export function signalNumber(sig: string | number): number {
  if (typeof sig === 'number') return sig;
  if (/^\d+$/.test(sig)) return Number(sig);
  const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
  const n = (osConstants.signals as Record<string, number>)[name];
  if (n === undefined) throw new ApiError(400, `unknown signal ${JSON.stringify(sig)}`);
  return n;
}

/** The start time of a live process (not a zombie), or null: with the pid, it names one process for good. */
function procStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name's closing parenthesis: state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return Number(fields[19]);
  } catch {
    return null;
  }
}

/** Test-only: with test hooks on, the launch fails at this operation index (see StartRequest.failAt). */
export const FAIL_AT_LABEL = 'skiff.test.fail-at';

export interface SupervisorOptions {
  stateStore: StateStore;
  pool: LauncherPool;
  reaper: Reaper;
  events: EventBus;
  metrics: Metrics;
  consoles: ConsoleService | null;
  /** starts that may wait for a launcher before new ones get 429 */
  maxQueued: number;
  rootMount: string;
  /** host directories no container may see: skiffd's state directory, which holds its socket */
  hide: string[];
  /** honour the test-only label skiff.test.fail-at=<operation index> (failure injection) */
  testHooks: boolean;
}

export class Supervisor {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly live = new Map<string, Live>();
  private readonly waiters = new Map<string, { condition: WaitCondition; resolve: (r: ContainerRecord) => void }[]>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly queue: PQueue;
  /** Open consoles by container name: 'fresh' until a PID 1 has used it, then 'used'. */
  private readonly consoleState = new Map<string, ConsoleState>();

  constructor(private readonly o: SupervisorOptions) {
    this.queue = new PQueue({ concurrency: o.pool.size });
  }

  // ── lookup ──
  list(): ContainerRecord[] {
    return [...this.records.values()];
  }

  /** By name, full id, or unambiguous id prefix (as Docker accepts). */
  get(ref: string): ContainerRecord {
    const byName = this.records.get(ref.replace(/^\//, ''));
    if (byName) return byName;
    if (/^[0-9a-f]{3,64}$/.test(ref)) {
      const hits = this.list().filter((r) => r.id.startsWith(ref));
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) throw new ApiError(400, `container id prefix ${ref} is ambiguous`);
    }
    throw new ApiError(404, `No such container: ${ref}`);
  }

  stateDir(name: string): string {
    return this.o.stateStore.dir(name);
  }

  queueDepth(): number {
    return this.queue.size + this.queue.pending;
  }

  runningCount(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.status === 'running') n++;
    return n;
  }

  // ── start-up: rebuild from disk ──
  /** Reloads every container: live PID 1s are adopted as running, others marked exited (status unknown). */
  restore(): void {
    const records = this.o.stateStore.loadAll((name, err) => log('warn', 'unreadable state', { name, error: err.message }));
    for (const r of records) {
      // A record written by an older skiffd lacks the fields added since: give them their defaults.
      r.spec = { ...validateSpec({ name: r.spec.name, command: r.spec.command }), ...r.spec };
      this.records.set(r.name, r);
      if (!isActive(r)) continue;
      const alive = r.pid !== null && r.pidStartTime !== null && procStartTime(r.pid) === r.pidStartTime;
      if (alive && r.status === 'running') {
        try {
          this.watch(r, this.o.reaper.watch(r.pid!));
          log('info', 'adopted running container', { name: r.name, pid: r.pid });
          continue;
        } catch (err) {
          log('warn', 'could not adopt', { name: r.name, error: (err as Error).message });
        }
      }
      r.status = 'exited';
      r.error = 'status unknown (daemon was down)';
      r.exitCode = -1;
      r.pid = null;
      r.finishedAt = r.finishedAt ?? new Date().toISOString();
      void this.persist(r);
    }
  }

  // ── create / start ──
  async create(spec: ContainerSpec, opts: { autoRemove?: boolean; fleet?: string | null } = {}): Promise<ContainerRecord> {
    if (this.records.has(spec.name)) {
      throw new ApiError(409, `Conflict. The container name "/${spec.name}" is already in use`);
    }
    const r = newRecord(spec, opts);
    try {
      this.o.stateStore.createDir(spec.name);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST') throw new ApiError(409, `Conflict. The state directory of "${spec.name}" already exists`);
      throw new ApiError(500, `create state directory \`${this.o.stateStore.dir(spec.name)}\`: ${e.code}`);
    }
    this.records.set(spec.name, r);
    try {
      // The console exists from creation on, so a client can attach before the start (docker run does).
      await this.console(r);
    } catch (err) {
      this.records.delete(spec.name);
      this.o.stateStore.removeSync(spec.name);
      throw new ApiError(503, `console for ${spec.name}: ${(err as Error).message}`);
    }
    await this.persist(r);
    this.o.events.emit('create', this.actor(r));
    return r;
  }

  /**
   * Queues a start and resolves once PID 1 has exec'd (or rejects with the reason).
   * A full queue rejects at once with 429: callers never wait behind an unbounded backlog.
   */
  async start(ref: string): Promise<ContainerRecord> {
    const r = this.get(ref);
    if (r.status === 'running' || r.status === 'starting' || r.status === 'queued') return r; // Docker: 304-ish no-op
    if (this.queueDepth() >= this.o.maxQueued) {
      this.o.metrics.countStart('rejected');
      throw new ApiError(429, `start queue is full (${this.o.maxQueued} starts waiting); retry later`);
    }
    r.stoppedByUser = false;
    this.clearRestartTimer(r.name);
    return this.enqueue(r);
  }

  private async enqueue(r: ContainerRecord): Promise<ContainerRecord> {
    r.status = 'queued';
    r.error = null;
    r.failure = null;
    // Not persisted: queued and starting are transient, and a restarted skiffd would mark
    // them exited anyway. Only created, running and the end of a run go to disk.
    const accepted = performance.now();
    await this.queue.add(() => {
      const p = this.launch(r, accepted);
      this.inFlight.add(p);
      return p.finally(() => this.inFlight.delete(p));
    });
    if ((r.status as ContainerRecord['status']) === 'failed') {
      const f = r.failure as ContainerRecord['failure'];
      throw new ApiError(f && (f.exitCode === 126 || f.exitCode === 127) ? 400 : 500, r.error ?? 'start failed', f ? { ...f } : {});
    }
    return r;
  }

  /** Test-only failure injection, honoured only when skiffd runs with test hooks on. */
  private injectedFailure(r: ContainerRecord): { failAt?: { index: number; errno: number } } {
    const at = r.spec.labels[FAIL_AT_LABEL];
    if (!this.o.testHooks || at === undefined || !/^\d{1,4}$/.test(at)) return {};
    return { failAt: { index: Number(at), errno: 5 /* EIO */ } };
  }

  private async launch(r: ContainerRecord, accepted: number): Promise<void> {
    if (!this.records.has(r.name) || r.status !== 'queued') return; // removed or stopped while queued
    r.status = 'starting';
    let console: LaunchConsole = { kind: 'null' };
    try {
      if (this.o.consoles) {
        // A console serves one run: a restart gets a fresh pty (and a fresh ring).
        if (this.consoleState.get(r.name)?.used) await this.closeConsole(r);
        const c = await this.console(r);
        c.used = true;
        console = { kind: 'pty', slavePath: c.slavePath };
      }
      const pid = await this.o.pool.start({
        spec: r.spec,
        rootMount: this.o.rootMount,
        layerDir: r.spec.image === null ? null : `${this.o.stateStore.dir(r.name)}/layer`,
        console,
        hide: this.o.hide,
        ...this.injectedFailure(r),
      });
      this.o.metrics.observeStartLatency(performance.now() - accepted);
      this.o.metrics.countStart('ok');
      this.releaseHold(r);
      const handle = this.o.reaper.watch(pid);
      if (this.records.get(r.name) !== r) {
        // Removed while its launch was in flight: nothing may keep running without a record.
        handle.signal(9);
        await handle.exited;
        return;
      }
      r.status = 'running';
      r.pid = pid;
      r.pidStartTime = procStartTime(pid);
      r.exitCode = null;
      r.signal = null;
      r.startedAt = new Date().toISOString();
      r.finishedAt = null;
      this.watch(r, handle);
      this.o.events.emit('start', this.actor(r));
      // On disk before the start is answered: a skiffd killed right after must find the
      // container running (and adopt it), not still `created` with its PID 1 unaccounted for.
      await this.persist(r);
    } catch (err) {
      this.o.metrics.countStart('failed');
      const failure = err instanceof StartError ? err.failure : { message: (err as Error).message, exitCode: 125 };
      r.status = 'failed';
      r.error = failure.message;
      r.failure = failure;
      r.exitCode = failure.exitCode;
      r.finishedAt = new Date().toISOString();
      if (this.o.consoles && console.kind === 'pty') {
        this.releaseHold(r);
        await this.o.consoles.exited(r.id).catch(() => undefined);
      }
      void this.persist(r);
      this.o.events.emit('die', this.actor(r), { exitCode: String(failure.exitCode), error: failure.message });
      this.notify(r);
      if (err instanceof StartError && /launcher worker/.test(failure.message)) void this.reapStrays();
      // --rm: a container that never ran leaves nothing behind either (as Docker removes it).
      if (r.autoRemove) await this.remove(r.name, { force: true }).catch(() => undefined);
    }
  }

  /**
   * The container's open console, opened on first use. skiffd holds the slave until PID 1
   * has it (a master whose slave nobody holds reports hang-up, which would end the console
   * before the container starts), and sets raw mode on it when the container has no TTY.
   */
  private async console(r: ContainerRecord): Promise<ConsoleState> {
    const known = this.consoleState.get(r.name);
    if (known) return known;
    const consoles = this.o.consoles;
    if (!consoles) throw new Error('no console forwarder');
    const c = r.spec.console;
    const logPath = c.log === true ? `${this.o.stateStore.dir(r.name)}/console.log` : c.log === false ? null : c.log;
    const { slavePath } = await consoles.open(r.id, { buffer: c.buffer, logPath, logMax: c.logMax });
    let hold: number | null = null;
    try {
      hold = openSlave(slavePath);
      // Without a TTY the bytes pass unchanged (no echo, no \r added), as through Docker's pipes.
      if (!r.spec.tty) makeRaw(hold, slavePath);
    } catch (err) {
      if (hold !== null) closeSlave(hold);
      await consoles.remove(r.id).catch(() => undefined);
      throw err;
    }
    const state: ConsoleState = { slavePath, used: false, hold };
    this.consoleState.set(r.name, state);
    return state;
  }

  private releaseHold(r: ContainerRecord): void {
    const c = this.consoleState.get(r.name);
    if (c?.hold != null) {
      closeSlave(c.hold);
      c.hold = null;
    }
  }

  private async closeConsole(r: ContainerRecord): Promise<void> {
    if (!this.o.consoles || !this.consoleState.has(r.name)) return;
    this.releaseHold(r);
    this.consoleState.delete(r.name);
    await this.o.consoles.remove(r.id).catch(() => undefined);
  }

  private watch(r: ContainerRecord, handle: { signal: (sig: number) => void; exited: Promise<ExitStatus> }): void {
    this.live.set(r.name, { signal: handle.signal, recorded: handle.exited.then((st) => this.onExit(r, st)) });
  }

  private async onExit(r: ContainerRecord, st: ExitStatus): Promise<void> {
    this.live.delete(r.name);
    if (this.o.consoles) await this.o.consoles.exited(r.id).catch(() => undefined);
    r.status = 'exited';
    r.pid = null;
    r.exitCode = st.exitCode;
    r.signal = st.signal;
    r.error = st.unknown ? 'exit status unknown (adopted after a daemon restart)' : null;
    r.finishedAt = new Date().toISOString();
    this.o.events.emit('die', this.actor(r), { exitCode: String(st.exitCode) });
    if (this.records.get(r.name) !== r) return; // removed meanwhile
    if (this.shouldRestart(r)) {
      const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** r.restartCount);
      r.status = 'restarting';
      await this.persist(r);
      this.notify(r);
      this.restartTimers.set(r.name, setTimeout(() => {
        this.restartTimers.delete(r.name);
        if (this.records.get(r.name) !== r || r.stoppedByUser) return;
        r.restartCount++;
        this.o.events.emit('restart', this.actor(r));
        void this.enqueue(r).catch(() => undefined);
      }, delay));
      return;
    }
    await this.persist(r);
    this.notify(r);
    if (r.autoRemove) await this.remove(r.name, { force: true }).catch(() => undefined);
  }

  private shouldRestart(r: ContainerRecord): boolean {
    if (r.stoppedByUser) return false;
    const p = r.spec.restart;
    switch (p.name) {
      case 'no': return false;
      case 'always':
      case 'unless-stopped': return true;
      case 'on-failure': return r.exitCode !== 0 && (p.maxRetries === null || r.restartCount < p.maxRetries);
      default: return false;
    }
  }

  private clearRestartTimer(name: string): void {
    const t = this.restartTimers.get(name);
    if (t) clearTimeout(t);
    this.restartTimers.delete(name);
  }

  // ── wait / stop / kill / remove ──
  /**
   * Docker's wait conditions: `not-running` resolves at once for a container that is not
   * running, `next-exit` on the next exit or failed start, `removed` once it is removed.
   */
  wait(ref: string, condition: WaitCondition = 'not-running'): Promise<ContainerRecord> {
    const r = this.get(ref);
    if (condition === 'not-running' && !isActive(r)) return Promise.resolve(r);
    return new Promise((resolve) => {
      const list = this.waiters.get(r.name) ?? [];
      list.push({ condition, resolve });
      this.waiters.set(r.name, list);
    });
  }

  private notify(r: ContainerRecord, removed = false): void {
    if (!removed && isActive(r)) return;
    const list = this.waiters.get(r.name);
    if (!list) return;
    const keep = list.filter((w) => {
      if (w.condition === 'removed' && !removed) return true;
      w.resolve(r);
      return false;
    });
    if (keep.length) this.waiters.set(r.name, keep);
    else this.waiters.delete(r.name);
  }

  /** Sends the stop signal, then SIGKILL after the timeout; resolves once PID 1 has exited. */
  async stop(ref: string, timeoutSec?: number, signal?: string): Promise<ContainerRecord> {
    const r = this.get(ref);
    r.stoppedByUser = true;
    this.clearRestartTimer(r.name);
    if (r.status === 'restarting') {
      r.status = 'exited';
      await this.persist(r);
      this.notify(r);
      return r;
    }
    const live = this.live.get(r.name);
    if (!live) {
      if (r.status === 'queued') { r.status = 'exited'; this.notify(r); }
      return r;
    }
    const t = timeoutSec ?? r.spec.stopTimeout;
    this.o.events.emit('kill', this.actor(r), { signal: String(signalNumber(signal ?? r.spec.stopSignal)) });
    this.safeSignal(live, signalNumber(signal ?? r.spec.stopSignal));
    const timer = setTimeout(() => this.safeSignal(live, 9), t * 1000);
    await live.recorded;
    clearTimeout(timer);
    this.o.events.emit('stop', this.actor(r));
    return r;
  }

  private safeSignal(live: Live, sig: number): void {
    try {
      live.signal(sig);
    } catch {
      // ESRCH: it ended between our check and the signal; its exit is on its way.
    }
  }

  async kill(ref: string, signal: string | number = 'SIGKILL'): Promise<ContainerRecord> {
    const r = this.get(ref);
    const sig = signalNumber(signal);
    const live = this.live.get(r.name);
    if (!live) throw new ApiError(409, `Container ${r.name} is not running`);
    if (sig === 9 || sig === 15) r.stoppedByUser = true;
    this.o.events.emit('kill', this.actor(r), { signal: String(sig) });
    live.signal(sig);
    return r;
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    const r = this.get(ref);
    if (isActive(r) && r.status !== 'restarting' && !opts.force) {
      throw new ApiError(409, `You cannot remove a running container ${r.name}. Stop the container before attempting removal or force remove`);
    }
    r.stoppedByUser = true;
    this.clearRestartTimer(r.name);
    const live = this.live.get(r.name);
    if (live) {
      this.safeSignal(live, 9);
      await live.recorded;
    }
    if (this.records.get(r.name) !== r) return; // removed meanwhile (auto-remove)
    this.records.delete(r.name);
    await this.closeConsole(r);
    await this.o.stateStore.remove(r.name);
    this.o.events.emit('destroy', this.actor(r));
    this.notify(r, true);
  }

  private persist(r: ContainerRecord): Promise<void> {
    if (this.records.get(r.name) !== r) return Promise.resolve();
    return this.o.stateStore.save(r).catch((err: Error) => log('error', 'state write failed', { name: r.name, error: err.message }));
  }

  actor(r: ContainerRecord): { id: string; name: string; image: string } {
    return { id: r.id, name: r.name, image: r.spec.image ?? r.spec.rootfs };
  }

  /**
   * After a launcher died mid-start, its container's PID 1 may have exec'd and been
   * re-parented to us with nobody tracking it. Our children that are neither launchers
   * nor known containers, and still unknown once every start now in flight has
   * settled (so a concurrent start's PID 1 is never mistaken for one), are killed and reaped.
   */
  async reapStrays(): Promise<void> {
    const candidates = this.unknownChildren();
    await Promise.allSettled([...this.inFlight]);
    const still = new Set(this.unknownChildren());
    for (const pid of candidates) {
      if (!still.has(pid)) continue;
      try {
        this.o.reaper.watch(pid).signal(9);
        log('warn', 'killed a stray container process left by a dead launcher', { pid });
      } catch {
        // gone already
      }
    }
  }

  private unknownChildren(): number[] {
    const known = new Set<number>(this.o.pool.pids());
    for (const r of this.records.values()) if (r.pid !== null) known.add(r.pid);
    const out: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || known.has(Number(entry))) continue;
      try {
        const status = readFileSync(`/proc/${entry}/status`, 'utf8');
        if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) === process.pid) out.push(Number(entry));
      } catch {
        // exited while we looked
      }
    }
    return out;
  }

  async shutdown(): Promise<void> {
    for (const t of this.restartTimers.values()) clearTimeout(t);
    this.queue.clear();
    await this.o.stateStore.flush();
  }
}
