// The kernel's live OOM notification for a container's memory cgroup, so that skiffd says `oom`
// when the OOM killer strikes, not only when the container ends (a child may be the victim and
// the container run on). Waited on in skiffd's one epoll set (the reaper's: FdPoller), never a
// thread or a process per container:
//
//   v1  an eventfd registered in cgroup.event_control against memory.oom_control: one fd per
//       watched memory cgroup, closed when the watch stops (closing it unregisters the event in
//       the kernel); and the memory.oom_control fd the registration needs, kept open while the
//       watch lasts so that each reading of the counter, the exit's last one too, is one pread,
//       not an open, a read and a close. A memory cgroup kept as a spare (memcg-pool.ts) keeps
//       its watch, idle (no callback; the eventfd stays in the epoll set), and the container
//       that takes the spare `reuse`s it: the event is the cgroup's, whatever its name, so a
//       start makes no registration (an eventfd, an open, a read, a write to
//       cgroup.event_control, an epoll_ctl) and an exit ends none (an epoll_ctl, two closes).
//       At most one per spare (32), all closed at skiffd's close.
//   v2  one inotify instance for skiffd, a watch on each container's memory.events (the kernel
//       notifies modifications of it): no fd per container, a watch descriptor each.
//
// Either way the kernel says "something happened"; the oom_kill counter says how many kills
// (the v1 notification comes as the OOM starts, before its kill: one re-read a moment later).
import { readFileSync, readSync, writeFileSync } from 'node:fs';
import {
  close, eventfd, eventfdDrain, inotifyAddWatch, inotifyInit, inotifyRead, inotifyRmWatch, openPath, readRaw,
} from '../../sys/libc.js';
import { IN_IGNORED, IN_MODIFY, O_RDONLY } from '../../sys/constants.js';

/** Something that calls back when an fd is readable, from an epoll set it already waits on (the reaper). */
export interface FdPoller {
  watchFd(fd: number, onReadable: () => void): () => void;
}

export interface OomWatch {
  /** the oom_kill counter when the watch began (a reused directory may not start at 0) */
  readonly baseline: number;
  /** the oom_kill counter now (null: the cgroup is gone, or the watch ended) */
  count(): number | null;
  /** ends the watch and frees what it held; safe to call twice */
  stop(): void;
  /**
   * Calls back no more, keeping the registration: the memory cgroup is kept as a spare
   * (memcg-pool.ts) and the watch with it, for the container that takes it next.
   */
  idle(): void;
  /** The watch taken with a spare for its next container: `onCount` from now on, kills counted from `baseline` (the spare's counter). */
  reuse(onCount: (count: number) => void, baseline: number): void;
}

/** v1's notification comes before the kill it announces: the counter is read again this much later if it had not moved. */
const RECHECK_MS = 100;

