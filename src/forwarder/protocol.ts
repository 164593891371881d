// The channel between skiffd's main thread (ConsoleHub) and one forwarder thread.
//
//   main thread (ConsoleHub)                         forwarder thread `skiff-fwd-N`
//   ────────────────────────                         ─────────────────────────────────
//   port.postMessage(Request) ─┐                     epoll_wait(master fds…, wake fd)
//   eventfd_write(wakeFd) ─────┴──────────────────▶  wake fd readable: receiveMessageOnPort
//                                                    until empty; each Request handled
//                                                    between two loop iterations, when
//                                                    every staging pipe is empty
//   pending[seq].resolve ◀──── Reply {seq} ────────  exactly one Reply per Request with a seq
//   onProblem(id, msg)   ◀──── {problem} ──────────  whenever a console's log or forwarding fails
//   client.dropped       ◀──── {dropped} ──────────  a client's losses grew (sent before any later reply)
//   (keeper's lifetime)  ◀──── {ended} ────────────  a console's sources all reached end of file
//   net.Socket(read end) ◀──── client pipe ────────  tee'd live; write end closed at the
//                                                    console's end, on detach or on drop
//   (the ring's replay comes in the `attached` reply and is put in front of the socket's data)
//
// The thread blocks in epoll_wait, so it never sees 'message' events: it reads the port
// synchronously when the eventfd says something was posted. `input`, `closeInput`, `detach`
// and `discard` carry no seq and get no reply (fire and forget, ordered after earlier requests on the port).
// A thread task ends only after `shutdown`, which closes every console it holds.

/** A console's settings, fixed when it is opened. */
export interface ConsoleOptions {
  /** ring size: how many of the most recent output bytes are kept for attach and logs */
  buffer: number;
  /** the log file, or null for none; rotated to `<path>.1` at logMax bytes */
  logPath: string | null;
  logMax: number;
  /**
   * Absent: a pty (one stream; the container gets the slave). Present: three pipes as Docker
   * gives a container without a TTY, stdout and stderr kept apart (stdin a pipe only with
   * `stdin`; otherwise the container's stdin is /dev/null and no pipe is made).
   */
  pipes?: { stdin: boolean };
  /**
   * A pty whose master is made elsewhere (an exec's, in the container's own devpts) and handed
   * over later by `adoptPty`; until then the console has no source, and clients may attach.
   */
  adoptPty?: boolean;
}

/**
 * The container's ends of a pipe console, open in the caller's process (close-on-exec;
 * ConsoleHub.openPipes: tests and the bench): the caller holds them until the process that
 * uses them has its own, then closes them. Until then they keep the pipes from reporting end
 * of file (or EPIPE).
 */
export interface PipeEnds {
  /** read end of stdin, or null (the container's stdin is /dev/null) */
  stdin: number | null;
  stdout: number;
  stderr: number;
}

/**
 * A pipe console's container ends lent by path (ConsoleHub.lendPipes): the forwarder's own fds
 * as `/proc/<pid>/fd/N`, for PID 1 to open; they keep the pipes from reporting end of file (or
 * EPIPE) until `release()`.
 */
export interface LentPipes {
  /** the read end of stdin, or null (the container's stdin is /dev/null) */
  stdin: string | null;
  stdout: string;
  stderr: string;
  /** PID 1 holds its own ends now, or never will: the forwarder closes its copies (the first call only) */
  readonly release: () => void;
}

// A type, not an interface: it is a Record<string, number> too (for /metrics).
export type ConsoleCounters = {
  /** bytes read from the container's console */
  bytesIn: number;
  /** oldest bytes dropped from the ring to make room for newer ones */
  ringDropped: number;
  /** clients attached now */
  clients: number;
  /** bytes lost by slow clients, summed over every client this console had */
  clientDropped: number;
};

