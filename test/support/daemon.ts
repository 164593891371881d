// A real skiffd for integration tests: its own socket and state dir in a temp dir, driven
// through the CLI (bin/skiff.js), the HTTP API, or the docker command line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { request } from '../../src/api/http-client.js';
import type { DockerEvent } from '../../src/main/events.js';
import { TempDirs } from './tmp.js';
import { TestNetns } from './netns.js';
import { childPids, cmdline, fdTargets, isZombie, mountinfoLines } from '../../src/sys/proc.js';
import { STALL_MS, until } from './wait.js';

export { until };

const ROOT = join(import.meta.dirname, '../..');
const SKIFFD = join(ROOT, 'dist/src/main/skiffd-main.js');
const CLI = join(ROOT, 'bin/skiff.js');

export interface Reply { status: number; body: unknown; text: string }
export interface CliResult { code: number; stdout: string; stderr: string }

/** The part of a container's inspect the helpers here read; tests cast to more where they need it. */
export interface Inspect {
  Name: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number; Error: string };
  RestartCount: number;
  Skiff: { Status: string; console?: { clients: number; bytesIn: number } };
}

export interface DaemonOptions {
  /** where its temp dir goes (default the system temp dir) */
  base?: string;
  /** added to skiffd's environment */
  env?: NodeJS.ProcessEnv;
  /** fds of this process that skiffd gets at fds 3, 4, … without close-on-exec (as a careless parent would leave them) */
  inherit?: number[];
  /** a network namespace (by its name under /run/netns) that skiffd runs in */
  netns?: string;
}

export interface DaemonView { mounts: string[]; fds: string[]; processes: number[]; state: string[] }

export class TestDaemon {
  child: ChildProcess | null = null;
  private readonly tmp = new TempDirs();
  private made: string | null = null;
  private readonly logChunks: Buffer[] = [];

  constructor(private readonly args: string[] = [], private readonly opts: DaemonOptions = {}) {
    if (!existsSync(SKIFFD)) throw new Error(`${SKIFFD} is missing: run \`npm run build\``);
  }

  /**
   * Its temp dir, made on first use rather than when a test file is loaded: a describe that
   * --grep leaves out (whose after() never runs) must not leave one behind.
   */
  get dir(): string {
    // The test process's pid in the name, and so in the default --cgroup-parent: a run killed
    // before its after() hooks leaves both, and the next run's sweep (cgroup-sweep.ts) tells a
    // dead run's from a live one's by it.
    this.made ??= this.tmp.make(`daemon-${process.pid}`, this.opts.base);
    return this.made;
  }

  get socket(): string {
    return join(this.dir, 'skiff.sock');
  }

  get stateDir(): string {
    return join(this.dir, 'state');
  }

