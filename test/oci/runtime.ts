// The OCI conformance suite's runtime under test, taken as a parameter: skiff-oci by default (the
// C front end build/skiff-oci and its warm server), `SKIFF_OCI_RUNTIME=skiff-oci-node` for the
// Node command line alone, `SKIFF_OCI_RUNTIME=runc` (or any path) for another runtime, so that the very same tests run
// against runc and a test runc fails is a wrong test. Each suite gets its own --root, and a
// bundle builder: a busybox rootfs and a config.json like `runc spec`'s (without terminal or
// ambient capabilities), with a host directory bound read-write at /out for the container to
// report what it sees.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { close, isChildSubreaper, pidfdOpen, setChildSubreaper, waitPidfd } from '../../src/sys/libc.js';
import { orphanZombies, reapChild } from '../support/orphans.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';
import { TempDirs } from '../support/tmp.js';
import { until } from '../support/wait.js';

const PROJECT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SKIFF_OCI = join(PROJECT, 'build/skiff-oci');
export const SKIFF_OCI_NODE = join(PROJECT, 'bin/skiff-oci.js');

/** The runtime binary the suite runs against, and its name in test titles. */
export function runtimeUnderTest(): { path: string; name: string } {
  const v = process.env.SKIFF_OCI_RUNTIME;
  if (v === undefined || v === '' || v === 'skiff-oci') return { path: SKIFF_OCI, name: 'skiff-oci' };
  if (v === 'skiff-oci-node') return { path: SKIFF_OCI_NODE, name: 'skiff-oci-node' };
  if (v === 'runc') return { path: '/usr/sbin/runc', name: 'runc' };
  if (v === 'crun') return { path: '/usr/bin/crun', name: 'crun' };
  return { path: v, name: v };
}

export const RUNTIME = runtimeUnderTest();
export const IS_SKIFF = RUNTIME.path === SKIFF_OCI || RUNTIME.path === SKIFF_OCI_NODE;

/** The pid of skiff-oci's server for `root`, or null if none is running. */
export function serverPid(root: string): number | null {
  try {
    const pid = Number(readFileSync(join(root, 'skiff-oci:server/server.pid'), 'utf8'));
    return existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('skiff-oci-server') ? pid : null;
  } catch {
    return null;
  }
}

const roots = new Set<string>();

/**
 * TempDirs for a suite of Runtime calls: in its after(), skiff-oci's servers for the suite's
 * roots are ended first, then the directories (their sockets among them) removed.
 */
export function useOciTempDirs(): TempDirs {
  const tmp = new TempDirs();
  after(async () => {
    for (const root of roots) await stopServer(root);
    roots.clear();
    tmp.removeAll();
  });
  return tmp;
}

/** Ends skiff-oci's server for `root` (if one runs) and waits until it is gone, reaped if it is our child. */
export async function stopServer(root: string): Promise<void> {
  const pid = serverPid(root);
  if (pid === null) return;
  let fd: number;
  try {
    fd = pidfdOpen(pid);
  } catch {
    return; // ended meanwhile
  }
  try {
    process.kill(pid, 'SIGTERM');
    // The server is orphaned to the nearest subreaper, which may be this process: then it is
    // reaped here. Its /proc stat shows Z as soon as its main thread ends, but waitid reports
    // it only once every thread has: a reap at the first Z found nothing and left a zombie.
    // Not our child (ECHILD): its subreaper reaps it; ended is enough.
    await until(() => {
      try {
        return waitPidfd(fd) !== null;
      } catch {
        return !existsSync(`/proc/${pid}`) || / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ')'));
      }
    }, `skiff-oci's server (pid ${pid}) to end`);
  } finally {
    close(fd);
  }
}

export interface CallResult { code: number; stdout: string; stderr: string }

/**
 * The runtime's calls. stdio are files, never pipes: the init inherits the caller's stdio, so a
 * pipe would stay open for the container's whole life (as it does under runc).
 */
export class Runtime {
  readonly root: string;
  private readonly io: string;
  private n = 0;

  constructor(tmp: TempDirs) {
    this.root = join(tmp.make('oci-root'), 'state');
    roots.add(this.root);
    this.io = tmp.make('oci-io');
  }

