// A real skiffd for integration tests: its own socket and state dir in a temp dir, driven
// through the CLI (bin/skiff.js), the HTTP API, or the docker command line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { request } from '../../src/api/http-client.js';
import { TempDirs } from './tmp.js';
import { childPids, cmdline, fdTargets, isZombie, mountinfoLines } from '../../src/sys/proc.js';

const ROOT = join(import.meta.dirname, '../..');
const SKIFFD = join(ROOT, 'dist/src/main/skiffd-main.js');
const CLI = join(ROOT, 'bin/skiff.js');

export interface Reply { status: number; body: unknown; text: string }
export interface CliResult { code: number; stdout: string; stderr: string }

export interface DaemonView { mounts: string[]; fds: string[]; processes: number[]; state: string[] }

export class TestDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly stateDir: string;
  child: ChildProcess | null = null;
  private readonly tmp = new TempDirs();
  private readonly logChunks: Buffer[] = [];

  /**
   * opts.base: where its temp dir goes (default the system temp dir); opts.env: added to
   * skiffd's environment; opts.inherit: fds of this process that skiffd gets at fds 3, 4, …
   * without close-on-exec (as a careless parent would leave them).
   */
  constructor(private readonly args: string[] = [], private readonly opts: { base?: string; env?: NodeJS.ProcessEnv; inherit?: number[] } = {}) {
    if (!existsSync(SKIFFD)) throw new Error(`${SKIFFD} is missing: run \`npm run build\``);
    this.dir = this.tmp.make('daemon', opts.base);
    this.socket = join(this.dir, 'skiff.sock');
    this.stateDir = join(this.dir, 'state');
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
    const child = spawn(process.execPath, [SKIFFD, '--socket', this.socket, '--state-dir', this.stateDir, ...cgroupParent, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe', ...(this.opts.inherit ?? [])],
      env: { ...process.env, ...this.opts.env },
    });
    child.stdout!.on('data', (b: Buffer) => this.logChunks.push(b));
    child.stderr!.on('data', (b: Buffer) => this.logChunks.push(b));
    this.child = child;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`skiffd exited with ${child.exitCode}:\n${this.log()}`);
      try {
        if ((await this.api('GET', '/_ping')).status === 200) return;
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error(`skiffd did not answer within 15 s:\n${this.log()}`);
  }

  async api(method: string, path: string, body?: unknown, raw?: string | Buffer): Promise<Reply> {
    const r = await request(this.socket, method, path, raw !== undefined ? { raw } : body === undefined ? {} : { body });
    return { status: r.status, body: r.body, text: r.text };
  }

  /** Runs the skiff CLI against this daemon (asynchronously, so the daemon's own events keep flowing). */
  cli(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return runCommand(process.execPath, [CLI, ...args], this.env, opts);
  }

  docker(args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
    return runCommand('docker', args, { ...process.env, DOCKER_HOST: `unix://${this.socket}` }, opts);
  }

  /** Container PID 1s whose parent is this skiffd. */
  children(): number[] {
    return childPids(this.pid).filter((p) => !this.isLauncher(p));
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
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  /** Removes every container (force) and stops the daemon, then its temp dir. */
  async destroy(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      const list = (await this.api('GET', '/containers/json?all=1')).body as { Id: string }[];
      await Promise.all(list.map((c) => this.api('DELETE', `/containers/${c.Id}?force=1`)));
      await this.stop();
    }
    this.tmp.removeAll();
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

export async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A skiffd for the enclosing describe(): started before its tests, every container removed and
 * the daemon stopped after them, its temp dir deleted.
 */
export function useDaemon(args: string[] = []): TestDaemon {
  const d = new TestDaemon(args);
  before(async () => {
    await d.start();
  });
  after(async () => {
    await d.destroy();
  });
  return d;
}
