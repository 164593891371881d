// The supervisor: every container skiffd knows and its lifecycle (states.ts draws the
// states), the bounded start queue, exits, restart policies, stop/kill/rm. It speaks in
// domain errors (errors.ts); the API layer alone turns them into HTTP statuses.
import { hasOverlayRoot, type ContainerSpec } from '../../spec/container.js';
import { StartError, type StartRequest } from '../../workers/start.js';
import type { LaunchConsole } from '../../workers/plan.js';
import type { NetworkHooks } from './network-hooks.js';
import type { EventBus } from '../events.js';
import { log } from '../log.js';
import type { Metrics } from '../metrics.js';
import { ConsoleHolds, type ConsoleService, type KeptConsole } from './console-holds.js';
import { Conflict, QueueFull, StartFailed, Unavailable } from './errors.js';
import type { LauncherPool } from './launcher-pool.js';
import type { ExitStatus, Reaper } from './reaper.js';
import { newRecord, type ContainerRecord } from './record.js';
import { adoptConsoles, restoreContainers } from './recovery.js';
import { signalNumber } from './signals.js';
import type { StateStore } from './state-store.js';
import { isActive, isRemoved, restartDelayMs, shouldRestart, transition } from './states.js';
import { StrayReaper, type ProcessSource } from './strays.js';
import type { CgroupSample, Cgroups } from '../cgroups/cgroups.js';
import { ContainerCgroups } from './container-cgroups.js';
import type { ResourcesSpec } from '../../spec/resources.js';
import { Registry } from './registry.js';
import { Runs } from './runs.js';
import { Waiters, type WaitCondition } from './waiters.js';
import { StartQueue } from './start-queue.js';
import { renameContainer } from './rename.js';

export type { ConsoleService, KeptConsole } from './console-holds.js';

export { WAIT_CONDITIONS, type WaitCondition } from './waiters.js';

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
  /** bridge networks (src/main/networks): an address at create, a veth at each start, DNS names while running */
  networks?: NetworkHooks;
  /** a cgroup per container (src/main/cgroups); null: none (a host without cgroups) */
  cgroups?: Cgroups | null;
  /** skiffd --default-pids-limit: the pids limit of a container that sets none */
  defaultPidsLimit?: number | null;
  /** extra fields for a container's start request (the test suite's failure injection) */
  startOptions?: (r: ContainerRecord) => Partial<StartRequest>;
}

export type { NetworkHooks } from './network-hooks.js';
export type { ProcessSource } from './strays.js';

export class Supervisor {
  private readonly records = new Registry();
  private readonly waiters = new Waiters();
  private readonly runs = new Runs();
  private readonly queue: StartQueue;
  private readonly consoles: ConsoleHolds | null;
  private readonly cg: ContainerCgroups;
  private readonly strays: StrayReaper;

  constructor(private readonly o: SupervisorOptions) {
    this.queue = new StartQueue(o.pool.size);
    this.consoles = o.consoles ? new ConsoleHolds(o.consoles, (name) => o.stateStore.dir(name)) : null;
    this.cg = new ContainerCgroups(o.cgroups ?? null, o.defaultPidsLimit ?? null, {
      poller: o.reaper,
      onOom: (r) => this.o.events.emit('oom', this.actor(r)),
    });
    // Every pid skiffd accounts for itself: its launchers, the console keeper's, its containers' PID 1s.
    this.strays = new StrayReaper(o.reaper, {
      pids: () => [...o.pool.pids(), ...o.consoles?.pids?.() ?? [], ...this.records.pids()],
      inFlight: () => this.runs.inFlight(),
    });
  }

  // ── lookup ──
  list(): ContainerRecord[] {
    return this.records.list();
  }

  /** By name, full id, or unambiguous id prefix (as Docker accepts). */
  get(ref: string): ContainerRecord {
    return this.records.get(ref);
  }

  stateDir(name: string): string {
    return this.o.stateStore.dir(name);
  }

  queueDepth(): number {
    return this.queue.size + this.queue.pending;
  }

  runningCount(): number {
    return this.records.runningCount();
  }

  /** Removed containers whose directories are still being deleted. */
  removalBacklog(): number {
    return this.o.stateStore.removalBacklog();
  }

  // ── start-up: rebuild from disk (recovery.ts) ──
  /** Reloads every container (recovery.ts). Call once the previous skiffd's launchers are gone (old-launchers.ts). */
  async restore(): Promise<void> {
    await restoreContainers({
      stateStore: this.o.stateStore, reaper: this.o.reaper, cg: this.cg,
      add: (r) => this.records.add(r), watch: (r, handle) => this.watch(r, handle),
      lost: (r) => this.lost(r), resumed: (r, pid, startTime) => this.resumed(r, pid, startTime),
    });
  }

