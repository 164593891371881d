// The supervisor's side of each container's console: opened through the forwarder when the
// container is created (so a client can attach before the start, as `docker run` does), one
// pty per run, and skiffd's own fd on the slave until PID 1 holds it — a master whose slave
// nobody holds reports hang-up, which would end the console before the container starts.
import { closeSlave, makeRaw, openSlave } from '../../sys/termios.js';
import type { ContainerRecord } from './record.js';

/** What the supervisor needs of the console forwarder (src/forwarder's ConsoleHub). */
export interface ConsoleService {
  open(id: string, opts: { buffer: number; logPath: string | null; logMax: number }): Promise<{ slavePath: string }>;
  exited(id: string): Promise<void>;
  remove(id: string): Promise<void>;
}

interface Held {
  slavePath: string;
  /** a PID 1 has used this pty: the next start needs a fresh one */
  used: boolean;
  /** skiffd's own fd on the slave, until PID 1 holds it */
  hold: number | null;
}

/** Where a container's console log is written: null without one, `<state>/<name>/console.log` by default. */
export function consoleLogPath(spec: ContainerRecord['spec'], stateDir: string): string | null {
  const { log } = spec.console;
  return log === false ? null : log === true ? `${stateDir}/console.log` : log;
}

export class ConsoleHolds {
  /** by container id, which a rename leaves as it is */
  private readonly open = new Map<string, Held>();

  constructor(private readonly service: ConsoleService, private readonly stateDir: (name: string) => string) {}

  /** The container's console, opened on first use; raw when the container has no TTY. */
  async ensure(r: ContainerRecord): Promise<Held> {
    const known = this.open.get(r.id);
    if (known) return known;
    const c = r.spec.console;
    const logPath = consoleLogPath(r.spec, this.stateDir(r.name));
    const { slavePath } = await this.service.open(r.id, { buffer: c.buffer, logPath, logMax: c.logMax });
    let hold: number | null = null;
    try {
      hold = openSlave(slavePath);
      // Without a TTY the bytes pass unchanged (no echo, no \r added), as through Docker's pipes.
      if (!r.spec.tty) makeRaw(hold, slavePath);
    } catch (err) {
      if (hold !== null) closeSlave(hold);
      await this.service.remove(r.id).catch(() => undefined);
      throw err;
    }
    const held: Held = { slavePath, used: false, hold };
    this.open.set(r.id, held);
    return held;
  }

  /** The slave for this run's PID 1: a fresh pty (and ring) when an earlier run used the last one. */
  async forRun(r: ContainerRecord): Promise<string> {
    if (this.open.get(r.id)?.used) await this.close(r);
    const held = await this.ensure(r);
    held.used = true;
    return held.slavePath;
  }

  /** PID 1 holds the slave now (or never will): skiffd lets go of its own fd. */
  release(r: ContainerRecord): void {
    const held = this.open.get(r.id);
    if (held?.hold != null) {
      closeSlave(held.hold);
      held.hold = null;
    }
  }

  /** This run's PID 1 is gone: the forwarder drains what is left and ends live readers. */
  exited(r: ContainerRecord): Promise<void> {
    return this.service.exited(r.id).catch(() => undefined);
  }

  async close(r: ContainerRecord): Promise<void> {
    if (!this.open.has(r.id)) return;
    this.release(r);
    this.open.delete(r.id);
    await this.service.remove(r.id).catch(() => undefined);
  }
}
