// Execs: processes started in a running container (docker exec, health probes). Each one is
// launched by a launcher worker with an exec plan (src/workers/exec.ts), becomes skiffd's child
// like a PID 1 (skiffd is the subreaper) and is reaped through its pidfd. Its stdio is pipes
// skiffd reads itself (stdio.ts), or, with a TTY, a console of the forwarder of its own with a
// small ring, removed when the exec ends. Records live in
// memory only, as Docker's do: an ended exec's is dropped a while after its end, and every exec
// of a container when the container is removed. An exec dies with its container: it is in the
// container's pid namespace (the kernel kills it when PID 1 dies) and cgroup (killed with it).
// Health probes, execs without a record, are run by probe-runner.ts through this one's launch.
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { UserSpec } from '../../spec/container.js';
import type { StartFailure } from '../../workers/start.js';
import type { ExecRequest } from '../../workers/exec.js';
import { StartError } from '../../workers/start.js';
import { mergeEnv, type ExecProcess } from '../../workers/exec-plan.js';
import type { EventBus } from '../events.js';
import type { ConsoleAccess } from '../http/container-streams.js';
import { launchConsoleOf, openHeld, releaseHeld, type ConsoleService } from '../lifecycle/console-holds.js';
import { Conflict, InvalidArgument, NotFound, StartFailed, Unsupported } from '../lifecycle/errors.js';
import type { LauncherPool } from '../lifecycle/launcher-pool.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import type { Reaper } from '../lifecycle/reaper.js';
import type { Supervisor } from '../lifecycle/supervisor.js';
import { log } from '../log.js';
import { containerUser } from './container-user.js';
import { ExecEvents } from './events.js';
import type { RunProbe } from './probe.js';
import { ProbeRunner } from './probe-runner.js';
import { DirectStdio } from './stdio.js';

/** What an exec runs and how it is attached: Docker's exec create body, validated. */
export interface ExecConfig {
  cmd: string[];
  /** added to the container's environment (a name given here wins) */
  env: string[];
  /** null: the container's */
  workdir: string | null;
  /** as given (`uid`, `name`, `uid:gid`, `name:group`); null: the container's user */
  user: string | null;
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys: string | null;
}

export interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  /** the ids the user resolved to in the container's /etc/passwd at create (null: the container's) */
  resolvedUser: UserSpec | null | undefined;
  started: boolean;
  running: boolean;
  exitCode: number | null;
  /** in skiffd's pid namespace, while it runs */
  pid: number | null;
  /** why it could not be run */
  error: string | null;
  /** a resize that came before its console existed, applied when it does */
  size: { rows: number; cols: number } | null;
  /** its console in the forwarder, while it has one */
  consoleId: string | null;
  /** internal (a probe): not listed among the container's ExecIDs */
  internal: boolean;
}

/** A started exec, for whoever streams it. */
export interface ExecRun {
  record: ExecRecord;
  /** its output as the forwarder's records (stream, time, bytes); null for a detached exec */
  output: Readable | null;
  write(data: Buffer): void;
  /** the end of the client's input: the exec's stdin pipe closes once what was written is */
  closeInput(): void;
  /** the client is gone: its output stops (the exec runs on) */
  detach(): void;
  signal(sig: number): void;
  /** resolves once the exit is recorded and the console has ended */
  readonly finished: Promise<void>;
}

export interface ExecDeps {
  supervisor: Supervisor;
  pool: LauncherPool;
  reaper: Reaper;
  consoles: (ConsoleService & ConsoleAccess) | null;
  events: EventBus;
  /** how long an ended exec's record is kept (default 5 minutes, as Docker's) */
  keepMs?: number;
  /** extra fields for an exec's request (the test suite's failure injection) */
  execOptions?: (r: ContainerRecord, env: readonly string[]) => Partial<ExecRequest>;
}

/** An exec's ring: what a client that attaches late could still see; small, one per exec. */
const EXEC_RING = 64 * 1024;

export class ExecManager {
  private readonly execs = new Map<string, ExecRecord>();
  private readonly signals = new Map<string, (sig: number) => void>();
  /** launches in flight: their processes may exist before their pids are known (the stray reaper waits) */
  private readonly launching = new Set<Promise<number>>();
  /** health probes (probe-runner.ts): no record, launches of their own limit */
  private readonly probes: ProbeRunner;
  /** the probe interface (probe.ts) health checks call: see ProbeRunner.runProbe */
  readonly runProbe: RunProbe;
  private readonly keepMs: number;
  private readonly events: ExecEvents;

