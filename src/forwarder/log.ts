// A console's log file: the bytes exactly as the container wrote them, spliced from the
// staging pipe. At `max` bytes the file is renamed to `<path>.1` (replacing the previous
// one) and a new file is started, so the two never hold more than 2 × max bytes.
// A console without a TTY logs records (records.ts): a 16-byte header, then the chunk; the
// file is then rotated only between records, so each file decodes on its own (and may run
// one chunk past max).
import { closeSync, fstatSync, openSync, readlinkSync, renameSync, writeSync, constants as fs } from 'node:fs';
import { EAGAIN, EINTR, SysError } from '../sys/errno.js';
import { SPLICE_F_NONBLOCK } from '../sys/constants.js';
import { seekToEnd, splice } from '../sys/splice.js';

/**
 * Opens a log for writing, created if missing. skiffd is root and the path comes from a
 * spec: a symlink as the last component is refused (O_NOFOLLOW), and so is anything but a
 * regular file (a FIFO would block the open without O_NONBLOCK, a device would take the
 * bytes). O_NONBLOCK changes nothing for a regular file.
 */
function openLogFile(path: string, extra: number): number {
  const fd = openSync(path, fs.O_WRONLY | fs.O_CREAT | fs.O_NOFOLLOW | fs.O_NONBLOCK | extra, 0o640);
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new Error(`console log \`${path}\` is not a regular file`);
  }
  return fd;
}

/** Where an open file is now, by its fd: it moves with its directory (`docker rename` moves a state dir). Null once deleted. */
function whereNow(fd: number): string | null {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    return target.startsWith('/') && !target.endsWith(' (deleted)') ? target : null;
  } catch {
    return null;
  }
}

export class RotatingLog {
  private fd: number;
  /** bytes in the current file */
  size: number;
  /** the failure that stopped the log, if one did */
  error: Error | null = null;

  /** where the file is: where it was opened, or where it has moved to since (see rotate) */
  path: string;

  constructor(path: string, readonly max: number) {
    this.path = path;
    // Appended to, not truncated: a restarted container continues its log. No O_APPEND,
    // which splice(2) refuses; the file position is moved to the end instead.
    this.fd = openLogFile(path, 0);
    try {
      this.size = seekToEnd(this.fd, path);
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  /**
   * Moves `count` bytes from the front of a pipe into the log, rotating as it fills.
   * Returns how many it moved; fewer than `count` means it failed (see `error`), and the
   * rest is still in the pipe.
   */
  appendFrom(pipe: number, count: number, header: Buffer | null = null): number {
    let moved = 0;
    try {
      if (header !== null) {
        if (this.size >= this.max) this.rotate();
        const w = writeSync(this.fd, header);
        if (w !== header.length) throw new Error(`write \`${this.path}\`: short write of a record header (${w} of ${header.length} bytes)`);
        this.size += w;
      }
      while (moved < count) {
        if (header === null && this.size >= this.max) this.rotate();
        const room = header === null ? this.max - this.size : count - moved;
        const n = splice(pipe, this.fd, Math.min(count - moved, room), SPLICE_F_NONBLOCK);
        if (n === -EINTR) continue;
        if (n <= 0) throw new SysError('splice', n < 0 ? -n : EAGAIN, this.path);
        moved += n;
        this.size += n;
      }
    } catch (err) {
      this.error = err as Error;
    }
    return moved;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  private rotate(): void {
    // Rotate where the file is now: a container renamed while running had its state dir moved.
    this.path = whereNow(this.fd) ?? this.path;
    // fs.closeSync, not libc close: Node tracks the fds a worker opens through fs.
    closeSync(this.fd);
    this.fd = -1;
    renameSync(this.path, `${this.path}.1`);
    this.fd = openLogFile(this.path, fs.O_TRUNC);
    this.size = 0;
  }
}