  /** the cgroup parent this daemon's containers go under (relative to each hierarchy's root) */
  get cgroupParent(): string {
    const i = this.args.indexOf('--cgroup-parent');
    return i >= 0 ? this.args[i + 1]! : `skiff-test-${basename(this.dir)}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, SKIFF_SOCKET: this.socket, SKIFF_STATE_DIR: this.stateDir };
  }

  log(): string {
    return Buffer.concat(this.logChunks).toString('utf8');
  }

  async start(): Promise<void> {
    // Each test daemon's cgroups go under a parent of its own, so concurrent daemons never share one.
    const cgroupParent = this.args.includes('--cgroup-parent') ? [] : ['--cgroup-parent', this.cgroupParent];
    // A Docker API create that names no network joins `bridge` (Docker's default): a skiffd in the
    // host's namespace would make a bridge and nft rules there. The networking rule is that no
    // test does, so outside a netns of its own a test daemon opts out unless its test says otherwise.
    const dockerNetwork = this.opts.netns || this.args.includes('--docker-network') ? [] : ['--docker-network', 'none'];
    // opts.netns: skiffd runs in that network namespace (nsenter execs it: the pid is skiffd's).
    const argv = [SKIFFD, '--socket', this.socket, '--state-dir', this.stateDir, ...cgroupParent, ...dockerNetwork, ...this.args];
    const [cmd, args] = this.opts.netns ? ['nsenter', [`--net=/run/netns/${this.opts.netns}`, process.execPath, ...argv]] : [process.execPath, argv];
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe', ...(this.opts.inherit ?? [])],
      env: { ...process.env, ...this.opts.env },
    });
    child.stdout!.on('data', (b: Buffer) => this.logChunks.push(b));
    child.stderr!.on('data', (b: Buffer) => this.logChunks.push(b));
    this.child = child;
    try {
      await until(async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`skiffd exited with ${child.exitCode ?? child.signalCode}`);
        try {
          return (await this.api('GET', '/_ping')).status === 200;
        } catch {
          return false; // not listening yet
        }
      }, 'skiffd to answer /_ping', STALL_MS);
    } catch (err) {
      await this.stop('SIGKILL'); // a daemon that never answered must not outlive the test
      throw new Error(`start skiffd: ${(err as Error).message}\n${this.log()}`, { cause: err });
    }
  }

  async api(method: string, path: string, body?: unknown, raw?: string | Buffer): Promise<Reply> {
    const r = await request(this.socket, method, path, raw !== undefined ? { raw } : body === undefined ? {} : { body });
    return { status: r.status, body: r.body, text: r.text };
  }

  /**
   * The events logged so far that match `filters` (Docker's `filters` object), from `since` (a
   * Docker time, default the beginning): the stream is asked to end a second past now, so it
   * answers with what is there and closes. A window for the query, never a bound on a test's time.
   */
  async eventsSoFar(filters: Record<string, string[]>, since = '0'): Promise<DockerEvent[]> {
    const until = Math.ceil(Date.now() / 1000) + 1;
    const r = await this.api('GET', `/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify(filters))}`);
    return r.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as DockerEvent);
  }

  /** Runs the skiff CLI against this daemon (asynchronously, so the daemon's own events keep flowing). */
  cli(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return runCommand(process.execPath, [CLI, ...args], this.env, opts);
  }

  docker(args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
    return runCommand('docker', args, { ...process.env, DOCKER_HOST: `unix://${this.socket}` }, opts);
  }

  /** What a container's inspect says (fails on anything but 200). */
  async inspect<T = Inspect>(name: string): Promise<T> {
    const r = await this.api('GET', `/containers/${encodeURIComponent(name)}/json`);
    if (r.status !== 200) throw new Error(`inspect ${name}: ${r.status} ${r.text}`);
    return r.body as T;
  }

  /** Waits until a container's console (its ring, as `logs` shows it) includes `text`. */
  async waitForOutput(name: string, text: string): Promise<void> {
    await until(async () => (await this.api('GET', `/containers/${encodeURIComponent(name)}/logs?stdout=1`)).text.includes(text),
      `${name} to print ${JSON.stringify(text)}`);
  }

  /** Waits until `count` clients (attach, logs --follow) are attached to a container's console. */
  async waitForClients(name: string, count = 1): Promise<void> {
    await until(async () => ((await this.inspect(name)).Skiff.console?.clients ?? 0) >= count, `${count} client(s) attached to ${name}`);
  }

  /** Container PID 1s whose parent is this skiffd (not its launchers, nor the console keeper it started). */
  children(): number[] {
    return childPids(this.pid).filter((p) => !this.isLauncher(p) && !this.isKeeper(p));
  }

  /** The console keeper: one process per state dir, which holds every console's forwarder and outlives skiffd. */
  isKeeper(pid: number): boolean {
    return cmdline(pid) === 'skiff-keeper';
  }

  isLauncher(pid: number): boolean {
    return cmdline(pid)?.startsWith('skiff-launcher') ?? false;
  }

  /**
   * What skiffd holds, to compare before and after: the mounts it sees (the host's, without
   * mount ids), its open fds by what they are (pipe and socket inode numbers dropped), its
   * children and grandchildren (launchers, their children), and the entries of its state dir.
   */
  view(): DaemonView {
    const fds = fdTargets(this.pid).map(({ target }) => target.replace(/\[\d+\]$/, '')).sort();
    const mounts = (mountinfoLines(this.pid) ?? []).map((l) => l.split(' ').slice(2).join(' ')).sort();
    const processes = childPids(this.pid);
    for (const p of [...processes]) processes.push(...childPids(p));
    const state: string[] = [];
    const walk = (dir: string, rel: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        state.push(`${rel}${e.name}${e.isDirectory() ? '/' : ''}`);
        // Removed containers' directories: kept emptied as spares for the next creates (bounded,
        // as many as removals ran at once) or in the trash until emptied off the request path.
        // What they hold is the state store's own pool, not a container left behind; the
        // removal test checks both.
        if (rel === '.skiffd/' && (e.name === 'spare' || e.name === 'trash')) continue;
        if (e.isDirectory()) walk(join(dir, e.name), `${rel}${e.name}/`);
      }
    };
    walk(this.stateDir, '');
    return { mounts, fds, processes: processes.sort((a, b) => a - b), state: state.sort() };
  }

  /** The view once two looks 50 ms apart agree: connections just closed leave skiffd's fd table asynchronously. */
  async settledView(): Promise<DaemonView> {
    let last = this.view();
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const now = this.view();
      if (JSON.stringify(now) === JSON.stringify(last)) return now;
      last = now;
    }
    return last;
  }

  zombies(): number[] {
    return childPids(this.pid).filter(isZombie);
  }

  /** Stops skiffd with SIGTERM (containers outlive it; remove them first) and waits for it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    }
    // Containers that outlive skiffd may hold its stdout and stderr: stop reading them, or
    // their pipes would keep this process's event loop alive.
    child.stdout?.destroy();
    child.stderr?.destroy();
  }

  /** Removes every container (force) and stops the daemon, then its temp dir. */
  async destroy(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      const list = (await this.api('GET', '/containers/json?all=1')).body as { Id: string }[];
      // A bounded number at once: a thousand connects at the same moment overflow the API
      // socket's listen backlog, and a unix socket refuses the rest with EAGAIN.
      const queue = [...list];
      await Promise.all(Array.from({ length: 16 }, async () => {
        for (let c = queue.shift(); c !== undefined; c = queue.shift()) await this.api('DELETE', `/containers/${c.Id}?force=1`);
      }));
      await this.stop();
    }
    this.tmp.removeAll();
    this.made = null;
  }
}