/** What a forwarder thread is started with (the piscina task). */
export interface ThreadTask {
  index: number;
  port: import('node:worker_threads').MessagePort;
  /** eventfd the main thread signals after each postMessage; owned (closed) by the main thread */
  wakeFd: number;
  /** false forces the read/write path even where the kernel can splice from a tty */
  spliceTty: boolean;
  /** bytes a client may fall behind (lose) in a row before it is disconnected */
  clientBacklog: number;
}

export type Request =
  | { type: 'open'; seq: number; id: string; options: ConsoleOptions }
  | { type: 'attach'; seq: number; id: string; replay: boolean }
  | { type: 'detach'; id: string; client: number }
  | { type: 'input'; id: string; data: Uint8Array }
  /** end of input (StdinOnce): the stdin pipe is closed once queued input is written; nothing on a pty */
  | { type: 'closeInput'; id: string }
  /** the ring's bytes with their index, for logs */
  | { type: 'records'; seq: number; id: string }
  | { type: 'resize'; seq: number; id: string; rows: number; cols: number }
  /** an adoptPty console's master: fd `fd` of process `pid`, copied with pidfd_getfd (the holder then closes its own) */
  | { type: 'adoptPty'; seq: number; id: string; pid: number; fd: number }
  | { type: 'ring'; seq: number; id: string }
  | { type: 'counters'; seq: number; id: string }
  | { type: 'exited'; seq: number; id: string; graceMs: number }
  | { type: 'remove'; seq: number; id: string }
  /** remove, with no answer: for a caller that would ignore it (skiffd's rm), one reply fewer through the keeper */
  | { type: 'discard'; id: string }
  /** the consoles a thread holds (a skiffd restarted against a running keeper takes them back) */
  | { type: 'list'; seq: number }
  | { type: 'shutdown'; seq: number }
  /**
   * In the keeper, to thread `thread`: `fd` is a connection from skiffd (said hello, not yet
   * welcomed) whose requests the thread reads and answers itself (thread-link.ts).
   */
  | { type: 'link'; thread: number; fd: number };

/** A console as `list` reports it. */
export interface KeptConsole {
  id: string;
  /** a pty (its slave's path), or pipes (null) */
  slavePath: string | null;
  /** every source reached end of file: no more output will come */
  ended: boolean;
  /** the forwarder thread that holds it (its index) */
  thread: number;
}

/** An error as it crosses the port: SysError's fields survive, so the main side can rebuild it. */
export interface WireError {
  message: string;
  syscall?: string;
  errno?: number;
  path?: string;
}

export type Reply =
  | { type: 'opened'; seq: number; slavePath: string | null; pipes: PipeEnds | null }
  /**
   * fd: the read end of the client's live pipe; client 0: the console had ended, the pipe is at EOF.
   * framed: the pipe carries a record header (records.ts) before each chunk (pipe consoles).
   * chunks: the replay's index, [stream, length, time] per chunk.
   */
  | { type: 'attached'; seq: number; client: number; fd: number; replay: Uint8Array; chunks: Float64Array; framed: boolean }
  | { type: 'ring'; seq: number; data: Uint8Array }
  | { type: 'records'; seq: number; data: Uint8Array; chunks: Float64Array }
  | { type: 'counters'; seq: number; counters: ConsoleCounters }
  | { type: 'list'; seq: number; consoles: KeptConsole[] }
  | { type: 'done'; seq: number }
  | { type: 'failed'; seq: number; error: WireError }
  /** unsolicited: something went wrong in a console that has no request to fail (a full disk for its log…) */
  | { type: 'problem'; id: string; message: string }
  /** unsolicited: a client's lost bytes, sent before any later reply whenever they grew */
  | { type: 'dropped'; id: string; client: number; dropped: number }
  /**
   * unsolicited: a console ended (no more output); the keeper ends once none is live and no
   * skiffd is there. Not sent while skiffd is connected to the thread (thread-link.ts): a
   * message per container to the keeper's main thread, which could not end then anyway.
   */
  | { type: 'ended'; id: string }
  /** unsolicited, in the keeper: skiffd's connection to this thread has ended (so `ended` comes again) */
  | { type: 'unlinked' };

