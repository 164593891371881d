// One container start, as a launcher worker performs it: host-side checks that name the
// spec field, the writable layer, the plan, the native launch. Leaves nothing behind on failure.
import { lstatSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { NetAttachment } from '../net/container-plan.js';
import { LaunchError, launch } from '../native/launch.js';
import type { Plan } from '../native/plan-format.js';
import { hasOverlayRoot, type ContainerSpec } from '../spec/container.js';
import { EACCES, ENOTDIR, SysError } from '../sys/errno.js';
import { buildPlan, type LaunchConsole } from './plan.js';
import { below, readHostAliases, type HostAlias } from './host-mounts.js';

export interface StartRequest {
  spec: ContainerSpec;
  /** empty directory used as every container's root mount point */
  rootMount: string;
  /** for an image: the directory holding the overlay's upper/ and work/ */
  layerDir: string | null;
  console: LaunchConsole;
  /** host directories no container may see (skiffd's state directory, which holds its socket); absolute, symlink-free */
  hide?: readonly string[];
  /** a bridge network's attachment, decided by skiffd (src/main/networks) */
  net?: NetAttachment;
  /** the container's cgroup: each hierarchy's cgroup.procs, which PID 1 joins before anything else */
  cgroupProcs?: string[];
  /** test-only: make operation k fail with this errno (failure injection) */
  failAt?: { index: number; errno: number };
}

/** Why a start failed, in a shape that crosses process boundaries (IPC, the API). */
export interface StartFailure {
  message: string;
  field?: string;
  op?: string;
  index?: number;
  errno?: number;
  code?: string;
  /** 126: found but could not be run; 127: not found; 125: skiff itself failed */
  exitCode: number;
}

export class StartError extends Error {
  readonly failure: StartFailure;
  constructor(failure: StartFailure, options?: ErrorOptions) {
    super(failure.message, options);
    this.name = 'StartError';
    this.failure = failure;
  }
}

function checkDirectory(path: string, field: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new StartError({ message: `${field} \`${path}\`: ${e.code ?? 'error'} (stat)`, field, errno: -(e.errno ?? 0), code: e.code ?? 'EIO', exitCode: 125 });
  }
  if (!st.isDirectory()) {
    throw new StartError({ message: `${field} \`${path}\` is not a directory`, field, code: 'ENOTDIR', errno: ENOTDIR, exitCode: 125 });
  }
}

function checkExists(path: string, field: string): void {
  try {
    statSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new StartError({ message: `${field} \`${path}\`: ${e.code ?? 'error'} (stat)`, field, errno: -(e.errno ?? 0), code: e.code ?? 'EIO', exitCode: 125 });
  }
}

/**
 * A rootfs, image or bind source inside a hidden directory would show skiffd's state (other
 * containers' specs and layers, the API socket) to the container: refused by name. One that
 * contains a hidden directory is fine: the plan masks the hidden part.
 */
function refuseHidden(path: string, field: string, hidden: readonly HostAlias[]): void {
  let real: string;
  try {
    real = realpathSync.native(path);
  } catch {
    return; // checked (and named) by the existence checks above
  }
  const hit = hidden.find((a) => below(real, a.path) !== null);
  if (hit) {
    throw new StartError({ message: `${field} \`${path}\` is inside skiffd's state directory \`${hit.path}\`, which no container may see`, field, code: 'EACCES', errno: EACCES, exitCode: 125 });
  }
}

/** Checks on the host that name the spec field, before any namespace exists. */
function preflight(req: StartRequest, hidden: readonly HostAlias[]): void {
  const { spec } = req;
  if (spec.rootfs !== 'host') checkDirectory(spec.rootfs, 'rootfs');
  if (spec.image !== null) checkDirectory(spec.image, 'image');
  spec.fromImage?.layers.forEach((l, i) => checkDirectory(l, `fromImage.layers[${i}]`));
  spec.mounts.forEach((m, i) => {
    if (m.type === 'bind') checkExists(m.source, `mounts[${i}].source`);
  });
  checkDirectory(req.rootMount, 'root mount point');
  if (spec.rootfs !== 'host') refuseHidden(spec.rootfs, 'rootfs', hidden);
  if (spec.image !== null) refuseHidden(spec.image, 'image', hidden);
  spec.mounts.forEach((m, i) => {
    if (m.type === 'bind') refuseHidden(m.source, `mounts[${i}].source`, hidden);
  });
}