  constructor(private readonly d: ExecDeps) {
    this.keepMs = d.keepMs ?? 5 * 60_000;
    this.events = new ExecEvents(d.events, d.supervisor);
    this.probes = new ProbeRunner({
      reaper: d.reaper, events: this.events, poolSize: d.pool.size,
      running: (ref) => this.running(ref),
      launch: (r, console, process, execEnv) => this.launch(r, console, process, execEnv),
    });
    this.runProbe = this.probes.runProbe;
    // A removed container takes its execs' records with it (they ended with it).
    d.events.subscribe(null, (ev) => {
      if (ev.Action === 'destroy') for (const e of this.execs.values()) if (e.containerId === ev.id) this.execs.delete(e.id);
    });
  }

  /** The exec by id or unambiguous id prefix. */
  get(ref: string): ExecRecord {
    const exact = this.execs.get(ref);
    if (exact) return exact;
    const found = ref.length >= 3 ? [...this.execs.values()].filter((e) => e.id.startsWith(ref)) : [];
    if (found.length === 1) return found[0]!;
    throw new NotFound(`No such exec instance: ${ref}`);
  }

  /** A container's execs, for its inspect (null when it has none, as Docker answers). */
  idsOf(containerId: string): string[] | null {
    const ids = [...this.execs.values()].filter((e) => e.containerId === containerId && !e.internal).map((e) => e.id);
    return ids.length > 0 ? ids : null;
  }

  /** Docker's exec create: the container must be running; the user is resolved in it now. */
  create(containerRef: string, config: ExecConfig, opts: { internal?: boolean } = {}): ExecRecord {
    const r = this.running(containerRef);
    if (config.cmd.length === 0 || config.cmd[0] === '') throw new InvalidArgument('exec: Cmd is empty: give the command to run', 'Cmd');
    const resolvedUser = config.user === null || config.user === '' ? undefined : containerUser(r.pid!, config.user);
    const e: ExecRecord = {
      id: randomBytes(32).toString('hex'), containerId: r.id, config, resolvedUser,
      started: false, running: false, exitCode: null, pid: null, error: null, size: null, consoleId: null, internal: opts.internal ?? false,
    };
    this.execs.set(e.id, e);
    this.events.emit('exec_create', r.id, e.id, config.cmd);
    return e;
  }

  /**
   * Starts an exec, its output read from the start (a client is attached before the launch,
   * unless detached) so that none is missed, and watches its exit. Without a TTY its stdio is
   * pipes skiffd reads itself (stdio.ts), or the container's /dev/null when detached; with one,
   * a console of the forwarder. A launch that fails records the exit code (126, 127, 125) and
   * rejects with StartFailed, leaving no pipe or console behind.
   */
  async start(ref: string, opts: { detach: boolean }): Promise<ExecRun> {
    const { e, r } = this.startable(ref);
    if (e.config.tty) return this.startWithConsole(e, r, opts);
    e.started = true;
    this.events.emit('exec_start', r.id, e.id, e.config.cmd);
    let io: DirectStdio | null = null;
    let pid: number;
    try {
      // Detached, nobody reads its output (Docker drops it too): no pipes at all.
      if (!opts.detach) io = new DirectStdio({ stdin: e.config.attachStdin, combined: false });
      pid = await this.launch(r, io?.console ?? { kind: 'null' }, this.processOf(e, r), e.config.env);
    } catch (err) {
      io?.close();
      throw this.failed(e, err);
    } finally {
      io?.launched();
    }
    const { exited, poll } = this.watchExit(e, pid, () => { io?.exited(); return Promise.resolve(); });
    const output = io?.output ?? null;
    // Its pipes at end of file: it has most likely exited, and is reaped without waiting for the epoll thread.
    output?.once('end', poll);
    return this.run(e, exited, output, {
      write: (b) => io?.write(b),
      closeInput: () => io?.closeInput(),
      // It runs on: its output is read and dropped, so that it never blocks on a full pipe.
      detach: () => {
        output?.removeAllListeners('data');
        output?.resume();
      },
    });
  }