  /** Restored as active with its PID 1 gone: exited, status unknown. */
  private lost(r: ContainerRecord): void {
    transition(r, 'exited');
    // Whatever of it still runs in its cgroup (PID 1 is gone) is killed and the cgroup removed.
    void this.cg.finishLost(r);
    Object.assign(r, { error: 'status unknown (daemon was down)', exitCode: -1, pid: null, finishedAt: r.finishedAt ?? new Date().toISOString() });
    void this.persist(r);
  }

  /** The PID 1 of a start a crash interrupted, found in its cgroup and watched: the record says running. */
  private resumed(r: ContainerRecord, pid: number, startTime: number): void {
    // The moves the start made while nobody recorded them.
    for (const s of ['queued', 'starting', 'running'] as const) transition(r, s);
    Object.assign(r, { pid, pidStartTime: startTime, exitCode: null, signal: null, error: null, failure: null, startedAt: new Date().toISOString(), finishedAt: null });
    void this.persist(r, { durable: true });
  }

  /** After restore(): the consoles the forwarder kept across the restart go back to their containers. */
  async adoptConsoles(kept: KeptConsole[]): Promise<void> {
    await adoptConsoles(this.consoles, this.records.list(), kept);
  }

  // ── create / start ──
  async create(spec: ContainerSpec, opts: { autoRemove?: boolean; fleet?: string | null } = {}): Promise<ContainerRecord> {
    if (this.records.named(spec.name)) {
      throw new Conflict(`Conflict. The container name "/${spec.name}" is already in use`);
    }
    this.cg.check(spec.resources);
    const r = newRecord(spec, opts);
    await this.o.networks?.attach(r);
    try {
      // The directory and its first record in one step: the answered create is on disk.
      this.o.stateStore.create(r);
    } catch (err) {
      await this.o.networks?.detach(r);
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST') throw new Conflict(`Conflict. The state directory of "${spec.name}" already exists`);
      throw new Unavailable(`create state directory \`${this.o.stateStore.dir(spec.name)}\`: ${e.code ?? e.message}`);
    }
    this.records.add(r);
    // Asked for, not waited for (console-holds.ts): the start waits for it, and reports its failure.
    this.consoles?.openEarly(r, (err) => log('warn', 'console open failed; the start tries again', { name: r.name, error: err.message }));
    this.o.events.emit('create', this.actor(r));
    return r;
  }

