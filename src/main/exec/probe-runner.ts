// Health probes run (the probe interface of probe.ts): each one an exec without a record, its
// launches limited to one launcher fewer than the pool so that a start or a user's exec always
// finds one. ExecManager owns it and lends it its launch and its running-container lookup; it
// keeps the pids of the probes running, which are skiffd's children and not strays.
import { randomBytes } from 'node:crypto';
import type { ExecRequest } from '../../workers/exec.js';
import type { ExecProcess } from '../../workers/exec-plan.js';
import type { OutputRecord } from '../../forwarder/index.js';
import { InvalidArgument, StartFailed } from '../lifecycle/errors.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import type { Reaper } from '../lifecycle/reaper.js';
import type { ExecEvents } from './events.js';
import { PROBE_OUTPUT_BYTES, type ProbeResult, type RunProbe } from './probe.js';
import { DirectStdio } from './stdio.js';

export interface ProbeRunnerDeps {
  reaper: Reaper;
  events: ExecEvents;
  /** the launcher pool's size: probes launch through one fewer at once */
  poolSize: number;
  /** the container by reference, running (Conflict otherwise: a probe needs its PID 1) */
  running(ref: string): ContainerRecord;
  /** one launch through a launcher worker, as an exec's (rejects with StartFailed: 126, 127, 125) */
  launch(r: ContainerRecord, console: ExecRequest['console'], process: ExecProcess, execEnv: readonly string[]): Promise<number>;
}

export class ProbeRunner {
  /** health probes running (they have no record) */
  private readonly probePids = new Set<number>();
  /** probe launches at once: one launcher fewer than the pool, so a start or an exec always finds one */
  private readonly probeLaunchSlots: number;
  private probeLaunches = 0;
  private readonly probeLaunchWaiters: (() => void)[] = [];

  constructor(private readonly d: ProbeRunnerDeps) {
    this.probeLaunchSlots = Math.max(1, d.poolSize - 1);
  }

  /**
   * The probe interface (probe.ts), for health checks: see RunProbe. Leaner than an exec: no
   * record, no console, stdin the container's /dev/null and one pipe for stdout and stderr,
   * of which the first 4 KiB are kept (the rest is read and dropped, so the probe never blocks).
   */
  readonly runProbe: RunProbe = async (containerId, argv, timeoutMs) => {
    const r = this.d.running(containerId);
    if (argv.length === 0 || argv[0] === '') throw new InvalidArgument('health probe: its command is empty', 'Healthcheck.Test');
    // A probe is an exec in Docker's events too, with an id of its own (in no record).
    const execId = randomBytes(32).toString('hex');
    this.d.events.emit('exec_create', r.id, execId, argv);
    this.d.events.emit('exec_start', r.id, execId, argv);
    const io = new DirectStdio({ stdin: false, combined: true });
    let timedOut = false;
    let kill: ((sig: number) => void) | null = null;
    const timer = setTimeout(() => {
      timedOut = true;
      kill?.(9);
    }, timeoutMs);
    const chunks: Buffer[] = [];
    let kept = 0;
    io.output.on('data', (rec: OutputRecord) => {
      if (kept >= PROBE_OUTPUT_BYTES) return;
      chunks.push(rec.data);
      kept += rec.data.length;
    });
    const outputEnded = new Promise<void>((resolve) => io.output.once('end', resolve));
    try {
      let pid: number;
      await this.probeLaunchSlot();
      try {
        pid = await this.d.launch(r, io.console, { command: argv, env: r.spec.env, workdir: r.spec.workdir, user: r.spec.user }, []);
      } catch (err) {
        io.close();
        this.d.events.died(r.id, execId, err instanceof StartFailed ? err.failure.exitCode : 125);
        // The command could not be run (126, 127): an answer, not an error.
        if (err instanceof StartFailed) return { exitCode: err.failure.exitCode, output: truncate(Buffer.from(err.message)), timedOut: false };
        throw err;
      } finally {
        this.probeLaunchDone();
        io.launched();
      }
      const handle = this.d.reaper.watch(pid);
      this.probePids.add(pid);
      // Its pipe at end of file: it has most likely exited, and is reaped without waiting for the epoll thread.
      io.output.once('end', handle.poll);
      kill = (sig) => {
        try {
          handle.signal(sig);
        } catch {
          // ESRCH: it ended meanwhile
        }
      };
      if (timedOut) kill(9);
      let st;
      try {
        st = await handle.exited;
      } finally {
        this.probePids.delete(pid);
      }
      this.d.events.died(r.id, execId, st.exitCode);
      io.exited();
      await outputEnded;
      const result: ProbeResult = { exitCode: timedOut ? -1 : st.exitCode, output: truncate(Buffer.concat(chunks)), timedOut };
      return result;
    } finally {
      clearTimeout(timer);
    }
  };

  /**
   * Waits for a probe launch slot. Probes wait here, not in the pool's queue, so that a start
   * or a user's exec queued behind a burst of due probes waits for one launch at most.
   */
  private probeLaunchSlot(): Promise<void> {
    if (this.probeLaunches < this.probeLaunchSlots) {
      this.probeLaunches++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.probeLaunchWaiters.push(resolve));
  }

  /** A probe's launch is over: the slot passes to the next probe waiting, if any. */
  private probeLaunchDone(): void {
    const next = this.probeLaunchWaiters.shift();
    if (next) next();
    else this.probeLaunches--;
  }

  /** The pids of the probes running now: skiffd's children that are not strays. */
  pids(): number[] {
    return [...this.probePids];
  }
}

function truncate(b: Buffer): string {
  return b.subarray(0, PROBE_OUTPUT_BYTES).toString('utf8');
}
