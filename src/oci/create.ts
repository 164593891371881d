// `skiff-oci create`: config.json → a launch plan → an init that has done everything but its
// exec and waits on the start fifo. The Node process exits; the init, orphaned, is re-parented
// to the caller's subreaper (containerd's shim, conmon), which reaps it. All or nothing: a
// failure removes the init, the cgroup, the console and the state directory.
import { closeSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { CallIo } from './call-io.js';
import { ConfigError, parseConfig, type OciConfig } from './config.js';
import { makeCgroup, removeCgroup, type MadeCgroup } from './cgroup.js';
import { OciError, fsMessage } from './errors.js';
import { runHooks } from './hooks.js';
import { stateJson, waitGone } from './status.js';
import { ContainerLock, containerDir, ensureRoot, fifoPath, writeAtomic, writeRecord, type ContainerRecord } from './store.js';
import type { MountContext } from './mounts.js';
import { translate } from './translate.js';

export interface CreateOptions {
  root: string;
  id: string;
  bundle: string;
  pidFile: string | null;
  consoleSocket: string | null;
  preserveFds: number;
}

export function readConfig(bundle: string): OciConfig {
  const path = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new OciError(`bundle \`${bundle}\`: config.json: ${code}`, { cause: err });
    throw new OciError(fsMessage('read', path, err), { cause: err });
  }
  try {
    return parseConfig(text);
  } catch (err) {
    if (err instanceof ConfigError) throw new OciError(`config.json: ${err.message}`, { cause: err });
    throw err;
  }
}

function rootfsOf(bundle: string, config: OciConfig): string {
  const path = isAbsolute(config.root.path) ? config.root.path : join(bundle, config.root.path);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    // runc's wording
    throw new OciError(`invalid rootfs: stat ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as NodeJS.ErrnoException).code}`, { cause: err });
  }
  if (!st.isDirectory()) throw new OciError(`invalid rootfs: ${path} is not a directory`);
  return path;
}

function mountContexts(config: OciConfig, bundle: string, rootfs: string): MountContext[] {
  return config.mounts.map((m, i) => {
    const bind = m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
    if (!bind) return { source: 'dir', targetMissing: false, hostSource: null };
    if (m.source === null) throw new OciError(`mounts[${i}].source: a bind mount needs a source`);
    const hostSource = isAbsolute(m.source) ? m.source : join(bundle, m.source);
    let st;
    try {
      st = statSync(hostSource);
    } catch (err) {
      throw new OciError(`mounts[${i}].source: ${fsMessage('stat', hostSource, err)}`, { cause: err });
    }
    // Only a hint for making the mount point: the mount itself resolves the target beneath the root.
    const targetMissing = lstatSync(join(rootfs, m.destination), { throwIfNoEntry: false }) === undefined;
    return { source: st.isDirectory() ? 'dir' : 'file', targetMissing, hostSource };
  });
}

function maskedKinds(config: OciConfig, rootfs: string): ('file' | 'dir' | 'missing')[] {
  return config.linux.maskedPaths.map((p) => {
    // /proc and /sys are the kernel's, the same layout inside as on the host.
    const host = /^\/(proc|sys)(\/|$)/.test(p) ? p : join(rootfs, p);
    const st = lstatSync(host, { throwIfNoEntry: false });
    return st === undefined ? 'missing' : st.isDirectory() ? 'dir' : 'file';
  });
}

export function lastCap(): number {
  const text = readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim();
  return Number(text);
}