  /** A TTY exec: a console of the forwarder (a pty), as a container's. */
  private async startWithConsole(e: ExecRecord, r: ContainerRecord, opts: { detach: boolean }): Promise<ExecRun> {
    const consoles = this.d.consoles;
    if (!consoles) throw new Unsupported('this skiffd has no console forwarder, which a TTY exec needs');
    e.started = true;
    this.events.emit('exec_start', r.id, e.id, e.config.cmd);
    const cid = `exec-${e.id}`;
    // A TTY exec's pty is made in the container's own devpts (src/workers/exec-pty.ts), where the forwarder can adopt it.
    const ptyInContainer = e.config.tty && consoles.adoptPty !== undefined;
    let held;
    try {
      held = await openHeld(consoles, cid, {
        buffer: EXEC_RING, logPath: null, logMax: EXEC_RING, tty: e.config.tty, stdin: e.config.attachStdin, adoptPty: ptyInContainer,
      });
    } catch (err) {
      throw this.failed(e, new StartFailed({ message: `exec: open its console: ${(err as Error).message}`, exitCode: 125 }));
    }
    e.consoleId = cid;
    let client: Awaited<ReturnType<ConsoleAccess['attach']>> | null = null;
    let pid: number;
    try {
      if (e.size) await consoles.resize(cid, e.size.rows, e.size.cols);
      if (!opts.detach) client = await consoles.attach(cid, { replay: true, stdin: e.config.attachStdin, records: true });
      pid = await this.launch(r, ptyInContainer ? { kind: 'container-pty' } : launchConsoleOf(held), this.processOf(e, r), e.config.env, ptyInContainer ? cid : null);
    } catch (err) {
      releaseHeld(held);
      client?.close();
      await this.closeConsole(e);
      throw this.failed(e, err);
    }
    releaseHeld(held);
    const { exited } = this.watchExit(e, pid, () => this.closeConsole(e));
    return this.run(e, exited, client?.output ?? null, {
      write: (b) => client?.write(b),
      closeInput: () => client?.closeInput(),
      detach: () => client?.close(),
    });
  }

  /** What the exec runs: its command, the container's environment under its own, its workdir and user. */
  private processOf(e: ExecRecord, r: ContainerRecord): ExecProcess {
    return {
      command: e.config.cmd, env: mergeEnv(r.spec.env, e.config.env), workdir: e.config.workdir || r.spec.workdir,
      user: e.resolvedUser === undefined ? r.spec.user : e.resolvedUser,
    };
  }

  /**
   * One launch through a launcher worker; resolves with the pid. Rejects with StartFailed
   * (the launch's own failure: 126, 127, 125), after reaping strays if the launcher died.
   */
  private async launch(r: ContainerRecord, console: ExecRequest['console'], process: ExecProcess, execEnv: readonly string[], ptyConsole: string | null = null): Promise<number> {
    let failure: StartFailure;
    try {
      const request: ExecRequest = {
        pid: r.pid!, pidStartTime: r.pidStartTime!, container: r.spec, console, process,
        ...this.cgroupOf(r),
        ...this.d.execOptions?.(r, execEnv),
      };
      const launch = ptyConsole !== null ? this.launchWithPty(ptyConsole, request) : this.d.pool.exec(request);
      this.launching.add(launch);
      try {
        return await launch;
      } finally {
        this.launching.delete(launch);
      }
    } catch (err) {
      failure = err instanceof StartError ? err.failure : { message: (err as Error).message, exitCode: 125 };
    }
    // A launcher that died mid-launch may have left the exec running, unknown to anyone.
    if (/launcher worker/.test(failure.message)) this.d.supervisor.reapStrays();
    throw new StartFailed({ ...failure, message: `exec: ${failure.message}` });
  }

  /**
   * Launches an exec that makes its pty in the container, and hands the master (held by the
   * launcher worker) to the forwarder. If the forwarder cannot take it, the exec is killed
   * (and reaped): a terminal nobody reads is no exec.
   */
  private async launchWithPty(cid: string, request: ExecRequest): Promise<number> {
    const launched = await this.d.pool.execWithPty(request);
    try {
      await this.d.consoles!.adoptPty!(cid, launched.master.pid, launched.master.fd);
    } catch (err) {
      const handle = this.d.reaper.watch(launched.pid);
      try {
        handle.signal(9);
      } catch {
        // ESRCH: it ended already; the watch reaps it
      }
      throw new StartError({ message: `hand its pty to the console forwarder: ${(err as Error).message}`, exitCode: 125 });
    } finally {
      launched.release();
    }
    return launched.pid;
  }

