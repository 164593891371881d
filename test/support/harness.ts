// Real containers for tests: the test process is the child subreaper (through Reaper), so each
// container's PID 1 becomes its child and its exit status is seen. Output goes to a file console.
//   let h: Harness; let rootfs: string;
//   useHarness((made) => ({ h, rootfs } = made));   // a describe's harness and busybox rootfs
//   const { exit, output } = await h.run({ name: 't', rootfs, command: ['/bin/sh', '-c', 'echo $$'] });
import { read, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reaper, type ExitStatus } from '../../src/main/lifecycle/reaper.js';
import type { Plan } from '../../src/native/plan-format.js';
import { validateSpec } from '../../src/spec/container.js';
import type { LaunchConsole } from '../../src/workers/plan.js';
import { startContainer } from '../../src/workers/start.js';
import { buildBusyboxRootfs } from './rootfs.js';
import { TempDirs } from './tmp.js';

export interface Started {
  pid: number;
  plan: Plan;
  exited: Promise<ExitStatus>;
  /** the console file (empty string when the console is not a file) */
  outputPath: string;
}

export interface StartOptions {
  /** for an image: the directory that gets the overlay's upper/ and work/ */
  layerDir?: string;
  /** default: a fresh file in a temp dir, read back by run() */
  console?: LaunchConsole;
  /** failure injection: operation `index` fails with `errno` */
  failAt?: { index: number; errno: number };
}

export interface RunResult {
  pid: number;
  plan: Plan;
  exit: ExitStatus;
  output: string;
}

export class Harness {
  readonly tmp = new TempDirs();
  readonly reaper = new Reaper();
  /** the empty directory every container mounts its root on (in its own mount namespace) */
  readonly rootMount = this.tmp.make('mnt');
  private readonly running = new Set<number>();
  private seq = 0;

  /** Starts a container (spec as JSON, validated here); throws StartError like the launcher. */
  start(specInput: Record<string, unknown>, options: StartOptions = {}): Started {
    const spec = validateSpec(specInput);
    const outputPath = options.console ? '' : join(this.tmp.make('out'), `console-${++this.seq}.log`);
    const console: LaunchConsole = options.console ?? { kind: 'file', path: outputPath };
    const { pid, plan } = startContainer({
      spec, rootMount: this.rootMount, layerDir: options.layerDir ?? null, console, ...(options.failAt ? { failAt: options.failAt } : {}),
    });
    this.running.add(pid);
    const exited = this.reaper.watch(pid).exited.then((s) => {
      this.running.delete(pid);
      return s;
    });
    return { pid, plan, exited, outputPath };
  }

  /** Starts a container and waits for its exit; returns what it wrote to its console. */
  async run(specInput: Record<string, unknown>, options: { layerDir?: string } = {}): Promise<RunResult> {
    const s = this.start(specInput, options);
    const exit = await s.exited;
    return { pid: s.pid, plan: s.plan, exit, output: readFileSync(s.outputPath, 'utf8') };
  }

  /** Kills any container still running (by its pid), then removes every temp dir. */
  async close(): Promise<void> {
    for (const pid of this.running) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 5000;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.reaper.close();
    this.tmp.removeAll();
  }
}

/** Reads a pty master until the slave side is gone (EIO), through libuv's thread pool. */
export function readUntilEio(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(4096);
    const next = (): void => read(fd, buf, 0, buf.length, null, (err, n) => {
      if (err) return err.code === 'EIO' ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(err);
      if (n === 0) return resolve(Buffer.concat(chunks).toString('utf8'));
      chunks.push(Buffer.from(buf.subarray(0, n)));
      next();
    });
    next();
  });
}

/**
 * A describe's Harness and a busybox rootfs in its temp dir, made in mocha's before() and
 * closed in after(); `use` receives them (a describe that prepares more adds its own before(),
 * which runs after this one).
 */
export function useHarness(use: (made: { h: Harness; rootfs: string }) => void): void {
  let h: Harness | null = null;
  before(() => {
    h = new Harness();
    use({ h, rootfs: buildBusyboxRootfs(h.tmp.make('rootfs')) });
  });
  after(async () => {
    await h?.close();
  });
}