let lastCapCache: number | undefined;

/** The kernel's highest capability number: the plan drops every capability up to it from the bounding set. */
export function lastCap(): number {
  if (lastCapCache === undefined) {
    const text = readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim();
    const n = Number(text);
    if (!/^\d+$/.test(text) || n > 63) throw new Error(`start: /proc/sys/kernel/cap_last_cap reads ${JSON.stringify(text)}, not a capability number up to 63`);
    lastCapCache = n;
  }
  return lastCapCache;
}

function planFor(req: StartRequest, hidden: readonly HostAlias[]): Plan {
  let layer: { upper: string; work: string } | null = null;
  if (hasOverlayRoot(req.spec)) {
    if (req.layerDir === null) throw new Error('start: an image needs a layer directory');
    layer = { upper: `${req.layerDir}/upper`, work: `${req.layerDir}/work` };
    mkdirSync(layer.upper, { recursive: true, mode: 0o755 });
    mkdirSync(layer.work, { recursive: true, mode: 0o700 });
  }
  // Sources were checked by preflight; a file's mount point is not made as a directory.
  const fileSources = new Set(req.spec.mounts.flatMap((m) => (m.type === 'bind' && statSync(m.source, { throwIfNoEntry: false })?.isDirectory() === false ? [m.source] : [])));
  const plan = buildPlan(req.spec, { rootMount: req.rootMount, layer, console: req.console, lastCap: lastCap(), hidden, fileSources, ...netContext(req), ...(req.cgroupProcs ? { cgroupProcs: req.cgroupProcs } : {}) });
  if (req.failAt) {
    const { index, errno } = req.failAt;
    const target = plan.ops[index];
    if (target === undefined) throw new Error(`failAt: plan has ${plan.ops.length} operations, not ${index + 1}`);
    plan.ops.splice(index, 0, { what: `${target.what} [injected failure]`, op: 'fail', errno });
  }
  return plan;
}

/**
 * A network's files over /etc/hosts and /etc/resolv.conf. A target the root lacks is made empty
 * first (lstat: a symlink counts as present; the bind then resolves it inside the root or fails).
 */
function netContext(req: StartRequest): { net?: NetAttachment; fileBinds?: { source: string; target: string; create: boolean }[] } {
  if (!req.net) return {};
  const root = req.spec.image ?? (req.spec.rootfs === 'host' ? '/' : req.spec.rootfs);
  const missing = (target: string): boolean => lstatSync(join(root, target), { throwIfNoEntry: false }) === undefined;
  const files = [{ source: req.net.hostsFile, target: '/etc/hosts' }, { source: req.net.resolvFile, target: '/etc/resolv.conf' }];
  return { net: req.net, fileBinds: files.map((f) => ({ ...f, create: missing(f.target) })) };
}

/**
 * Starts a container and returns its PID 1 (in the caller's pid namespace). The
 * child is re-parented to the nearest child subreaper once it has exec'd.
 * Throws StartError; the layer directory it may have created is left for the
 * caller, which owns the container's state directory.
 */
export function startContainer(req: StartRequest): { pid: number; plan: Plan } {
  const hidden = readHostAliases(req.hide ?? []);
  preflight(req, hidden);
  const plan = planFor(req, hidden);
  try {
    return { pid: launch(plan), plan };
  } catch (err) {
    throw launchFailure(err, req.spec.command[0]!);
  }
}

/**
 * A launch's failure as a StartError (a start's or an exec's): the final exec's errno gives 127
 * (not found) or 126 (found, not runnable), any operation before it 125. Other errors pass through.
 */
export function launchFailure(err: unknown, command: string): unknown {
  if (err instanceof LaunchError) {
    const exec = err.op === 'execve';
    const exitCode = exec ? (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 127 : 126) : 125;
    const message = exec && err.code === 'ENOENT' ? `command \`${command}\` not found: ENOENT (operation ${err.index} execve)` : err.message;
    return new StartError({ message, op: err.op, index: err.index, errno: err.errno, code: err.code, exitCode, ...(exec ? { field: 'command' } : {}) }, { cause: err });
  }
  if (err instanceof SysError) {
    return new StartError({ message: err.message, op: err.syscall, errno: err.errno, code: err.code, exitCode: 125 }, { cause: err });
  }
  return err;
}
