// The forwarder threads of one process and which console each holds: piscina runs one
// never-ending task per thread, a console goes to the least loaded thread when it is opened,
// and every later request for it to that thread. Replies from every thread come out of one
// callback, with a broadcast (`list`, `shutdown`) answered once for all threads. It runs in
// skiffd for an in-process hub (tests, the bench) and in the keeper process for skiffd, where
// skiffd places its consoles itself and talks to each thread on a connection of its own
// (thread-link.ts): there the pool runs the threads, hands them those connections (`link`)
// and relays `list`.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { close as closeFd, eventfd, eventfdSignal } from '../sys/libc.js';
import { unreachable } from '../api/unreachable.js';
import type { KeptConsole, Reply, Request, ThreadTask } from './protocol.js';

export interface PoolOptions {
  /** forwarder threads; default: os.availableParallelism() */
  threads?: number;
  /** false forces the read/write path (what kernels that cannot splice a tty use) */
  spliceTty?: boolean;
  /** bytes a client may fall behind (lose in a row) before it is disconnected; default 1 MiB */
  clientBacklog?: number;
}

interface Thread {
  index: number;
  port: MessagePort;
  wakeFd: number;
  consoles: number;
  /** posted to since its last wake-up: its eventfd is written at this iteration's check phase */
  wakeDue: boolean;
  failure: Error | null;
  task: Promise<unknown>;
}

/** A request to every thread, answered once all have (or have failed). */
interface Broadcast {
  type: 'list' | 'shutdown';
  waiting: Set<Thread>;
  consoles: KeptConsole[];
  /** the pool's own shutdown: called instead of a reply */
  done: (() => void) | null;
}

export class ForwarderPool {
  private readonly pool: Piscina;
  private readonly threads: Thread[] = [];
  private readonly byId = new Map<string, Thread>();
  /** requests with a seq that a thread has not answered yet, with the console an open would add */
  private readonly pending = new Map<number, { thread: Thread; opening: string | null }>();
  private readonly broadcasts = new Map<number, Broadcast>();
  private closing: Promise<void> | null = null;
  private wakeScheduled = false;
  /** how many forwarder threads */
  readonly size: number;

  constructor(options: PoolOptions, private readonly onReply: (reply: Reply) => void) {
    const count = options.threads ?? availableParallelism();
    positiveInteger(count, 'forwarder threads', 1);
    this.size = count;
    const clientBacklog = options.clientBacklog ?? 1 << 20;
    positiveInteger(clientBacklog, 'forwarder clientBacklog', 0);
    const entry = threadEntry();
    this.pool = new Piscina({
      filename: entry.filename,
      ...(entry.execArgv ? { execArgv: entry.execArgv } : {}),
      minThreads: count,
      maxThreads: count,
      concurrentTasksPerWorker: 1,
      // The tasks never finish: Atomics.wait-based task hand-off would only get in the way.
      atomics: 'disabled',
    });
    for (let index = 0; index < count; index++) {
      const { port1, port2 } = new MessageChannel();
      const wakeFd = eventfd();
      const task: ThreadTask = { index, port: port2, wakeFd, spliceTty: options.spliceTty ?? true, clientBacklog };
      const thread: Thread = { index, port: port1, wakeFd, consoles: 0, wakeDue: false, failure: null, task: Promise.resolve() };
      thread.task = this.pool.run(task, { transferList: [port2] }).then(
        () => this.threadFailed(thread, new Error('it has stopped')),
        (err: unknown) => this.threadFailed(thread, err),
      );
      port1.on('message', (reply: Reply) => this.fromThread(thread, reply));
      this.threads.push(thread);
    }
  }

  /** Sends a request to the thread that holds its console (an open: the least loaded one). */
  send(req: Request, transfer: ArrayBuffer[] = []): void {
    if (this.closing) {
      if (req.type === 'link') closeFd(req.fd);
      return this.fail(req, 'the forwarder is closed');
    }
    switch (req.type) {
      case 'list':
      case 'shutdown':
        return this.broadcast(req);
      case 'link': {
        const thread = this.threads[req.thread];
        if (thread === undefined || thread.failure) {
          closeFd(req.fd);
          throw new Error(`no forwarder thread ${req.thread} to link to skiffd`);
        }
        return this.post(thread, req, [], null);
      }
      case 'open': {
        if (this.byId.has(req.id)) return this.fail(req, `console \`${req.id}\` is already open`);
        const live = this.threads.filter((t) => !t.failure);
        if (live.length === 0) return this.fail(req, 'every forwarder thread has failed');
        const thread = live.reduce((a, b) => (b.consoles < a.consoles ? b : a));
        this.byId.set(req.id, thread);
        thread.consoles++;
        return this.post(thread, req, transfer, req.id);
      }
      case 'attach':
      case 'detach':
      case 'input':
      case 'closeInput':
      case 'records':
      case 'resize':
      case 'adoptPty':
      case 'ring':
      case 'counters':
      case 'exited':
      case 'remove':
      case 'discard': {
        const thread = this.byId.get(req.id);
        if (thread === undefined) return this.fail(req, `no console \`${req.id}\``);
        if (req.type === 'remove' || req.type === 'discard') {
          this.byId.delete(req.id);
          thread.consoles--;
        }
        return this.post(thread, req, transfer, null);
      }
      default:
        unreachable(req, 'forwarder pool: request');
    }
  }