function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: { input?: string; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 30_000} ms`));
    }, opts.timeoutMs ?? 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (signal ? 9 : 0), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The docker command line is part of the test set-up: a test that needs it fails without it, never skips. */
export function requireDocker(): void {
  if (spawnSync('docker', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('the docker command line is missing: these tests need it (docker-ce-cli)');
  }
}

/**
 * A skiffd for the enclosing describe(): started before its tests, every container removed and
 * the daemon stopped after them, its temp dir deleted. (A describe that prepares more adds its
 * own before(), which runs after this one.)
 */
export function useDaemon(args: string[] = [], opts: DaemonOptions = {}): TestDaemon {
  const d = new TestDaemon(args, opts);
  before(async () => {
    await d.start();
  });
  after(async () => {
    await d.destroy();
  });
  return d;
}

/**
 * A network namespace of the describe's own and a skiffd running in it: made before its tests,
 * the daemon destroyed and the namespace (with every bridge, rule and address in it) removed
 * after them. The fields are there once the describe's before() has run.
 */
export function useDaemonInNetns(args: string[] = [], opts: DaemonOptions = {}): { readonly ns: TestNetns; readonly d: TestDaemon } {
  let ns: TestNetns | undefined;
  let d: TestDaemon | undefined;
  before(async () => {
    ns = new TestNetns();
    d = new TestDaemon(args, { ...opts, netns: ns.name });
    await d.start();
  });
  after(async () => {
    await d?.destroy();
    ns?.destroy();
  });
  return { get ns() { return ns!; }, get d() { return d!; } };
}

/** A skiffd of a test's own: started, handed to `use`, destroyed afterwards whatever happened. */
export async function withDaemon<T>(args: string[], use: (d: TestDaemon) => Promise<T>, opts: DaemonOptions = {}): Promise<T> {
  const d = new TestDaemon(args, opts);
  await d.start();
  try {
    return await use(d);
  } finally {
    await d.destroy();
  }
}