/** `oom_kill N` from memory.oom_control (v1) or memory.events (v2). */
export function oomKillCount(text: string): number {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** `fn` run on the first call only: a watch is stopped at exit and again at shutdown, and an fd closed twice could be someone else's by then. */
function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

function readCount(file: string): number | null {
  try {
    return oomKillCount(readFileSync(file, 'utf8'));
  } catch {
    return null; // the cgroup is gone
  }
}

export class OomWatcher {
  private inotify: { fd: number; stop: () => void; byWd: Map<number, () => void> } | null = null;
  private readonly buf = Buffer.alloc(4096);

  constructor(private readonly poller: FdPoller, private readonly version: 1 | 2) {}

  /**
   * Watches the memory cgroup at `memDir`; `onCount(n)` gets the oom_kill counter each time the
   * kernel signals an OOM (it may repeat a count already seen). Throws a SysError if the kernel
   * refuses the registration (the caller goes on without live events: the exit still reads the counter).
   */
  watch(memDir: string, onCount: (count: number) => void): OomWatch {
    return this.version === 1 ? this.watchV1(memDir, onCount) : this.watchV2(memDir, onCount);
  }

  private watchV1(memDir: string, onCount: (count: number) => void): OomWatch {
    const file = `${memDir}/memory.oom_control`;
    const efd = eventfd();
    let ofd = -1;
    let baseline = 0;
    try {
      ofd = openPath(file, O_RDONLY);
      // The baseline from the fd the registration needs anyway: no second open.
      const n = readRaw(ofd, this.buf);
      if (n > 0) baseline = oomKillCount(this.buf.toString('utf8', 0, n));
      writeFileSync(`${memDir}/cgroup.event_control`, `${efd} ${ofd}`);
    } catch (err) {
      close(efd);
      if (ofd >= 0) close(ofd);
      throw err;
    }
    let stopped = false;
    // The event holds the cgroup, not this fd: it is kept only to read the counter with one pread.
    const count = (): number | null => {
      if (stopped) return null;
      try {
        return oomKillCount(this.buf.toString('utf8', 0, readSync(ofd, this.buf, 0, this.buf.length, 0)));
      } catch {
        return null; // the cgroup is gone
      }
    };
    let last = baseline;
    let listener: ((count: number) => void) | null = onCount;
    let recheck: NodeJS.Timeout | null = null;
    const read = (): void => {
      if (listener === null) return;
      const n = count();
      if (n === null) return;
      if (n !== last) {
        last = n;
        listener(n);
      } else if (recheck === null) {
        recheck = setTimeout(() => { recheck = null; read(); }, RECHECK_MS).unref();
      }
    };
    const unwatch = this.poller.watchFd(efd, () => {
      eventfdDrain(efd);
      read();
    });
    // While idle (a spare's) the eventfd stays in the epoll set: taking it out and back in
    // would be two more system calls a start, for an empty cgroup that cannot OOM meanwhile.
    const quiet = (): void => {
      listener = null;
      if (recheck) clearTimeout(recheck);
      recheck = null;
    };
    return {
      baseline,
      count,
      stop: once(() => {
        stopped = true;
        quiet();
        unwatch();
        close(efd);
        close(ofd);
      }),
      idle: quiet,
      reuse: (next, base) => {
        last = base;
        listener = next;
      },
    };
  }

  private watchV2(memDir: string, onCount: (count: number) => void): OomWatch {
    const file = `${memDir}/memory.events`;
    const ino = this.inotifyInstance();
    const wd = inotifyAddWatch(ino.fd, file, IN_MODIFY);
    const baseline = readCount(file) ?? 0;
    let last = baseline;
    let listener: ((count: number) => void) | null = onCount;
    const onModify = (): void => {
      if (listener === null) return;
      const n = readCount(file);
      if (n !== null && n !== last) {
        last = n;
        listener(n);
      }
    };
    ino.byWd.set(wd, onModify);
    let stopped = false;
    return {
      baseline,
      count: () => (stopped ? null : readCount(file)),
      stop: once(() => {
        stopped = true;
        listener = null;
        if (ino.byWd.get(wd) === onModify) {
          ino.byWd.delete(wd);
          inotifyRmWatch(ino.fd, wd);
        }
      }),
      idle: () => { listener = null; },
      reuse: (next, base) => {
        last = base;
        listener = next;
      },
    };
  }

  /** skiffd's one inotify instance, made at the first v2 watch. */
  private inotifyInstance(): NonNullable<OomWatcher['inotify']> {
    if (this.inotify) return this.inotify;
    const fd = inotifyInit();
    const byWd = new Map<number, () => void>();
    const stop = this.poller.watchFd(fd, () => {
      for (const ev of inotifyRead(fd, this.buf)) {
        const cb = byWd.get(ev.wd);
        // IN_IGNORED: the file went with its cgroup; the kernel ended the watch.
        if (ev.mask & IN_IGNORED) byWd.delete(ev.wd);
        else cb?.();
      }
    });
    this.inotify = { fd, stop, byWd };
    return this.inotify;
  }

  /** At skiffd's close. */
  close(): void {
    if (!this.inotify) return;
    this.inotify.stop();
    close(this.inotify.fd);
    this.inotify = null;
  }
}