  /** Watches a launched exec: its record says it runs until the exit, then `ended` cleans up. */
  private watchExit(e: ExecRecord, pid: number, ended: () => Promise<void>): { exited: Promise<void>; poll: () => void } {
    const handle = this.d.reaper.watch(pid);
    e.pid = pid;
    e.running = true;
    this.signals.set(e.id, handle.signal);
    const exited = handle.exited.then(async (st) => {
      e.exitCode = st.exitCode;
      e.running = false;
      this.events.died(e.containerId, e.id, st.exitCode);
      e.pid = null;
      this.signals.delete(e.id);
      await ended();
      this.expire(e);
    });
    return { exited, poll: handle.poll };
  }

  private run(e: ExecRecord, exited: Promise<void>, output: Readable | null, io: Pick<ExecRun, 'write' | 'closeInput' | 'detach'>): ExecRun {
    const outputEnded = output === null ? Promise.resolve() : new Promise<void>((resolve) => {
      output.once('end', resolve);
      output.once('close', resolve);
    });
    return {
      record: e,
      output,
      ...io,
      signal: (sig) => {
        try {
          this.signals.get(e.id)?.(sig);
        } catch {
          // ESRCH: it ended meanwhile; its exit is on its way
        }
      },
      finished: Promise.all([exited, outputEnded]).then(() => undefined),
    };
  }

  /** The exec and its running container, or why it cannot start (NotFound, Conflict). */
  startable(ref: string): { e: ExecRecord; r: ContainerRecord } {
    const e = this.get(ref);
    if (e.started) throw new Conflict(`exec ${e.id} has already been started`);
    return { e, r: this.running(e.containerId) };
  }

  /** A TTY exec's window size; remembered until its console exists. */
  async resize(ref: string, rows: number, cols: number): Promise<void> {
    const e = this.get(ref);
    if (!e.config.tty) return; // Docker accepts it and does nothing
    if (e.consoleId !== null) return this.d.consoles!.resize(e.consoleId, rows, cols);
    if (e.exitCode !== null) throw new Conflict(`exec ${e.id} is not running`);
    // Not started, or its console is being opened: docker sends the size right after the start.
    e.size = { rows, cols };
  }

  /** The container by reference, running (Conflict otherwise: an exec needs its PID 1). */
  private running(ref: string): ContainerRecord {
    const r = this.d.supervisor.get(ref);
    if (r.status !== 'running' || r.pid === null || r.pidStartTime === null) throw new Conflict(`Container ${r.name} is not running`);
    return r;
  }

  private cgroupOf(r: ContainerRecord): { cgroupProcs?: string[] } {
    const procs = this.d.supervisor.cgroupProcs(r);
    return procs ? { cgroupProcs: procs } : {};
  }

  /** Records why the exec could not run; returns the StartFailed to throw. */
  private failed(e: ExecRecord, err: unknown): StartFailed {
    const f: StartFailure = err instanceof StartFailed ? err.failure : { message: `exec: ${(err as Error).message}`, exitCode: 125 };
    e.error = f.message;
    e.exitCode = f.exitCode;
    e.running = false;
    this.events.died(e.containerId, e.id, f.exitCode);
    this.expire(e);
    return err instanceof StartFailed ? err : new StartFailed(f);
  }

  /** The console drained (its clients' streams end) and forgotten. */
  private async closeConsole(e: ExecRecord): Promise<void> {
    const cid = e.consoleId;
    if (cid === null || !this.d.consoles) return;
    e.consoleId = null;
    await this.d.consoles.exited(cid).catch(() => undefined);
    await this.d.consoles.remove(cid).catch((err: Error) => log('warn', 'exec console removal failed', { id: e.id, error: err.message }));
  }

  private expire(e: ExecRecord): void {
    setTimeout(() => this.execs.delete(e.id), this.keepMs).unref();
  }

  /** Every exec's pid now running (probes' too): skiffd's children that are not strays. */
  pids(): number[] {
    return [...[...this.execs.values()].flatMap((e) => (e.pid === null ? [] : [e.pid])), ...this.probes.pids()];
  }

  inFlight(): Promise<unknown>[] {
    return [...this.launching];
  }
}
