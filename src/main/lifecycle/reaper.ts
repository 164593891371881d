// The reaper: skiffd is the child subreaper, so every container's PID 1 becomes its
// child once the launcher's first child exits. Exits are seen through pidfds; never
// waitpid(-1), which would steal the statuses of the children libuv itself spawned (the
// launcher workers). A child's exit comes with a SIGCHLD, which libuv turns into a turn of
// the main loop anyway: its pidfd sits in an epoll set polled then, on the main thread
// (epoll_wait with a timeout of 0). A process that is not skiffd's child when watched (adopted
// after a restart) sends no SIGCHLD: its pidfd, and the other fds watched (watchFd), sit in
// a second epoll set waited on in libuv's thread pool. Measured: the pool's hand-off was a
// wake-up of a pool thread and one more of the main loop per container exit.
import {
  EPOLL_EVENT_SIZE, close, epollAdd, epollCreate, epollDel, epollWait, epollWaitAsync,
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
  /** the epoll set it is in: the children's (polled on SIGCHLD) or the pool thread's */
  epfd: number;
  resolve: (s: ExitStatus) => void;
}

const WAKE = -1;

const EVENTS = 64;

export class Reaper {
  /** waited on in the pool: the wake fd, fd watches, pidfds of processes that are not skiffd's children */
  private readonly epfd = epollCreate();
  /** pidfds of skiffd's children, polled on SIGCHLD */
  private readonly childEpfd = epollCreate();
  private readonly wakeFd = eventfd();
  private readonly watches = new Map<number, Watch>(); // by pidfd
  /** watches in the pool's set */
  private poolWatches = 0;
  /** other fds waited on in the pool's epoll set (a cgroup's OOM eventfd): a callback each, by fd */
  private readonly fdWatches = new Map<number, () => void>();
  private readonly events = Buffer.alloc(EVENTS * EPOLL_EVENT_SIZE);
  private readonly childEvents = Buffer.alloc(EVENTS * EPOLL_EVENT_SIZE);
  private waiting = false;
  private closed = false;
  private readonly onSigchld = (): void => this.reapChildren();

  constructor() {
    setChildSubreaper();
    epollAdd(this.epfd, this.wakeFd, EPOLLIN, WAKE >>> 0);
    // Node's signal handles do not keep the process alive.
    process.on('SIGCHLD', this.onSigchld);
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
    // Whose child it is, and whether it has exited already, in one waitid: a child that exits
    // later sends a SIGCHLD; ECHILD, not (yet) a child, goes to the pool's set, which sees any exit.
    let exit: { code: number; status: number } | null = null;
    let child = true;
    try {
      exit = waitPidfd(pidfd);
    } catch (err) {
      if (!(err instanceof SysError) || err.code !== 'ECHILD') {
        close(pidfd);
        throw err;
      }
      child = false;
    }
    const w: Watch = { pid, pidfd, epfd: child ? this.childEpfd : this.epfd, resolve };
    this.watches.set(pidfd, w);
    if (exit !== null) {
      this.finish(w, toExitStatus(exit.code, exit.status), false);
    } else {
      epollAdd(w.epfd, pidfd, EPOLLIN, pidfd);
      if (!child) {
        this.poolWatches++;
        this.loop();
      }
    }
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

  /** On SIGCHLD (any child's, a launcher's too): reaps the watched children that have exited. */
  private reapChildren(): void {
    if (this.closed) return;
    for (;;) {
      const events = epollWait(this.childEpfd, this.childEvents, 0);
      for (const ev of events) this.reap(ev.data);
      if (events.length < EVENTS) return;
    }
  }

  private loop(): void {
    if (this.waiting || this.closed || this.poolWatches + this.fdWatches.size === 0) return;
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

  private finish(w: Watch, status: ExitStatus, added = true): void {
    this.watches.delete(w.pidfd);
    if (added) {
      epollDel(w.epfd, w.pidfd);
      if (w.epfd === this.epfd) this.poolWatches--;
    }
    close(w.pidfd);
    w.resolve(status);
  }

  /** Stops waiting (the pending epoll_wait returns at once); watched processes are left alone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('SIGCHLD', this.onSigchld);
    eventfdSignal(this.wakeFd);
    const finish = () => {
      if (this.waiting) { setTimeout(finish, 5); return; }
      for (const w of this.watches.values()) close(w.pidfd);
      this.watches.clear();
      close(this.epfd);
      close(this.childEpfd);
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
