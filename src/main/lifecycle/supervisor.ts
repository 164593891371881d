// The supervisor: every container skiffd knows and its lifecycle (states.ts draws the
// states), the bounded start queue, exits, restart policies, stop/kill/rm. It speaks in
// domain errors (errors.ts); the API layer alone turns them into HTTP statuses.
import PQueue from 'p-queue';
import { hasOverlayRoot, validateSpec, type ContainerSpec } from '../../spec/container.js';
import { liveStartTime } from '../../sys/proc.js';
import { StartError, type StartRequest } from '../../workers/start.js';
import type { LaunchConsole } from '../../workers/plan.js';
import type { EventBus } from '../events.js';
import { log } from '../log.js';
import type { Metrics } from '../metrics.js';
import { ConsoleHolds, type ConsoleService } from './console-holds.js';
import { Conflict, InvalidArgument, NotFound, QueueFull, StartFailed, Unavailable } from './errors.js';
import type { LauncherPool } from './launcher-pool.js';
import type { ExitStatus, Reaper } from './reaper.js';
import { newRecord, type ContainerRecord } from './record.js';
import { signalNumber } from './signals.js';
import type { StateStore } from './state-store.js';
import { isActive, isRemoved, restartDelayMs, shouldRestart, transition } from './states.js';
import { StrayReaper } from './strays.js';
import { Waiters, type WaitCondition } from './waiters.js';

export type { ConsoleService } from './console-holds.js';

export { WAIT_CONDITIONS, type WaitCondition } from './waiters.js';

interface Live {
  signal: (sig: number) => void;
  /** resolves once the exit is recorded (status, exit code, restart decided) */
  recorded: Promise<void>;
}

export interface SupervisorOptions {
  stateStore: StateStore;
  pool: LauncherPool;
  reaper: Reaper;
  events: EventBus;
  metrics: Metrics;
  consoles: ConsoleService | null;
  /** starts that may wait for a launcher before new ones are refused (QueueFull) */
  maxQueued: number;
  rootMount: string;
  /** host directories no container may see: skiffd's state directory, which holds its socket */
  hide: string[];
  /** extra fields for a container's start request (the test suite's failure injection) */
  startOptions?: (r: ContainerRecord) => Partial<StartRequest>;
}

export class Supervisor {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly live = new Map<string, Live>();
  private readonly waiters = new Waiters();
  /** launches in flight: settle(name) waits for one, the stray reaper for all */
  private readonly launching = new Map<string, Promise<void>>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly queue: PQueue;
  private readonly consoles: ConsoleHolds | null;
  private readonly strays: StrayReaper;

