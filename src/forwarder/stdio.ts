// A console's ends on the forwarder's side: a pty master (one stream, which is also the
// input), or the read ends of a stdout and a stderr pipe and the write end of a stdin pipe,
// as Docker gives a container without a TTY. The container's ends of the pipes go to the
// main thread (PipeEnds), which holds them until PID 1 has opened its own.
import { close, openPty } from '../sys/libc.js';

/** What an adoptPty console has for a slave path: its slave is in a container's devpts, not the host's. */
export const CONTAINER_PTY = '(a pty in the container\'s devpts)';
import { O_CLOEXEC, O_NONBLOCK } from '../sys/constants.js';
import { pipe, type Pipe } from '../sys/splice.js';
import { ConsoleInput } from './input.js';
import type { ConsoleOptions, PipeEnds } from './protocol.js';
import type { StreamId } from './records.js';
import { makePipe } from './ring.js';

const OUTPUT_PIPE_BYTES = 1 << 20;

/** epoll slots of a console's fds (the low two bits of the event's data) */
export const SLOT_STDOUT = 0;
export const SLOT_STDERR = 1;
export const SLOT_STDIN = 2;
/** the console's clients' pipes, when a reader makes room (clients.ts) */
export const SLOT_CLIENTS = 3;

export interface Source {
  fd: number;
  stream: StreamId;
  slot: number;
  ended: boolean;
}

export interface Stdio {
  slavePath: string | null;
  containerEnds: PipeEnds | null;
  sources: Source[];
  input: ConsoleInput | null;
  /** closes every fd made here: for a console whose open fails later */
  close(): void;
}

export function openStdio(id: string, options: ConsoleOptions): Stdio {
  if (options.adoptPty === true && options.pipes === undefined) {
    // No source yet: the master arrives with adoptPty (ForwardedConsole.adoptPty).
    return { slavePath: CONTAINER_PTY, containerEnds: null, sources: [], input: null, close: () => undefined };
  }
  if (options.pipes === undefined) {
    const pty = openPty({ nonBlocking: true });
    return {
      slavePath: pty.slavePath,
      containerEnds: null,
      sources: [{ fd: pty.master, stream: 1, slot: SLOT_STDOUT, ended: false }],
      input: new ConsoleInput(pty.master, false, pty.slavePath),
      close: () => close(pty.master),
    };
  }
  // Non-blocking and close-on-exec for both ends: the container opens its ends anew through
  // /proc, so its own fds are blocking, as a program expects of its stdio.
  const made: Pipe[] = [];
  const closeAll = () => {
    for (const p of made.splice(0)) {
      close(p.read);
      close(p.write);
    }
  };
  try {
    // Output pipes of 1 MiB (pipe-max-size) where allowed: a writer blocks only once that much
    // waits, and each wake-up of the forwarder moves up to that much in one round (the default
    // 64 KiB means a wake-up per 64 KiB of a flood). Pages are allocated as they fill.
    const out = makePipe(OUTPUT_PIPE_BYTES).pipe;
    made.push(out);
    const err = makePipe(OUTPUT_PIPE_BYTES).pipe;
    made.push(err);
    const stdin = options.pipes.stdin ? pipe(O_CLOEXEC | O_NONBLOCK) : null;
    if (stdin) made.push(stdin);
    return {
      slavePath: null,
      containerEnds: { stdin: stdin?.read ?? null, stdout: out.write, stderr: err.write },
      sources: [
        { fd: out.read, stream: 1, slot: SLOT_STDOUT, ended: false },
        { fd: err.read, stream: 2, slot: SLOT_STDERR, ended: false },
      ],
      input: stdin ? new ConsoleInput(stdin.write, true, `console \`${id}\` stdin pipe`) : null,
      close: closeAll,
    };
  } catch (e) {
    closeAll();
    throw e;
  }
}
