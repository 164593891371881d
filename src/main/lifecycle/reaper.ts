// The reaper: skiffd is the child subreaper, so every container's PID 1 becomes its
// child once the launcher's first child exits. Exits are seen through pidfds in one
// epoll set waited on in libuv's thread pool; never waitpid(-1), which would steal the
// statuses of the children libuv itself spawned (the launcher workers).
import {
  EPOLL_EVENT_SIZE, close, epollAdd, epollCreate, epollDel, epollWaitAsync,
  eventfd, eventfdDrain, eventfdSignal, pidfdOpen, pidfdSendSignal, setChildSubreaper, waitPidfd,
} from '../../sys/libc.js';
import { CLD_DUMPED, CLD_EXITED, CLD_KILLED, EPOLLIN } from '../../sys/constants.js';
import { SysError } from '../../sys/errno.js';

export interface ExitStatus {
  /** exit code, or 128 + signal (what a shell and `docker run` report) */
  exitCode: number;
  /** the signal that ended the process, if one did */
  signal: number | null;
  coreDumped: boolean;
  /** true when the process was not our child (adopted after a daemon restart): it ended, how is unknown */
  unknown?: boolean;
}

interface Watch {
  pid: number;
  pidfd: number;
  resolve: (s: ExitStatus) => void;
}

const WAKE = -1;

export class Reaper {
  private readonly epfd = epollCreate();
  private readonly wakeFd = eventfd();
  private readonly watches = new Map<number, Watch>(); // by pidfd
  /** other fds waited on in the same epoll set (a cgroup's OOM eventfd): a callback each, by fd */
  private readonly fdWatches = new Map<number, () => void>();
  private readonly events = Buffer.alloc(64 * EPOLL_EVENT_SIZE);
  private waiting = false;
  private closed = false;

  constructor() {
    setChildSubreaper();
    epollAdd(this.epfd, this.wakeFd, EPOLLIN, WAKE >>> 0);
  }

  /** How many processes are being watched. */
  get size(): number {
    return this.watches.size;
  }

  /**
   * Watches a child (a re-parented PID 1) and resolves with its exit once it has
   * been reaped. The pid must be our child or zombie: pidfd_open pins it, so it
   * cannot be recycled before we see its exit.
   */
  watch(pid: number): { exited: Promise<ExitStatus>; signal: (sig: number) => void; poll: () => void } {
    const pidfd = pidfdOpen(pid);
    let resolve!: (s: ExitStatus) => void;
    const exited = new Promise<ExitStatus>((r) => { resolve = r; });
    const w: Watch = { pid, pidfd, resolve };
    this.watches.set(pidfd, w);
    epollAdd(this.epfd, pidfd, EPOLLIN, pidfd);
    // It may have exited already: a pidfd of a zombie is readable at once, and the loop will see it.
    this.loop();
    return {
      exited,
      signal: (sig: number) => {
        if (this.watches.get(pidfd) === w) pidfdSendSignal(pidfd, sig);
      },
      // For a caller with an earlier sign of the exit (an exec's pipes at end of file): reaped
      // now if it has exited, without the round trip through the thread pool's epoll_wait. Not
      // exited yet: nothing happens, and the epoll set still sees the exit. An event the pool
      // thread already took for this pidfd is stale then: its number finds no watch, a newer
      // pidfd's (waitid answers "still running") or an fd watch's (whose callbacks drain
      // non-blocking fds, so a stale call is harmless).
      poll: () => {
        if (this.watches.get(pidfd) === w) this.reap(pidfd);
      },
    };
  }

  /**
   * Calls `onReadable` whenever `fd` is readable, from the same epoll set and pool thread as the
   * exits (no thread of its own); the callback drains it. Returns the way to stop, which the
   * caller does before closing the fd. A stale wake-up after that may still come: harmless.
   */
  watchFd(fd: number, onReadable: () => void): () => void {
    this.fdWatches.set(fd, onReadable);
    epollAdd(this.epfd, fd, EPOLLIN, fd);
    this.loop();
    return () => {
      if (this.fdWatches.get(fd) !== onReadable) return;
      this.fdWatches.delete(fd);
      if (!this.closed) epollDel(this.epfd, fd);
    };
  }

  private loop(): void {
    if (this.waiting || this.closed || this.watches.size + this.fdWatches.size === 0) return;
    this.waiting = true;
    epollWaitAsync(this.epfd, this.events, -1).then((events) => {
      this.waiting = false;
      for (const ev of events) {
        if (ev.data === WAKE >>> 0) { eventfdDrain(this.wakeFd); continue; }
        const onReadable = this.fdWatches.get(ev.data);
        if (onReadable) { this.call(onReadable); continue; }
        this.reap(ev.data);
      }
      this.loop();
    }, (err: unknown) => {
      this.waiting = false;
      // epoll_wait on a valid epoll fd only fails on a programming error: surface it.
      process.emitWarning(`skiff reaper: ${(err as Error).message}`);
    });
  }

  /** A watched fd's callback: one that throws must not stop the loop every exit is seen through. */
  private call(onReadable: () => void): void {
    try {
      onReadable();
    } catch (err) {
      process.emitWarning(`skiff reaper: an fd watch failed: ${(err as Error).message}`);
    }
  }

  private reap(pidfd: number): void {
    const w = this.watches.get(pidfd);
    if (!w) return;
    let exit;
    try {
      exit = waitPidfd(pidfd);
    } catch (err) {
      // ECHILD: not our child (adopted after a daemon restart); its parent reaps it. It has ended.
      if (!(err instanceof SysError) || err.code !== 'ECHILD') throw err;
      this.finish(w, { exitCode: -1, signal: null, coreDumped: false, unknown: true });
      return;
    }
    if (exit === null) return; // spurious wake-up
    this.finish(w, toExitStatus(exit.code, exit.status));
  }

  private finish(w: Watch, status: ExitStatus): void {
    this.watches.delete(w.pidfd);
    epollDel(this.epfd, w.pidfd);
    close(w.pidfd);
    w.resolve(status);
  }

  /** Stops waiting (the pending epoll_wait returns at once); watched processes are left alone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    eventfdSignal(this.wakeFd);
    const finish = () => {
      if (this.waiting) { setTimeout(finish, 5); return; }
      for (const w of this.watches.values()) close(w.pidfd);
      this.watches.clear();
      close(this.epfd);
      close(this.wakeFd);
    };
    finish();
  }
}

export function toExitStatus(code: number, status: number): ExitStatus {
  if (code === CLD_EXITED) return { exitCode: status, signal: null, coreDumped: false };
  if (code === CLD_KILLED || code === CLD_DUMPED) return { exitCode: 128 + status, signal: status, coreDumped: code === CLD_DUMPED };
  return { exitCode: 255, signal: null, coreDumped: false };
}