  /** Resolves once the console a create asked for has been opened (or has failed): attach, logs and resize wait for it. */
  async consoleOpened(r: ContainerRecord): Promise<void> {
    await this.consoles?.opened(r);
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
    this.runs.cancelRestart(r.id);
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
      return this.runs.launched(r.id, this.launch(r, accepted));
    });
    // The failure, even when --rm has removed the record since: the client must learn why.
    if (r.failure) throw new StartFailed(r.failure);
    // The start is answered only once `running` (with the pid) is written: a skiffd killed
    // right after must find the container to adopt, not a record that says it never ran. A
    // record of a page or less was written in place at the launch (its sync runs on in the
    // background); a larger one goes through a synced temp file, waited for here, outside the
    // queue's slot.
    await this.o.stateStore.settle(r.name);
    return r;
  }

  private async launch(r: ContainerRecord, accepted: number): Promise<void> {
    if (r.status !== 'queued') return; // stopped or removed while queued
    transition(r, 'starting');
    let console: LaunchConsole = { kind: 'null' };
    try {
      const cgroupProcs = this.cg.make(r);
      // A console serves one run: a restart gets a fresh pty (and a fresh ring).
      if (this.consoles) console = await this.consoles.forRun(r);
      const net = this.o.networks?.launch(r, this.o.stateStore.dir(r.name));
      const { pid, startTime } = await this.o.pool.start({
        ...(net ? { net } : {}),
        ...(cgroupProcs ? { cgroupProcs } : {}),
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
        await this.cg.finish(r);
        return;
      }
      transition(r, 'running');
      r.pid = pid;
      r.pidStartTime = startTime;
      r.exitCode = null;
      r.signal = null;
      r.startedAt = new Date().toISOString();
      r.finishedAt = null;
      this.watch(r, handle);
      this.o.networks?.running(r);
      // The run's one durable write: what a restarted skiffd needs to adopt this PID 1.
      void this.persist(r, { durable: true });
      this.o.events.emit('start', this.actor(r));
    } catch (err) {
      await this.launchFailed(r, err, console);
    }
  }

  private async launchFailed(r: ContainerRecord, err: unknown, console: LaunchConsole): Promise<void> {
    this.o.metrics.countStart('failed');
    const failure = err instanceof StartError ? err.failure : { message: (err as Error).message, exitCode: 125 };
    // Nothing ran in it (PID 1 never exec'd, or died with the launch): only the directories go.
    await this.cg.finish(r);
    if (isRemoved(r)) return;
    transition(r, 'failed');
    r.error = failure.message;
    r.failure = failure;
    r.exitCode = failure.exitCode;
    r.finishedAt = new Date().toISOString();
    if (this.consoles && console.kind !== 'null') {
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
    await this.runs.settled(this.get(name).id);
  }

  private watch(r: ContainerRecord, handle: { signal: (sig: number) => void; exited: Promise<ExitStatus> }): void {
    this.runs.watch(r.id, handle, (st) => this.onExit(r, st));
  }

  private async onExit(r: ContainerRecord, st: ExitStatus): Promise<void> {
    // Exited only once nothing of it runs: its cgroup emptied and removed, its OOM kills read.
    // The console's drain goes side by side with that (one keeper round trip off the exit's
    // path): the forwarder reads until end of file, which the cgroup's last process gives it.
    const drained = this.consoles?.exited(r);
    await this.cg.finish(r);
    this.runs.ended(r.id);
    this.o.networks?.stopped(r);
    await drained;
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
      this.runs.restartAfter(r.id, restartDelayMs(r.restartCount), () => {
        if (r.status !== 'restarting' || r.stoppedByUser) return;
        r.restartCount++;
        this.o.events.emit('restart', this.actor(r));
        void this.enqueue(r).catch(() => undefined);
      });
      return;
    }
    transition(r, 'exited');
    // An auto-removed container's record goes next, so `exited` is not written: a skiffd killed
    // before the removal lands finds it `running` with its PID 1 gone, and marks it exited then.
    if (!r.autoRemove) await this.persist(r);
    this.waiters.notify(r);
    if (r.autoRemove) await this.remove(r.name, { force: true }).catch(() => undefined);
  }

  // ── wait / stop / kill / remove ──
  wait(ref: string, condition: WaitCondition = 'not-running'): Promise<ContainerRecord> {
    return this.waiters.wait(this.get(ref), condition);
  }

  /** The record if the condition holds already (wait() would resolve at once), else null. */
  waitMet(ref: string, condition: WaitCondition): ContainerRecord | null {
    const r = this.get(ref);
    return Waiters.met(r, condition) ? r : null;
  }

  /** Sends the stop signal, then SIGKILL after the timeout; resolves once PID 1 has exited. */
  async stop(ref: string, timeoutSec?: number, signal?: string): Promise<ContainerRecord> {
    const r = this.get(ref);
    const sig = signalNumber(signal ?? r.spec.stopSignal);
    r.stoppedByUser = true;
    this.runs.cancelRestart(r.id);
    if (r.status === 'restarting' || r.status === 'queued') {
      transition(r, 'exited');
      await this.persist(r);
      this.waiters.notify(r);
      return r;
    }
    // A start in a launcher cannot be cancelled: let it finish, so its PID 1 is known and stopped.
    await this.runs.settled(r.id);
    if (!this.runs.running(r.id)) return r;
    this.o.events.emit('kill', this.actor(r), { signal: String(sig) });
    this.runs.signal(r.id, sig);
    const timer = setTimeout(() => this.killAll(r), (timeoutSec ?? r.spec.stopTimeout) * 1000);
    await this.runs.recorded(r.id);
    clearTimeout(timer);
    this.o.events.emit('stop', this.actor(r));
    return r;
  }

  /** SIGKILL to PID 1 and to everything else in its cgroup (what joined it from outside too). */
  private killAll(r: ContainerRecord): void {
    this.runs.signal(r.id, 9);
    this.cg.killAll(r);
  }

  kill(ref: string, signal: string | number = 'SIGKILL'): ContainerRecord {
    const r = this.get(ref);
    const sig = signalNumber(signal);
    if (!this.runs.running(r.id)) throw new Conflict(`Container ${r.name} is not running`);
    if (sig === 9 || sig === 15) r.stoppedByUser = true;
    this.o.events.emit('kill', this.actor(r), { signal: String(sig) });
    this.runs.signal(r.id, sig);
    if (sig === 9) this.cg.killAll(r);
    return r;
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    const r = this.get(ref);
    if (isActive(r) && r.status !== 'restarting' && !opts.force) {
      throw new Conflict(`You cannot remove a running container ${r.name}. Stop the container before attempting removal or force remove`);
    }
    r.stoppedByUser = true;
    this.runs.cancelRestart(r.id);
    if (this.runs.running(r.id)) {
      this.killAll(r);
      await this.runs.recorded(r.id);
    }
    if (isRemoved(r)) return; // removed meanwhile (auto-remove)
    transition(r, 'removed');
    this.records.drop(r.name);
    await this.o.networks?.detach(r).catch((err: Error) => log('error', 'network detach failed', { name: r.name, error: err.message }));
    // Not waited for: the forwarder's reply is off the removal's path (skiffd's fds go at once,
    // and the id is never used again; a keeper that misses it holds a console no record names,
    // which the next skiffd's adoption removes).
    void this.consoles?.close(r);
    await this.o.stateStore.remove(r.name);
    this.o.events.emit('destroy', this.actor(r));
    this.waiters.notify(r);
  }

  // ── rename ──
  /** `docker rename` (rename.ts): the name index and the state directory move; all else is keyed by id. */
  async rename(ref: string, name: string): Promise<ContainerRecord> {
    const r = this.get(ref);
    const oldName = r.name;
    // A console open in flight names the log by the old directory: it lands before the move.
    await this.consoles?.opened(r);
    await renameContainer(r, name, {
      records: this.records, store: this.o.stateStore, launching: (id) => this.runs.isLaunching(id), persist: (x) => this.persist(x),
      also: (from, to) => this.o.networks?.renamed(from, to),
    });
    this.o.events.emit('rename', this.actor(r), { oldName: `/${oldName}` });
    return r;
  }

  /** docker update: new limits, written at once to a running container's cgroup and kept for its next run. */
  async update(ref: string, res: ResourcesSpec): Promise<ContainerRecord> {
    const r = this.get(ref);
    this.cg.update(r, res);
    r.spec = { ...r.spec, resources: res };
    await this.persist(r);
    this.o.events.emit('update', this.actor(r));
    return r;
  }

  /** Writes a record changed outside the supervisor (its health: src/main/health). */
  save(r: ContainerRecord): Promise<void> {
    return this.persist(r);
  }

  /**
   * restartOnUnhealthy: stops the container as a failure, not as a user's stop, so its restart
   * policy decides what follows (the stop signal, then SIGKILL after its stop timeout).
   */
  async stopUnhealthy(ref: string): Promise<void> {
    const r = this.get(ref);
    if (!this.runs.running(r.id)) return;
    const sig = signalNumber(r.spec.stopSignal);
    this.o.events.emit('kill', this.actor(r), { signal: String(sig) });
    this.runs.signal(r.id, sig);
    const timer = setTimeout(() => this.killAll(r), r.spec.stopTimeout * 1000);
    await this.runs.recorded(r.id);
    clearTimeout(timer);
  }

  /** The cgroup.procs files of a running container's cgroup (null when it has none): an exec joins them. */
  cgroupProcs(r: ContainerRecord): string[] | null {
    return this.cg.procsOf(r);
  }

  /** More of skiffd's children that are no strays (the execs' processes), and their launches in flight. */
  addProcesses(source: ProcessSource): void {
    this.strays.add(source);
  }

  /** After a launcher died mid-launch (a start's or an exec's): kill what it may have left running unknown. */
  reapStrays(): void {
    void this.strays.reap();
  }

  /** The cgroup's counters of a running container (null when it has none). */
  sample(ref: string): CgroupSample | null {
    return this.cg.sample(this.get(ref));
  }

  private persist(r: ContainerRecord, opts: { durable?: boolean } = {}): Promise<void> {
    if (isRemoved(r)) return Promise.resolve();
    return this.o.stateStore.save(r, opts).catch((err: Error) => log('error', 'state write failed', { name: r.name, error: err.message }));
  }

  actor(r: ContainerRecord): { id: string; name: string; image: string; labels: Record<string, string> } {
    return { id: r.id, name: r.name, image: r.spec.fromImage?.ref ?? r.spec.image ?? r.spec.rootfs, labels: r.spec.labels };
  }

  async shutdown(): Promise<void> {
    this.runs.cancelAllRestarts();
    this.queue.clear();
    this.cg.close();
    await this.o.stateStore.flush();
  }
}
