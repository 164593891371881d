// Where a call's output goes and how create's init is launched. A call runs either in its own
// Node process (bin/skiff-oci.js: localIo, which launches through koffi) or in the warm server
// for a C front end (src/oci/server-call.ts: the front end prints, opens the start fifo and runs
// the plan, so that the init is born in the engine's process tree). The commands are written
// once against this interface.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Plan } from '../native/plan-format.js';
import { OciError, fsMessage } from './errors.js';

export interface CallIo {
  /** the caller's working directory: relative paths on the command line are taken from it */
  readonly cwd: string;
  out(text: string): void;
  err(text: string): void;
  /**
   * create: opens the start fifo where the launching process keeps it, and checks that the
   * caller's fds 0–2 and the `preserveFds` after them are open. Returns the fifo's fd number
   * in the launching process (the plan moves it to 3 + preserveFds).
   */
  prepareLaunch(fifoPath: string, preserveFds: number): Promise<number>;
  /** Launches the plan with this umask; the init's pid, or LaunchError from the interpreter. */
  launch(plan: Plan, umask: number): Promise<number>;
  /** The call that undoes this one if the process running it is lost midway (the server's case). */
  undoWith(argv: string[]): void;
  /** Closes what prepareLaunch opened. */
  release(): void;
}

/** Writes all of `text` to `fd` with fs.writeSync: never process.stdout, which would make a shared pipe non-blocking. */
export function writeFd(fd: number, text: string): void {
  const b = Buffer.from(text);
  for (let off = 0; off < b.length;) {
    try {
      off += writeSync(fd, b, off, b.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/** The call in its own process: stdio is this process's, the launch is koffi's. */
export function localIo(): CallIo {
  let fifoFd = -1;
  return {
    cwd: process.cwd(),
    out: (text) => writeFd(1, text),
    err: (text) => writeFd(2, text),
    async prepareLaunch(fifoPath, preserveFds) {
      const libc = await import('../sys/libc.js');
      try {
        // Opened read-write (no open blocks) and inherited by the init, which reads it: it needs
        // no path to it, nor the right to open it, whatever user it has become by then.
        fifoFd = openSync(fifoPath, 'r+');
      } catch (err) {
        throw new OciError(fsMessage('open the start fifo', fifoPath, err), { cause: err });
      }
      // Node makes every inherited fd close-on-exec at start-up (libuv's uv_disable_stdio_inheritance):
      // the caller's stdio and the fds it asked to preserve must reach the init's exec.
      for (let fd = 0; fd < 3 + preserveFds; fd++) {
        try {
          libc.clearCloseOnExec(fd);
        } catch (err) {
          if (fd >= 3) throw new OciError(`--preserve-fds ${preserveFds}: fd ${fd} is not open`, { cause: err });
        }
      }
      return fifoFd;
    },
    async launch(plan, umask) {
      const { launch } = await import('../native/launch.js');
      // The init takes its umask from its launcher.
      process.umask(umask);
      return launch(plan);
    },
    undoWith() {
      // this process is the call: if it is lost, so is the caller's answer, as with runc
    },
    release() {
      if (fifoFd >= 0) closeSync(fifoFd);
      fifoFd = -1;
    },
  };
}