  /** `extraFd`: a file opened as the call's fd 3 (for --preserve-fds); `env`: the call's environment. */
  call(args: string[], opts: { extraFd?: string; env?: NodeJS.ProcessEnv } = {}): CallResult {
    const i = this.n++;
    const out = join(this.io, `${i}.out`);
    const err = join(this.io, `${i}.err`);
    const fds = [openSync('/dev/null', 'r'), openSync(out, 'w'), openSync(err, 'w'), ...(opts.extraFd === undefined ? [] : [openSync(opts.extraFd, 'r')])];
    try {
      const r = spawnSync(RUNTIME.path, ['--root', this.root, ...args], { stdio: fds, timeout: 120_000, env: opts.env });
      if (r.error) throw r.error;
      return { code: r.status ?? 128 + 9, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  }

  /** The call, running alongside others: resolves when it exits. */
  async callAsync(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<CallResult> {
    const i = this.n++;
    const out = join(this.io, `${i}.out`);
    const err = join(this.io, `${i}.err`);
    const fds = [openSync('/dev/null', 'r'), openSync(out, 'w'), openSync(err, 'w')];
    try {
      const child = spawn(RUNTIME.path, ['--root', this.root, ...args], { stdio: fds, env: opts.env });
      const code = await new Promise<number>((res, rej) => {
        child.once('error', rej);
        child.once('exit', (c, sig) => res(c ?? 128 + (sig === 'SIGKILL' ? 9 : 15)));
      });
      return { code, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  }

  ok(args: string[]): string {
    const r = this.call(args);
    if (r.code !== 0) throw new Error(`${RUNTIME.name} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  state(id: string): { ociVersion: string; id: string; status: string; pid: number; bundle: string; annotations?: Record<string, string> } {
    return JSON.parse(this.ok(['state', id])) as never;
  }

  /** Every container left is killed and deleted (a test that failed midway leaves nothing either). */
  cleanup(ids: Iterable<string>): void {
    for (const id of ids) {
      const r = this.call(['state', id]);
      if (r.code !== 0) continue;
      const pid = (JSON.parse(r.stdout) as { pid: number }).pid;
      this.call(['delete', '--force', id]);
      if (pid > 0) reapChild(pid);
    }
  }
}

/**
 * The suite's process is the inits' child subreaper while it runs (as containerd's shim and
 * conmon are): an init orphaned by `create` becomes its child, and is reaped here by pidfd.
 * Everything else orphaned below it meanwhile (a daemonized server, an exec's or a hook's
 * processes) is reaped between tests by the suite's root hooks (test/support/orphans.ts). Once
 * the suite's own after() hooks have run, no zombie child is left: one here is an orphan a reap
 * point missed (the root hooks not loaded, or a pidfd left open on it).
 */
export function useSubreaper(): void {
  let was = false; // what the process was before: put back, not cleared (a suite nested in another subreaper's may have been one)
  before(() => {
    was = isChildSubreaper();
    setChildSubreaper(true);
  });
  after(() => {
    setChildSubreaper(was);
    const left = orphanZombies().map((p) => `${p} (${readFileSync(`/proc/${p}/stat`, 'utf8').replace(/^\d+ \((.*)\) .*$/s, '$1')})`);
    expect(left, 'zombie children of the test process that nobody reaps').to.deep.equal([]);
  });
}

/**
 * The tests' cgroupsPath level, /skiff-oci-test, removed from every hierarchy once empty (runc,
 * unlike skiff-oci, leaves the parents it made).
 */
export function useCgroupParentCleanup(): void {
  after(() => {
    for (const h of readdirSync('/sys/fs/cgroup')) {
      try {
        rmdirSync(`/sys/fs/cgroup/${h}/skiff-oci-test`);
      } catch {
        // not there, or not ours to empty
      }
    }
  });
}

/** Reaps an init that is our child (subreaper) once it has exited; a no-op if it is not ours. */
export { reapChild as reap };

export interface Bundle {
  dir: string;
  out: string;
  config: Record<string, unknown> & { process: Record<string, unknown>; linux: Record<string, unknown>; mounts: unknown[] };
  write(): void;
}

/** A bundle with a busybox rootfs and a runc-spec-like config running `sh -c SCRIPT`. */
export function makeBundle(tmp: TempDirs, script: string): Bundle {
  const dir = tmp.make('oci-bundle');
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  buildBusyboxRootfs(rootfs);
  mkdirSync(join(rootfs, 'out'));
  const out = tmp.make('oci-out');
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID'];
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['sh', '-c', script],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: 'oci-test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/out', type: 'bind', source: out, options: ['rbind', 'rw'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/sys/firmware'], // kcore: absent from some kernels (this VM's), skipped
      readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  const b: Bundle = { dir, out, config: config, write: () => writeFileSync(join(dir, 'config.json'), JSON.stringify(b.config, null, 2)) };
  b.write();
  return b;
}

/** What the container wrote to /out/NAME, or null while it has not. */
export function outFile(b: Bundle, name: string): string | null {
  const p = join(b.out, name);
  return existsSync(p) ? readFileSync(p, 'utf8') : null;
}