  constructor(private readonly o: SupervisorOptions) {
    this.queue = new PQueue({ concurrency: o.pool.size });
    this.consoles = o.consoles ? new ConsoleHolds(o.consoles, (name) => o.stateStore.dir(name)) : null;
    this.strays = new StrayReaper(o.reaper, () => this.knownPids(), () => [...this.launching.values()]);
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
      if (hits.length > 1) throw new InvalidArgument(`container id prefix ${ref} is ambiguous`);
    }
    throw new NotFound(`No such container: ${ref}`);
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
      const alive = r.pid !== null && r.pidStartTime !== null && liveStartTime(r.pid) === r.pidStartTime;
      if (alive && r.status === 'running') {
        try {
          this.watch(r, this.o.reaper.watch(r.pid!));
          log('info', 'adopted running container', { name: r.name, pid: r.pid });
          continue;
        } catch (err) {
          log('warn', 'could not adopt', { name: r.name, error: (err as Error).message });
        }
      }
      transition(r, 'exited');
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
      throw new Conflict(`Conflict. The container name "/${spec.name}" is already in use`);
    }
    const r = newRecord(spec, opts);
    try {
      this.o.stateStore.createDir(spec.name);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST') throw new Conflict(`Conflict. The state directory of "${spec.name}" already exists`);
      throw new Unavailable(`create state directory \`${this.o.stateStore.dir(spec.name)}\`: ${e.code}`);
    }
    this.records.set(spec.name, r);
    try {
      await this.consoles?.ensure(r);
    } catch (err) {
      this.records.delete(spec.name);
      this.o.stateStore.removeSync(spec.name);
      throw new Unavailable(`console for ${spec.name}: ${(err as Error).message}`);
    }
    await this.persist(r);
    this.o.events.emit('create', this.actor(r));
    return r;
  }

  /**
   * Queues a start and resolves once PID 1 has exec'd (or rejects with StartFailed). A full
   * queue refuses at once (QueueFull): callers never wait behind an unbounded backlog.
   * Starting an active container is a no-op, as Docker's 304.
   */
  async start(ref: string): Promise<ContainerRecord> {
    const r = this.get(ref);
    if (isActive(r) && r.status !== 'restarting') return r;
    if (this.queueDepth() >= this.o.maxQueued) {
      this.o.metrics.countStart('rejected');
      throw new QueueFull(`start queue is full (${this.o.maxQueued} starts waiting); retry later`);
    }
    r.stoppedByUser = false;
    this.clearRestartTimer(r.name);
    return this.enqueue(r);
  }

  private async enqueue(r: ContainerRecord): Promise<ContainerRecord> {
    transition(r, 'queued');
    r.error = null;
    r.failure = null;
    // Not persisted: queued and starting are transient, and a restarted skiffd would mark
    // them exited anyway. Only created, running and the end of a run go to disk.
    const accepted = performance.now();
    await this.queue.add(() => {
      const p = this.launch(r, accepted);
      this.launching.set(r.name, p);
      return p.finally(() => {
        if (this.launching.get(r.name) === p) this.launching.delete(r.name);
      });
    });
    // The failure, even when --rm has removed the record since: the client must learn why.
    if (r.failure) throw new StartFailed(r.failure);
    return r;
  }

  private async launch(r: ContainerRecord, accepted: number): Promise<void> {
    if (r.status !== 'queued') return; // stopped or removed while queued
    transition(r, 'starting');
    let console: LaunchConsole = { kind: 'null' };
    try {
      // A console serves one run: a restart gets a fresh pty (and a fresh ring).
      if (this.consoles) console = { kind: 'pty', slavePath: await this.consoles.forRun(r) };
      const pid = await this.o.pool.start({
        spec: r.spec,
        rootMount: this.o.rootMount,
        layerDir: !hasOverlayRoot(r.spec) ? null : `${this.o.stateStore.dir(r.name)}/layer`,
        console,
        hide: this.o.hide,
        ...this.o.startOptions?.(r),
      });
      this.o.metrics.observeStartLatency(performance.now() - accepted);
      this.o.metrics.countStart('ok');
      this.consoles?.release(r);
      const handle = this.o.reaper.watch(pid);
      if (isRemoved(r)) {
        // Removed while its launch was in flight: nothing may keep running without a record.
        handle.signal(9);
        await handle.exited;
        return;
      }
      transition(r, 'running');
      r.pid = pid;
      r.pidStartTime = liveStartTime(pid);
      r.exitCode = null;
      r.signal = null;
      r.startedAt = new Date().toISOString();
      r.finishedAt = null;
      this.watch(r, handle);
      void this.persist(r);
      this.o.events.emit('start', this.actor(r));
    } catch (err) {
      await this.launchFailed(r, err, console);
    }
  }

  private async launchFailed(r: ContainerRecord, err: unknown, console: LaunchConsole): Promise<void> {
    this.o.metrics.countStart('failed');
    const failure = err instanceof StartError ? err.failure : { message: (err as Error).message, exitCode: 125 };
    if (isRemoved(r)) return;
    transition(r, 'failed');
    r.error = failure.message;
    r.failure = failure;
    r.exitCode = failure.exitCode;
    r.finishedAt = new Date().toISOString();
    if (this.consoles && console.kind === 'pty') {
      this.consoles.release(r);
      await this.consoles.exited(r);
    }
    void this.persist(r);
    this.o.events.emit('die', this.actor(r), { exitCode: String(failure.exitCode), error: failure.message });
    this.waiters.notify(r);
    if (err instanceof StartError && /launcher worker/.test(failure.message)) void this.strays.reap();
    // --rm: a container that never ran leaves nothing behind either (as Docker removes it).
    if (r.autoRemove) await this.remove(r.name, { force: true }).catch(() => undefined);
  }

  /** Resolves once no launch of this container is in flight (a start cannot be cancelled). */
  async settle(name: string): Promise<void> {
    await this.launching.get(name);
  }

  private watch(r: ContainerRecord, handle: { signal: (sig: number) => void; exited: Promise<ExitStatus> }): void {
    this.live.set(r.name, { signal: handle.signal, recorded: handle.exited.then((st) => this.onExit(r, st)) });
  }

  private async onExit(r: ContainerRecord, st: ExitStatus): Promise<void> {
    this.live.delete(r.name);
    await this.consoles?.exited(r);
    r.pid = null;
    r.exitCode = st.exitCode;
    r.signal = st.signal;
    r.error = st.unknown ? 'exit status unknown (adopted after a daemon restart)' : null;
    r.finishedAt = new Date().toISOString();
    this.o.events.emit('die', this.actor(r), { exitCode: String(st.exitCode) });
    if (isRemoved(r)) return;
    if (shouldRestart(r)) {
      transition(r, 'restarting');
      await this.persist(r);
      this.waiters.notify(r);
      this.restartTimers.set(r.name, setTimeout(() => {
        this.restartTimers.delete(r.name);
        if (r.status !== 'restarting' || r.stoppedByUser) return;
        r.restartCount++;
        this.o.events.emit('restart', this.actor(r));
        void this.enqueue(r).catch(() => undefined);
      }, restartDelayMs(r.restartCount)));
      return;
    }
    transition(r, 'exited');
    await this.persist(r);
    this.waiters.notify(r);
    if (r.autoRemove) await this.remove(r.name, { force: true }).catch(() => undefined);
  }

  private clearRestartTimer(name: string): void {
    const t = this.restartTimers.get(name);
    if (t) clearTimeout(t);
    this.restartTimers.delete(name);
  }

  // ── wait / stop / kill / remove ──
  wait(ref: string, condition: WaitCondition = 'not-running'): Promise<ContainerRecord> {
    return this.waiters.wait(this.get(ref), condition);
  }

  /** Sends the stop signal, then SIGKILL after the timeout; resolves once PID 1 has exited. */
  async stop(ref: string, timeoutSec?: number, signal?: string): Promise<ContainerRecord> {
    const r = this.get(ref);
    const sig = signalNumber(signal ?? r.spec.stopSignal);
    r.stoppedByUser = true;
    this.clearRestartTimer(r.name);
    if (r.status === 'restarting' || r.status === 'queued') {
      transition(r, 'exited');
      await this.persist(r);
      this.waiters.notify(r);
      return r;
    }
    // A start in a launcher cannot be cancelled: let it finish, so its PID 1 is known and stopped.
    await this.settle(r.name);
    const live = this.live.get(r.name);
    if (!live) return r;
    this.o.events.emit('kill', this.actor(r), { signal: String(sig) });
    this.safeSignal(live, sig);
    const timer = setTimeout(() => this.safeSignal(live, 9), (timeoutSec ?? r.spec.stopTimeout) * 1000);
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

  kill(ref: string, signal: string | number = 'SIGKILL'): ContainerRecord {
    const r = this.get(ref);
    const sig = signalNumber(signal);
    const live = this.live.get(r.name);
    if (!live) throw new Conflict(`Container ${r.name} is not running`);
    if (sig === 9 || sig === 15) r.stoppedByUser = true;
    this.o.events.emit('kill', this.actor(r), { signal: String(sig) });
    live.signal(sig);
    return r;
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    const r = this.get(ref);
    if (isActive(r) && r.status !== 'restarting' && !opts.force) {
      throw new Conflict(`You cannot remove a running container ${r.name}. Stop the container before attempting removal or force remove`);
    }
    r.stoppedByUser = true;
    this.clearRestartTimer(r.name);
    const live = this.live.get(r.name);
    if (live) {
      this.safeSignal(live, 9);
      await live.recorded;
    }
    if (isRemoved(r)) return; // removed meanwhile (auto-remove)
    transition(r, 'removed');
    this.records.delete(r.name);
    await this.consoles?.close(r);
    await this.o.stateStore.remove(r.name);
    this.o.events.emit('destroy', this.actor(r));
    this.waiters.notify(r);
  }

  private persist(r: ContainerRecord): Promise<void> {
    if (isRemoved(r)) return Promise.resolve();
    return this.o.stateStore.save(r).catch((err: Error) => log('error', 'state write failed', { name: r.name, error: err.message }));
  }

  actor(r: ContainerRecord): { id: string; name: string; image: string; labels: Record<string, string> } {
    return { id: r.id, name: r.name, image: r.spec.fromImage?.ref ?? r.spec.image ?? r.spec.rootfs, labels: r.spec.labels };
  }

  /** Every pid skiffd accounts for: its launchers and its containers' PID 1s. */
  private knownPids(): Set<number> {
    const known = new Set<number>(this.o.pool.pids());
    for (const r of this.records.values()) if (r.pid !== null) known.add(r.pid);
    return known;
  }

  async shutdown(): Promise<void> {
    for (const t of this.restartTimers.values()) clearTimeout(t);
    this.queue.clear();
    await this.o.stateStore.flush();
  }
}
