// The koffi binding of build/libskiff-launch.so: launch a plan, or decode one (dry run).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { errnoName, SysError } from '../sys/errno.js';
import { RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS, encodePlan, type Op, type Plan } from './plan-format.js';

function projectRoot(): string {
  // src/native/launch.ts (tsx) or dist/src/native/launch.js (compiled): walk up to package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('skiff: cannot find the project root from ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const LIBRARY_PATH = process.env.SKIFF_LAUNCH_LIBRARY ?? join(projectRoot(), 'build/libskiff-launch.so');

let native: {
  launch: koffi.KoffiFunction;
  decode: koffi.KoffiFunction;
  opTable: koffi.KoffiFunction;
  version: koffi.KoffiFunction;
  sendFd: koffi.KoffiFunction;
  fdChannel: koffi.KoffiFunction;
  recvFd: koffi.KoffiFunction;
  startTime: koffi.KoffiFunction;
} | undefined;

function lib(): NonNullable<typeof native> {
  if (native) return native;
  if (!existsSync(LIBRARY_PATH)) {
    throw new Error(`skiff: the native launcher ${LIBRARY_PATH} is missing; run \`npm install\` (it builds src/native/launch.c)`);
  }
  const l = koffi.load(LIBRARY_PATH);
  native = {
    launch: l.func('int skiff_launch(const uint8_t *plan, size_t len, _Out_ int32_t *out)'),
    decode: l.func('int skiff_plan_decode(const uint8_t *plan, size_t len, _Out_ uint8_t *out, size_t outlen)'),
    opTable: l.func('const char *skiff_op_table(void)'),
    version: l.func('unsigned int skiff_plan_version(void)'),
    sendFd: l.func('int skiff_send_fd(const char *path, int fd, const char *name, _Out_ const char **step)'),
    fdChannel: l.func('int skiff_fd_channel(_Out_ int32_t *fds)'),
    recvFd: l.func('int skiff_recv_fd(int sock)'),
    startTime: l.func('long long skiff_start_time(int pid)'),
  };
  return native;
}

/**
 * A launch that failed inside the native launcher: at operation `index` of the
 * plan (its `what` quoted), at the final exec (index = ops.length), or before any
 * operation (index -1: clone, uid/gid maps).
 */
export class LaunchError extends Error {
  readonly index: number;
  readonly op: string;
  readonly errno: number;
  readonly code: string;

  constructor(plan: Plan, index: number, errno: number) {
    const code = errnoName(errno);
    let op: string;
    let what: string;
    if (index === plan.ops.length) {
      op = 'execve';
      what = `exec \`${plan.exec.argv[0]}\``;
    } else if (index >= 0 && index < plan.ops.length) {
      const o = plan.ops[index]!;
      op = o.op;
      what = o.what;
    } else {
      op = 'clone';
      what = 'create the container process';
    }
    super(`${what}: ${code} (operation ${index} ${op})${hint(plan.ops[index], code)}`);
    this.name = 'LaunchError';
    this.index = index;
    this.op = op;
    this.errno = errno;
    this.code = code;
  }
}

/** What an errno means for a path resolved beneath the root, where the bare code would puzzle. */
function hint(op: Op | undefined, code: string): string {
  const resolve = op && 'resolve' in op ? op.resolve : 0;
  if (code === 'EXDEV' && resolve & RESOLVE_BENEATH) return ': the path leads out of the root (through a symlink or "..")';
  if (code === 'ELOOP' && resolve & RESOLVE_NO_SYMLINKS) return ': the path goes through a symlink, which is not allowed here';
  return '';
}

/**
 * Runs a plan: forks, enters the namespaces, applies the operations, execs.
 * Returns PID 1's pid once it has exec'd; throws LaunchError otherwise.
 * Synchronous (a few hundred microseconds): call it from a launcher worker.
 */
export function launch(plan: Plan): number {
  const buf = encodePlan(plan);
  const out = new Int32Array(3);
  const pid = lib().launch(buf, buf.length, out) as number;
  if (pid > 0) return pid;
  const [index, , errno] = out as unknown as [number, number, number];
  if (index === -2) throw new Error(`launch plan rejected by the native launcher: ${decodeReason(buf)}`);
  throw new LaunchError(plan, index, errno);
}

function decodeReason(buf: Buffer): string {
  const out = Buffer.alloc(256);
  lib().decode(buf, buf.length, out, out.length);
  return out.toString('utf8', 0, out.indexOf(0));
}

export interface DecodedPlan {
  version: number;
  cloneFlags: number;
  uidMap: string | null;
  gidMap: string | null;
  ops: { op: string; args: (number | string | null)[] }[];
  exec: { paths: string[]; argv: string[]; envp: string[] };
}

/** Dry run: decodes an encoded plan exactly as the launcher would, or throws its reason. */
export function decodeEncodedPlan(buf: Buffer): DecodedPlan {
  const out = Buffer.alloc(1 << 20);
  const n = lib().decode(buf, buf.length, out, out.length) as number;
  const text = out.toString('utf8', 0, n < 0 ? out.indexOf(0) : n);
  if (n < 0) throw new Error(`plan does not decode: ${text}`);
  return JSON.parse(text) as DecodedPlan;
}

/** The op-code table compiled into launch.c, as code → name. */
export function nativeOpTable(): Map<number, string> {
  const table = lib().opTable() as string;
  return new Map(table.split(',').map((e) => {
    const [code, name] = e.split(':') as [string, string];
    return [Number(code), name];
  }));
}

export function nativePlanVersion(): number {
  return lib().version() as number;
}

/**
 * A live process's start time (clock ticks after boot, as /proc/<pid>/stat has it), or null once
 * it has exited (gone or a zombie): the launcher's reading of the PID 1 it has just launched,
 * read in C because the launcher does it on every start (src/sys/proc.ts reads the same field).
 */
export function startTimeOf(pid: number): number | null {
  const t = Number(lib().startTime(pid));
  return t < 0 ? null : t;
}

/** Sends `fd` over the unix socket at `path` (SCM_RIGHTS, payload `name`): skiff-oci's console socket. */
export function sendFd(path: string, fd: number, name: string): void {
  const step: (string | null)[] = [null];
  const rc = lib().sendFd(path, fd, name, step) as number;
  if (rc !== 0) throw new Error(`console socket \`${path}\`: ${step[0] ?? 'send'}: ${errnoName(rc)}`);
}

/** A close-on-exec unix socket pair for a launch's send_fd (its children inherit the copies clone makes). */
export function fdChannel(): [number, number] {
  const fds = new Int32Array(2);
  const rc = lib().fdChannel(fds) as number;
  if (rc !== 0) throw new SysError('socketpair', rc, 'a launch\'s fd channel');
  return [fds[0]!, fds[1]!];
}

/** The fd a launch's send_fd sent on this socket (without waiting), close-on-exec; SysError if none came. */
export function recvFd(sock: number, what: string): number {
  const rc = lib().recvFd(sock) as number;
  if (rc < 0) throw new SysError('recvmsg', -rc, what);
  return rc;
}
