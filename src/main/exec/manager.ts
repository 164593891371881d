// Execs: processes started in a running container (docker exec, health probes). Each one is
// launched by a launcher worker with an exec plan (src/workers/exec.ts), becomes skiffd's child
// like a PID 1 (skiffd is the subreaper) and is reaped through its pidfd; its stdio is a console
// of the forwarder of its own, with a small ring, removed when the exec ends. Records live in
// memory only, as Docker's do: an ended exec's is dropped a while after its end, and every exec
// of a container when the container is removed. An exec dies with its container: it is in the
// container's pid namespace (the kernel kills it when PID 1 dies) and cgroup (killed with it).
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { UserSpec } from '../../spec/container.js';
import type { StartFailure } from '../../workers/start.js';
import type { ExecRequest } from '../../workers/exec.js';
import { StartError } from '../../workers/start.js';
import { mergeEnv } from '../../workers/exec-plan.js';
import type { OutputRecord } from '../../forwarder/index.js';
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
import { PROBE_OUTPUT_BYTES, type ProbeResult, type RunProbe } from './probe.js';

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
  private readonly keepMs: number;
  private readonly events: ExecEvents;

  constructor(private readonly d: ExecDeps) {
    this.keepMs = d.keepMs ?? 5 * 60_000;
    this.events = new ExecEvents(d.events, d.supervisor);
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
   * Starts an exec: its console, a client attached before the launch (unless detached) so that
   * no output is missed, the launch, the watch on its exit. A launch that fails records the exit
   * code (126, 127, 125) and rejects with StartFailed, leaving no console behind.
   */
  async start(ref: string, opts: { detach: boolean }): Promise<ExecRun> {
    const { e, r } = this.startable(ref);
    const consoles = this.d.consoles;
    if (!consoles) throw new Unsupported('this skiffd has no console forwarder, which an exec\'s stdio needs');
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
      const f = { message: `exec: open its console: ${(err as Error).message}`, exitCode: 125 };
      this.failed(e, f);
      throw new StartFailed(f);
    }
    e.consoleId = cid;
    let client: Awaited<ReturnType<ConsoleAccess['attach']>> | null = null;
    let pid: number;
    try {
      if (e.size) await consoles.resize(cid, e.size.rows, e.size.cols);
      if (!opts.detach) client = await consoles.attach(cid, { replay: true, stdin: e.config.attachStdin, records: true });
      const request: ExecRequest = {
        pid: r.pid!, pidStartTime: r.pidStartTime!, container: r.spec, console: ptyInContainer ? { kind: 'container-pty' } : launchConsoleOf(held),
        process: {
          command: e.config.cmd, env: mergeEnv(r.spec.env, e.config.env), workdir: e.config.workdir || r.spec.workdir,
          user: e.resolvedUser === undefined ? r.spec.user : e.resolvedUser,
        },
        ...this.cgroupOf(r),
        ...this.d.execOptions?.(r, e.config.env),
      };
      const launch = ptyInContainer ? this.launchWithPty(cid, request) : this.d.pool.exec(request);
      this.launching.add(launch);
      try {
        pid = await launch;
      } finally {
        this.launching.delete(launch);
      }
    } catch (err) {
      releaseHeld(held);
      client?.close();
      await this.closeConsole(e);
      const failure: StartFailure = err instanceof StartError ? err.failure : { message: (err as Error).message, exitCode: 125 };
      // A launcher that died mid-launch may have left the exec running, unknown to anyone.
      if (/launcher worker/.test(failure.message)) this.d.supervisor.reapStrays();
      const f = { ...failure, message: `exec: ${failure.message}` };
      this.failed(e, f);
      throw new StartFailed(f);
    }
    releaseHeld(held);
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
      await this.closeConsole(e);
      this.expire(e);
    });
    const output = client?.output ?? null;
    const outputEnded = output === null ? Promise.resolve() : new Promise<void>((resolve) => {
      output.once('end', resolve);
      output.once('close', resolve);
    });
    return {
      record: e,
      output,
      write: (b) => client?.write(b),
      closeInput: () => client?.closeInput(),
      detach: () => client?.close(),
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

  /** The probe interface (probe.ts), for health checks: see RunProbe. */
  readonly runProbe: RunProbe = async (containerId, argv, timeoutMs) => {
    const e = this.create(containerId, {
      cmd: argv, env: [], workdir: null, user: null, tty: false, attachStdin: false, attachStdout: true, attachStderr: true, detachKeys: null,
    }, { internal: true });
    let timedOut = false;
    let run: ExecRun | null = null;
    const timer = setTimeout(() => {
      timedOut = true;
      run?.signal(9);
    }, timeoutMs);
    try {
      try {
        run = await this.start(e.id, { detach: false });
      } catch (err) {
        // The command could not be run (126, 127): an answer, not an error.
        if (err instanceof StartFailed) return { exitCode: err.failure.exitCode, output: truncate(Buffer.from(err.message)), timedOut: false };
        throw err;
      }
      if (timedOut) run.signal(9);
      const chunks: Buffer[] = [];
      let kept = 0;
      run.output!.on('data', (rec: OutputRecord) => {
        if (kept >= PROBE_OUTPUT_BYTES) return;
        chunks.push(rec.data);
        kept += rec.data.length;
      });
      await run.finished;
      const result: ProbeResult = { exitCode: timedOut ? -1 : (e.exitCode ?? -1), output: truncate(Buffer.concat(chunks)), timedOut };
      return result;
    } finally {
      clearTimeout(timer);
      this.execs.delete(e.id);
    }
  };

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

  private failed(e: ExecRecord, f: StartFailure): void {
    e.error = f.message;
    e.exitCode = f.exitCode;
    e.running = false;
    this.events.died(e.containerId, e.id, f.exitCode);
    this.expire(e);
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
    return [...this.execs.values()].flatMap((e) => (e.pid === null ? [] : [e.pid]));
  }

  inFlight(): Promise<unknown>[] {
    return [...this.launching];
  }
}

function truncate(b: Buffer): string {
  return b.subarray(0, PROBE_OUTPUT_BYTES).toString('utf8');
}
