// The supervisor's side of each container's console: opened through the forwarder when the
// container is created (so a client can attach before the start, as `docker run` does), one
// per run. The create does not wait for the forwarder's reply: an attach, a logs or a resize
// waits for it (opened), and so does the start (it needs the console's ends), where a failed
// open is tried again and reported as the start's failure. That takes one round trip to the
// keeper off every create. With a TTY it is a pty, and skiffd keeps its own fd on the slave until PID 1 holds
// it — a master whose slave nobody holds reports hang-up, which would end the console before
// the container starts. Without one it is three pipes (as Docker gives), whose container ends
// PID 1 opens by the forwarder's own /proc/<keeper>/fd/N, and which the forwarder keeps open
// until PID 1 holds its own (released then: it would see end of file on stdout and stderr if
// nobody held them before), so skiffd opens and closes none of them.
import { closeSlave, openSlave } from '../../sys/termios.js';
import type { LaunchConsole } from '../../workers/plan.js';
import type { ContainerRecord } from './record.js';

interface ConsoleOpenOptions {
  buffer: number;
  logPath: string | null;
  logMax: number;
  /** a pty whose master is made in the container and handed over later (adoptPty): an exec's */
  adoptPty?: boolean;
}

/** The container's ends of a pipe console, lent by path (src/forwarder's LentPipes). */
export interface LentPipes {
  stdin: string | null;
  stdout: string;
  stderr: string;
  /** the forwarder closes its copies: the first call only */
  readonly release: () => void;
}

/** A console the forwarder kept from an earlier skiffd (src/forwarder's KeptConsole). */
export interface KeptConsole { id: string; slavePath: string | null; ended: boolean }

/** What the supervisor needs of the console forwarder (src/forwarder's ConsoleHub). */
export interface ConsoleService {
  open(id: string, opts: ConsoleOpenOptions): Promise<{ slavePath: string }>;
  lendPipes(id: string, opts: ConsoleOpenOptions & { stdin: boolean }): Promise<LentPipes>;
  exited(id: string): Promise<void>;
  /** gives an adoptPty console its master: fd `fd` of process `pid`, which closes its own copy afterwards */
  adoptPty?(id: string, pid: number, fd: number): Promise<void>;
  remove(id: string): Promise<void>;
  /** remove, not waited for and with no answer (a failure would be ignored anyway) */
  discard(id: string): void;
  /** reaches the forwarder (the keeper process); returns the consoles it kept from an earlier skiffd */
  connect?(): Promise<KeptConsole[]>;
  /** skiffd's own processes behind the forwarder (the keeper), which are never strays */
  pids?(): number[];
  /** whether the forwarder holds console `id` now (false once it was lost with its keeper) */
  has?(id: string): boolean;
}

export type Held = {
  /** a PID 1 has used this console: the next start needs a fresh one */
  used: boolean;
} & (
  /** hold: skiffd's own fd on the slave, until PID 1 holds it */
  | { kind: 'pty'; slavePath: string; hold: number | null }
  /** lent: the container's ends the forwarder keeps until PID 1 holds them; null for a console adopted from an earlier skiffd, whose PID 1 has its own */
  | { kind: 'pipes'; lent: LentPipes | null }
);

/**
 * Opens a console through the forwarder and holds the process's side (the pty's slave, or the
 * pipes' ends) until releaseHeld: a container's (ConsoleHolds) or an exec's (src/main/exec).
 */
export async function openHeld(service: ConsoleService, id: string, o: ConsoleOpenOptions & { tty: boolean; stdin: boolean }): Promise<Held> {
  const opts = { buffer: o.buffer, logPath: o.logPath, logMax: o.logMax };
  if (o.tty && o.adoptPty) {
    // Nothing to hold: the pty does not exist until the process makes it in its container.
    const { slavePath } = await service.open(id, { ...opts, adoptPty: true });
    return { kind: 'pty', slavePath, used: false, hold: null };
  }
  if (!o.tty) {
    return { kind: 'pipes', used: false, lent: await service.lendPipes(id, { ...opts, stdin: o.stdin }) };
  }
  const { slavePath } = await service.open(id, opts);
  let hold: number;
  try {
    hold = openSlave(slavePath);
  } catch (err) {
    await service.remove(id).catch(() => undefined);
    throw err;
  }
  return { kind: 'pty', slavePath, used: false, hold };
}

/** The process's stdio in a launch plan's terms. */
export function launchConsoleOf(held: Held): LaunchConsole {
  if (held.kind === 'pty') return { kind: 'pty', slavePath: held.slavePath };
  // An adopted console is a used one, which a run replaces with a fresh one before it gets here.
  if (held.lent === null) throw new Error('a pipe console adopted from an earlier skiffd has no ends to lend');
  return { kind: 'pipes', stdin: held.lent.stdin, stdout: held.lent.stdout, stderr: held.lent.stderr };
}

