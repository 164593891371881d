// The calls on an existing container: start, state, kill, delete, ps, pause, resume. Each reads
// the record and the kernel, does its one thing and exits. No native code: these run several
// times per container under containerd and podman, so their start-up is kept to Node's own.
import { closeSync, constants, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import type { CallIo } from './call-io.js';
import { cgroupPids, removeCgroup, signalAll } from './cgroup.js';
import { OciError, fsMessage, log, type LogTarget } from './errors.js';
import { runHooks } from './hooks.js';
import { freezerDir, pause, stateJson, statusOf, waitGone } from './status.js';
import { ContainerLock, containerDir, fifoPath, mustRecord, readRecord, type ContainerRecord } from './store.js';

export async function start(root: string, id: string, logTarget: LogTarget, io: CallIo): Promise<void> {
  const lock = await ContainerLock.take(root, id);
  try {
    const r = mustRecord(root, id);
    const status = statusOf(root, r);
    if (status === 'stopped') throw new OciError('cannot start a container that has stopped');
    if (status !== 'created') throw new OciError('cannot start an already running container');
    releaseInit(root, r);
    try {
      await runHooks('poststart', r.hooks.poststart, stateJson(root, r), io.cwd);
    } catch (err) {
      log(logTarget, 'warning', (err as Error).message);
    }
  } finally {
    lock.release();
  }
}

/**
 * Writes the init's go-ahead into the start fifo, which the init holds open read-write and
 * reads. A non-blocking open for writing fails with ENXIO when no process has it open for
 * reading: the init is gone. Then the fifo goes: from here the container is running.
 */
function releaseInit(root: string, r: ContainerRecord): void {
  const path = fifoPath(root, r.id);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENXIO') throw new OciError('cannot start a container that has stopped', { cause: err });
    throw new OciError(fsMessage('open the start fifo', path, err), { cause: err });
  }
  try {
    writeSync(fd, '0');
  } catch (err) {
    throw new OciError(fsMessage('write to the start fifo', path, err), { cause: err });
  } finally {
    closeSync(fd);
  }
  unlinkSync(path);
}

export function state(root: string, id: string, io: CallIo): void {
  const r = mustRecord(root, id);
  io.out(`${JSON.stringify(stateJson(root, r), null, 2)}\n`);
}

export function kill(root: string, id: string, signal: number, all: boolean): void {
  const r = mustRecord(root, id);
  if (statusOf(root, r) === 'stopped') throw new OciError('container not running');
  if (all) {
    signalAll(r.cgroups, signal);
    return;
  }
  try {
    process.kill(r.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new OciError('container not running');
    throw new OciError(`kill the init (pid ${r.pid}) with signal ${signal}: ${(err as NodeJS.ErrnoException).code}`, { cause: err });
  }
}

export async function remove(root: string, id: string, force: boolean, logTarget: LogTarget, io: CallIo): Promise<void> {
  const lock = await ContainerLock.take(root, id);
  try {
    const r = readRecord(root, id);
    if (r === null) {
      // runc's behaviour, which containerd's shim relies on when it deletes twice
      if (force) return;
      throw new OciError('container does not exist');
    }
    const status = statusOf(root, r);
    if (status === 'running' || status === 'paused') {
      if (!force) throw new OciError(`cannot delete container ${id} that is not stopped: ${status}`);
      if (status === 'paused') thaw(r);
      signalAll(r.cgroups, 9);
    }
    if (status !== 'stopped') {
      try {
        process.kill(r.pid, 9);
      } catch {
        // gone meanwhile
      }
      if (!waitGone(r, 30_000)) throw new OciError(`delete: the init (pid ${r.pid}) is still alive 30 s after SIGKILL`);
    }
    removeCgroup(r.cgroups, r.cgroupParents);
    try {
      await runHooks('poststop', r.hooks.poststop, stateJson(root, { ...r, pid: 0 }), io.cwd);
    } catch (err) {
      log(logTarget, 'warning', (err as Error).message);
    }
    rmSync(containerDir(root, id), { recursive: true, force: true });
  } finally {
    lock.release();
  }
}

export function ps(root: string, id: string, json: boolean, io: CallIo): void {
  const r = mustRecord(root, id);
  const pids = statusOf(root, r) === 'stopped' ? [] : cgroupPids(r.cgroups);
  if (json) {
    io.out(`${JSON.stringify(pids)}\n`);
    return;
  }
  const lines = pids.map((pid) => {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    } catch {
      // exited meanwhile
    }
    return `${String(pid).padStart(7)} ${cmd}`;
  });
  io.out(`${'PID'.padStart(7)} CMD\n${lines.map((l) => `${l}\n`).join('')}`);
}

function freezer(r: ContainerRecord): string {
  const dir = freezerDir(r);
  if (dir === undefined) throw new OciError('pause and resume need the v1 freezer controller, which this host does not have');
  return dir;
}

function freeze(r: ContainerRecord, to: 'FROZEN' | 'THAWED'): void {
  const file = `${freezer(r)}/freezer.state`;
  try {
    writeFileSync(file, to);
    // FREEZING until every task has stopped: written again until it reads FROZEN.
    for (let wait = 1; to === 'FROZEN' && readFileSync(file, 'utf8').trim() !== 'FROZEN'; wait = Math.min(wait * 2, 20)) {
      pause(wait);
      writeFileSync(file, to);
    }
  } catch (err) {
    throw new OciError(fsMessage(`write ${to} to`, file, err), { cause: err });
  }
}

function thaw(r: ContainerRecord): void {
  freeze(r, 'THAWED');
}

export async function pauseContainer(root: string, id: string): Promise<void> {
  const lock = await ContainerLock.take(root, id);
  try {
    const r = mustRecord(root, id);
    const status = statusOf(root, r);
    if (status !== 'running') throw new OciError(status === 'paused' ? 'container already paused' : 'container not running');
    freeze(r, 'FROZEN');
  } finally {
    lock.release();
  }
}

export async function resume(root: string, id: string): Promise<void> {
  const lock = await ContainerLock.take(root, id);
  try {
    const r = mustRecord(root, id);
    if (statusOf(root, r) !== 'paused') throw new OciError('container not paused');
    thaw(r);
  } finally {
    lock.release();
  }
}