  /** Stops every thread (closing every console) and the pool. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Its own broadcast, not a caller's request: seq 0 is never a caller's.
      await new Promise<void>((resolve) => this.broadcast({ type: 'shutdown', seq: 0 }, resolve));
      await Promise.allSettled(this.threads.map((t) => t.task));
      await this.pool.destroy();
      for (const t of this.threads) {
        t.port.close();
        closeFd(t.wakeFd);
      }
    })();
    return this.closing;
  }

  private broadcast(req: Extract<Request, { type: 'list' | 'shutdown' }>, done: (() => void) | null = null): void {
    const live = this.threads.filter((t) => !t.failure);
    const b: Broadcast = { type: req.type, waiting: new Set(live), consoles: [], done };
    this.broadcasts.set(req.seq, b);
    if (live.length === 0) return this.answerBroadcast(req.seq, b);
    for (const t of live) this.post(t, req, [], null);
  }

  private answerBroadcast(seq: number, b: Broadcast): void {
    this.broadcasts.delete(seq);
    if (b.done !== null) b.done();
    else this.onReply(b.type === 'list' ? { type: 'list', seq, consoles: b.consoles } : { type: 'done', seq });
  }

  private post(thread: Thread, req: Request, transfer: ArrayBuffer[], opening: string | null): void {
    if (thread.failure) return this.fail(req, thread.failure.message);
    if ('seq' in req && req.type !== 'list' && req.type !== 'shutdown') this.pending.set(req.seq, { thread, opening });
    thread.port.postMessage(req, transfer);
    this.wake(thread);
  }

  /**
   * One eventfd write per thread per event-loop iteration, however many requests it got (a
   * thread reads its port until it is empty): each write was a system call that wakes the
   * thread, and in the keeper the largest single cost of relaying a request.
   */
  private wake(thread: Thread): void {
    thread.wakeDue = true;
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      for (const t of this.threads) {
        if (!t.wakeDue) continue;
        t.wakeDue = false;
        eventfdSignal(t.wakeFd);
      }
    });
  }

  private fromThread(thread: Thread, reply: Reply): void {
    if ('seq' in reply) {
      const b = this.broadcasts.get(reply.seq);
      if (b !== undefined) {
        if (reply.type === 'list') b.consoles.push(...reply.consoles);
        b.waiting.delete(thread);
        if (b.waiting.size === 0) this.answerBroadcast(reply.seq, b);
        return;
      }
      const p = this.pending.get(reply.seq);
      this.pending.delete(reply.seq);
      if (p?.opening != null && reply.type === 'failed' && this.byId.get(p.opening) === thread) {
        this.byId.delete(p.opening);
        thread.consoles--;
      }
    }
    this.onReply(reply);
  }

  private fail(req: Request, message: string): void {
    if ('seq' in req) this.onReply({ type: 'failed', seq: req.seq, error: { message } });
  }

  /** The thread's task ended (after shutdown) or threw: whatever still waits on it fails. */
  private threadFailed(thread: Thread, err: unknown): void {
    const cause = err instanceof Error ? err : new Error(String(err));
    thread.failure ??= new Error(`forwarder thread skiff-fwd-${thread.index}: ${cause.message}`, { cause });
    for (const [seq, p] of this.pending) {
      if (p.thread !== thread) continue;
      this.pending.delete(seq);
      this.onReply({ type: 'failed', seq, error: { message: thread.failure.message } });
    }
    for (const [seq, b] of this.broadcasts) {
      if (b.waiting.delete(thread) && b.waiting.size === 0) this.answerBroadcast(seq, b);
    }
  }
}

/** The thread module next to this one: thread.js when compiled, thread.ts when run from source under tsx. */
function threadEntry(): { filename: string; execArgv?: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = fileURLToPath(new URL(fromSource ? './thread.ts' : './thread.js', import.meta.url));
  if (!fromSource || process.execArgv.some((a) => a.includes('tsx'))) return { filename }; // workers inherit execArgv
  return { filename, execArgv: [...process.execArgv, '--import', 'tsx'] };
}

export function positiveInteger(v: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
}