export async function create(o: CreateOptions, io: CallIo): Promise<void> {
  const bundle = resolve(o.bundle);
  const config = readConfig(bundle);
  const rootfs = rootfsOf(bundle, config);
  if (config.process.terminal && o.consoleSocket === null) throw new OciError('process.terminal is true: --console-socket is needed to pass the console\'s master on');
  if (!config.process.terminal && o.consoleSocket !== null) throw new OciError('--console-socket was given but process.terminal is false: there is no console to pass on');
  const mounts = mountContexts(config, bundle, rootfs);
  const masked = maskedKinds(config, rootfs);

  ensureRoot(o.root);
  const lock = await ContainerLock.take(o.root, o.id);
  const dir = containerDir(o.root, o.id);
  try {
    mkdirSync(dir, { mode: 0o711 });
  } catch (err) {
    lock.release();
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new OciError('container with given ID already exists');
    throw new OciError(fsMessage('mkdir', dir, err), { cause: err });
  }
  // From here the directory is this call's: a record from the start, so that `delete --force`
  // undoes whatever part of create was done, should the process running it be lost midway.
  const record: ContainerRecord = {
    ociVersion: config.ociVersion, id: o.id, pid: 0, startTime: -1, bundle, rootfs,
    created: new Date().toISOString(), annotations: config.annotations,
    cgroups: [], cgroupParents: [],
    hooks: { poststart: config.hooks.poststart, poststop: config.hooks.poststop, startContainer: [] },
  };

  // Native code only from here on: koffi's load is most of create's own start-up cost.
  const [{ sendFd, LaunchError }, { mknod }, libc, { S_IFIFO }, { procStat }] = await Promise.all([
    import('../native/launch.js'), import('../sys/files.js'), import('../sys/libc.js'), import('../sys/constants.js'), import('../sys/proc.js'),
  ]);
  let cgroup: MadeCgroup | null = null;
  let pid = 0;
  let master = -1;
  try {
    writeRecord(o.root, record, false);
    io.undoWith(['--root', o.root, 'delete', '--force', o.id]);
    const fifo = fifoPath(o.root, o.id);
    mknod(fifo, S_IFIFO | 0o600);
    const fifoFd = await io.prepareLaunch(fifo, o.preserveFds);
    const userNs = config.linux.namespaces.some((n) => n.type === 'user' && n.path === null);
    // Without linux.cgroupsPath, skiff-oci's own level; a relative path is taken from the root.
    const cgroupsPath = `/${(config.linux.cgroupsPath ?? `skiff-oci/${o.id}`).split('/').filter(Boolean).join('/')}`;
    cgroup = makeCgroup({ path: cgroupsPath, resources: config.linux.resources, devices: config.linux.deviceRules });
    const made = cgroup;
    record.cgroups = made.dirs;
    // skiff-oci's own default level is removed by whichever delete leaves it empty, not only by
    // the create that happened to make it.
    if (config.linux.cgroupsPath === null) made.parents = made.dirs.map((d) => d.slice(0, d.lastIndexOf('/')));
    record.cgroupParents = made.parents;
    writeRecord(o.root, record, false);
    let slave: string | null = null;
    // In a user namespace PID 1 may not reach the console socket (a host root's): create opens
    // the pty and sends its master. Elsewhere PID 1 does both, with a pty of the container's devpts.
    const devptsConsole = config.process.terminal && !userNs && o.consoleSocket !== null
      ? { socket: o.consoleSocket, rows: config.process.consoleSize?.height ?? 0, cols: config.process.consoleSize?.width ?? 0 }
      : null;
    if (config.process.terminal && devptsConsole === null) {
      const pty = libc.openPty();
      master = pty.master;
      slave = pty.slavePath;
      if (config.process.consoleSize) libc.setWindowSize(master, config.process.consoleSize.height, config.process.consoleSize.width);
    }
    const plan = translate(config, {
      rootfs, console: slave, devptsConsole, cgroupProcs: userNs ? null : made.procs,
      cgroupHierarchies: made.dirs.map((d) => ({ name: basename(d.slice(0, d.length - cgroupsPath.length)), dir: d })),
      fifoFd, preserveFds: o.preserveFds, lastCap: lastCap(), mounts, masked,
    });
    try {
      // process.user.umask, or runc's 0022
      pid = await io.launch(plan, config.process.user.umask ?? 0o022);
    } catch (err) {
      // The exec paths are checked by wait_start, while create still listens: runc's wording.
      if (err instanceof LaunchError && err.op === 'wait_start') {
        throw new OciError(`unable to start container process: exec: ${JSON.stringify(config.process.args[0])}: ${err.code === 'ENOENT' ? 'executable file not found in $PATH' : err.code} (${err.code}, operation ${err.index} wait_start)`, { cause: err });
      }
      throw new OciError(`unable to start container process: ${(err as Error).message}`, { cause: err });
    }
    // In a user namespace the init (root only there) cannot write the host's cgroup.procs: it is
    // moved from here, before its exec, so everything the container runs is inside.
    if (userNs) for (const procs of made.procs) writeFileSync(procs, String(pid));
    const startTime = procStat(pid)?.startTime;
    if (startTime === undefined) throw new OciError(`the init (pid ${pid}) ended before it was created`);
    record.pid = pid;
    record.startTime = startTime;
    writeRecord(o.root, record);
    if (o.consoleSocket !== null && slave !== null) {
      try {
        sendFd(o.consoleSocket, master, slave);
      } catch (err) {
        throw new OciError((err as Error).message, { cause: err });
      }
    }
    // During create the hooks see the container as the spec says it is then: creating.
    const state = { ...stateJson(o.root, record), status: 'creating' };
    await runHooks('prestart', config.hooks.prestart, state, io.cwd);
    await runHooks('createRuntime', config.hooks.createRuntime, state, io.cwd);
    if (o.pidFile !== null) writeAtomic(resolve(o.pidFile), String(pid));
  } catch (err) {
    if (pid > 0) {
      try {
        process.kill(pid, 9);
      } catch {
        // already gone
      }
      waitGone({ pid, startTime: procStat(pid)?.startTime ?? -1 }, 10_000);
    }
    try {
      if (cgroup !== null) removeCgroup(cgroup.dirs, cgroup.parents);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    throw err;
  } finally {
    if (master >= 0) closeSync(master);
    io.release();
    lock.release();
  }
}