/** The process holds its stdio now (or never will): skiffd lets go of its own fd, or the forwarder of the pipes' container ends. */
export function releaseHeld(held: Held): void {
  if (held.kind === 'pty' && held.hold !== null) {
    closeSlave(held.hold);
    held.hold = null;
  } else if (held.kind === 'pipes') {
    held.lent?.release(); // once, however often it is called (lentByPath)
  }
}

/** Where a container's console log is written: null without one, `<state>/<name>/console.log` by default. */
export function consoleLogPath(spec: ContainerRecord['spec'], stateDir: string): string | null {
  const { log } = spec.console;
  return log === false ? null : log === true ? `${stateDir}/console.log` : log;
}

export class ConsoleHolds {
  /** by container id, which a rename leaves as it is */
  private readonly open = new Map<string, Held>();
  /** opens whose reply has not come yet, by container id */
  private readonly opening = new Map<string, Promise<Held>>();

  constructor(private readonly service: ConsoleService, private readonly stateDir: (name: string) => string) {}

  /** The container's console, opened on first use: a pty with a TTY, else pipes. */
  ensure(r: ContainerRecord): Promise<Held> {
    const known = this.open.get(r.id);
    if (known) return Promise.resolve(known);
    const pending = this.opening.get(r.id);
    if (pending) return pending;
    const c = r.spec.console;
    const logPath = consoleLogPath(r.spec, this.stateDir(r.name));
    // Kept while in flight: a second ensure, a close and whatever waits in opened() find it.
    const p = openHeld(this.service, r.id, { buffer: c.buffer, logPath, logMax: c.logMax, tty: r.spec.tty, stdin: r.spec.openStdin })
      .then((held) => {
        this.open.set(r.id, held);
        return held;
      })
      .finally(() => this.opening.delete(r.id));
    this.opening.set(r.id, p);
    return p;
  }

  /**
   * A created container's console, asked for now and not waited for: the start waits for it
   * (ensure), and one that failed is asked for again there, whose error the start reports.
   */
  openEarly(r: ContainerRecord, onError: (err: Error) => void): void {
    this.ensure(r).catch(onError);
  }

  /**
   * Resolves once an open in flight has landed (or failed): what reads or attaches to the
   * console by id waits for it. (The keeper's order alone does not do: after a lost keeper the
   * open request waits for the new connection.)
   */
  async opened(r: ContainerRecord): Promise<void> {
    await this.opening.get(r.id)?.catch(() => undefined);
  }

  /**
   * After a restart, the consoles the keeper kept: a container that still runs, or ran, has
   * its console back (its PID 1 holds its stdio, so a next start needs a fresh one); any other
   * (a container never started, or gone) is removed, and a fresh one is opened when needed.
   */
  async adopt(kept: KeptConsole[], record: (id: string) => ContainerRecord | undefined): Promise<void> {
    for (const c of kept) {
      const r = record(c.id);
      if (r !== undefined && r.status !== 'created' && !this.open.has(c.id)) {
        this.open.set(c.id, c.slavePath !== null
          ? { kind: 'pty', slavePath: c.slavePath, used: true, hold: null }
          : { kind: 'pipes', used: true, lent: null });
        continue;
      }
      await this.service.remove(c.id).catch(() => undefined);
    }
  }

  /**
   * This run's PID 1's stdio: a fresh console (and ring) when an earlier run used the last one,
   * or when the one opened at the create was lost with its keeper (killed meanwhile): its ends
   * were the dead keeper's fds, by its /proc paths, or a pty whose master it held.
   */
  async forRun(r: ContainerRecord): Promise<LaunchConsole> {
    // (An open still in flight is ensure's to wait for: one the keeper's loss cut short failed, and is made again there.)
    const before = this.open.get(r.id);
    if (before && (before.used || this.service.has?.(r.id) === false)) await this.close(r);
    const held = await this.ensure(r);
    held.used = true;
    return launchConsoleOf(held);
  }

  /** PID 1 holds its stdio now (or never will): skiffd lets go of its own fds. */
  release(r: ContainerRecord): void {
    const held = this.open.get(r.id);
    if (held) releaseHeld(held);
  }

  /** This run's PID 1 is gone: the forwarder drains what is left and ends live readers. */
  exited(r: ContainerRecord): Promise<void> {
    return this.service.exited(r.id).catch(() => undefined);
  }

  /**
   * Closes the console: skiffd's own fds at once (an open still in flight is let to land first,
   * so that what it opens is closed too), then the forwarder's side, not waited for: its answer
   * would only be ignored, and a next open of the same id is sent after it.
   */
  async close(r: ContainerRecord): Promise<void> {
    const pending = this.opening.get(r.id);
    if (pending) await pending.catch(() => undefined);
    if (!this.open.has(r.id)) return;
    this.release(r);
    this.open.delete(r.id);
    try {
      this.service.discard(r.id);
    } catch {
      // not open in the forwarder (a keeper lost meanwhile): nothing to close there
    }
  }
}
