// ConsoleHub: skiffd's main-thread side of the console forwarder. It starts the forwarder
// threads (piscina, one never-ending task each), assigns each console to the least loaded
// thread, and turns the request/reply messages of protocol.ts into promises. Console
// bytes never pass through this thread except to attached clients, whose pipes it reads.
import { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { CONSOLE_MAX_BUFFER, CONSOLE_MIN_BYTES } from '../spec/container.js';
import { SysError } from '../sys/errno.js';
import { close as closeFd, eventfd, eventfdSignal } from '../sys/libc.js';
import { unreachable } from '../api/unreachable.js';
import type { ConsoleCounters, ConsoleOptions, PipeEnds, Reply, Request, ThreadTask, WireError } from './protocol.js';
import { nowMs, RecordDecoder, recordsOf, type OutputRecord } from './records.js';

export interface HubOptions {
  /** forwarder threads; default: os.availableParallelism() */
  threads?: number;
  /** false forces the read/write path (what kernels that cannot splice a tty use) */
  spliceTty?: boolean;
  /** bytes a client may fall behind (lose in a row) before it is disconnected; default 1 MiB */
  clientBacklog?: number;
  /** after exited(), how long to wait for the console's EIO before ending it anyway; default 5 s */
  exitGraceMs?: number;
  /** a console's log or forwarding failed (it goes on without it); default: process.emitWarning */
  onProblem?: (id: string, message: string) => void;
}

export interface ConsoleClient {
  /**
   * from the container, ending when its console closes or the client is dropped: bytes (both
   * streams, in order), or with `records` one OutputRecord per chunk (stream, time, bytes)
   */
  readonly output: Readable;
  /** to the container's stdin (the pty master or the stdin pipe); dropped if the container does not read it */
  write(data: Buffer): void;
  /** how many chunks of the replay come first (records mode; 0 otherwise) */
  readonly replayed: number;
  /** end of input: a pipe console's stdin is closed once what was written is (StdinOnce); nothing on a pty */
  closeInput(): void;
  close(): void;
  /** bytes this client lost because it did not keep up */
  readonly dropped: number;
}

/** A console operation that failed: names the console and the operation; `cause` holds the SysError, if any. */
export class ConsoleError extends Error {
  readonly code: string;
  readonly id: string;
  constructor(id: string, message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConsoleError';
    this.id = id;
    this.code = code;
  }
}

/** the spec's bounds (validated there first): a page at least; a ring beyond pipe-max-size is a chain of pipes (two fds each), so a modest maximum */
const MIN_BYTES = CONSOLE_MIN_BYTES;
const MAX_RING = CONSOLE_MAX_BUFFER;

interface Thread {
  index: number;
  port: MessagePort;
  wakeFd: number;
  consoles: number;
  task: Promise<unknown>;
  failure: Error | null;
}

type Expect = Reply['type'];
interface Pending {
  thread: Thread;
  expect: Expect;
  id: string;
  what: string;
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
}

export class ConsoleHub {
  private readonly pool: Piscina;
  private readonly threads: Thread[] = [];
  private readonly consoles = new Map<string, Thread>();
  private readonly pending = new Map<number, Pending>();
  private readonly clients = new Set<HubClient>();
  private readonly graceMs: number;
  private readonly onProblem: (id: string, message: string) => void;
  private seq = 0;
  private closing: Promise<void> | null = null;

  constructor(options: HubOptions = {}) {
    const count = options.threads ?? availableParallelism();
    positiveInteger(count, 'ConsoleHub options.threads', 1);
    const clientBacklog = options.clientBacklog ?? 1 << 20;
    positiveInteger(clientBacklog, 'ConsoleHub options.clientBacklog', 0);
    this.graceMs = options.exitGraceMs ?? 5000;
    positiveInteger(this.graceMs, 'ConsoleHub options.exitGraceMs', 0);
    this.onProblem = options.onProblem ?? ((id, message) => process.emitWarning(`console \`${id}\`: ${message}`, 'SkiffConsoleWarning'));
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
      const thread: Thread = { index, port: port1, wakeFd, consoles: 0, task: Promise.resolve(), failure: null };
      thread.task = this.pool.run(task, { transferList: [port2] }).then(
        () => this.threadFailed(thread, new Error('it has stopped')),
        (err: unknown) => this.threadFailed(thread, err),
      );
      port1.on('message', (reply: Reply) => this.onReply(reply));
      this.threads.push(thread);
    }
  }

  /** Allocates the pty (its master kept by a forwarder thread); returns the slave path for the launcher. */
  async open(id: string, options: ConsoleOptions): Promise<{ slavePath: string }> {
    const reply = await this.openAny(id, { buffer: options.buffer, logPath: options.logPath, logMax: options.logMax });
    return { slavePath: reply.slavePath! };
  }

  /**
   * Makes the three pipes of a console without a TTY (stdin only with `stdin`); the forwarder
   * thread keeps its ends, and the container's ends come back, open in this process: the
   * caller closes them once PID 1 has opened its own (through /proc/<pid>/fd/N).
   */
  async openPipes(id: string, options: Omit<ConsoleOptions, 'pipes'> & { stdin: boolean }): Promise<PipeEnds> {
    const { stdin, ...rest } = options;
    const reply = await this.openAny(id, { ...rest, pipes: { stdin } });
    return reply.pipes!;
  }

  private async openAny(id: string, options: ConsoleOptions): Promise<Extract<Reply, { type: 'opened' }>> {
    validateConsoleOptions(id, options);
    if (this.consoles.has(id)) throw new ConsoleError(id, `console \`${id}\` is already open`, 'EEXIST');
    const thread = this.leastLoaded();
    this.consoles.set(id, thread);
    thread.consoles++;
    try {
      return await this.request(thread, { type: 'open', seq: this.nextSeq(), id, options }, 'opened', `open console \`${id}\``);
    } catch (err) {
      this.consoles.delete(id);
      thread.consoles--;
      throw err;
    }
  }

  /** A client: first the ring's contents (unless replay is false), then live output, with no gap and no duplicate. */
  async attach(id: string, options: { replay?: boolean; stdin?: boolean; records?: boolean } = {}): Promise<ConsoleClient> {
    const thread = this.threadOf(id);
    const dropped = new SharedArrayBuffer(8);
    const reply = await this.request(thread, { type: 'attach', seq: this.nextSeq(), id, replay: options.replay ?? true, dropped }, 'attached', `attach to console \`${id}\``);
    const client = new HubClient(this, id, thread, reply, { stdin: options.stdin ?? true, records: options.records ?? false }, new BigInt64Array(dropped));
    this.clients.add(client);
    client.output.once('close', () => this.clients.delete(client));
    return client;
  }

  async resize(id: string, rows: number, cols: number): Promise<void> {
    positiveInteger(rows, 'resize rows', 1, 0xffff);
    positiveInteger(cols, 'resize cols', 1, 0xffff);
    await this.request(this.threadOf(id), { type: 'resize', seq: this.nextSeq(), id, rows, cols }, 'done', `resize console \`${id}\``);
  }

  /** The ring's current contents (the most recent output), also after the container exited. */
  async ring(id: string): Promise<Buffer> {
    const reply = await this.request(this.threadOf(id), { type: 'ring', seq: this.nextSeq(), id }, 'ring', `read the ring of console \`${id}\``);
    return Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.length);
  }

  /** The ring's contents split into chunks, each with its stream and time. */
  async records(id: string): Promise<OutputRecord[]> {
    const reply = await this.request(this.threadOf(id), { type: 'records', seq: this.nextSeq(), id }, 'records', `read the ring of console \`${id}\``);
    return recordsOf(reply.data, reply.chunks);
  }

  async counters(id: string): Promise<ConsoleCounters> {
    const reply = await this.request(this.threadOf(id), { type: 'counters', seq: this.nextSeq(), id }, 'counters', `read the counters of console \`${id}\``);
    return reply.counters;
  }

  /** The container exited: resolves once its console is drained to EIO and its clients' streams ended. */
  async exited(id: string): Promise<void> {
    await this.request(this.threadOf(id), { type: 'exited', seq: this.nextSeq(), id, graceMs: this.graceMs }, 'done', `end console \`${id}\``);
  }

  /** Forgets the console: closes its pty, pipes, log and clients' pipes, and frees its ring. */
  async remove(id: string): Promise<void> {
    const thread = this.threadOf(id);
    await this.request(thread, { type: 'remove', seq: this.nextSeq(), id }, 'done', `remove console \`${id}\``);
    this.consoles.delete(id);
    thread.consoles--;
  }

  /** Closes every console and stops the threads. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const running = this.threads.filter((t) => !t.failure);
    await Promise.allSettled(running.map((t) => this.request(t, { type: 'shutdown', seq: this.nextSeq() }, 'done', 'stop forwarder thread')));
    await Promise.allSettled(this.threads.map((t) => t.task));
    for (const client of this.clients) client.output.destroy();
    this.clients.clear();
    await this.pool.destroy();
    for (const t of this.threads) {
      t.port.close();
      closeFd(t.wakeFd);
    }
    this.consoles.clear();
  }

  // ── plumbing ──

  /** Fire and forget (input, detach): ordered after every earlier request on the same port. */
  post(thread: Thread, msg: Request): void {
    if (thread.failure || this.closing) return;
    thread.port.postMessage(msg);
    eventfdSignal(thread.wakeFd);
  }

  private request<T extends Expect>(thread: Thread, msg: Request & { seq: number }, expect: T, what: string): Promise<Extract<Reply, { type: T }>> {
    if (thread.failure) return Promise.reject(new ConsoleError(consoleId(msg), `${what}: ${thread.failure.message}`, 'ECONSOLE', { cause: thread.failure }));
    if (this.closing && msg.type !== 'shutdown') return Promise.reject(new ConsoleError(consoleId(msg), `${what}: the console hub is closed`, 'ECONSOLE'));
    return new Promise((resolve, reject) => {
      this.pending.set(msg.seq, { thread, expect, id: consoleId(msg), what, resolve: resolve as (r: Reply) => void, reject });
      thread.port.postMessage(msg);
      eventfdSignal(thread.wakeFd);
    });
  }

  private onReply(reply: Reply): void {
    if (reply.type === 'problem') {
      this.onProblem(reply.id, reply.message);
      return;
    }
    const p = this.pending.get(reply.seq);
    if (p === undefined) return;
    this.pending.delete(reply.seq);
    switch (reply.type) {
      case 'failed':
        p.reject(fromWire(p.what, p.id, reply.error));
        return;
      case 'opened':
      case 'attached':
      case 'ring':
      case 'records':
      case 'counters':
      case 'done':
        if (reply.type === p.expect) p.resolve(reply);
        else p.reject(new Error(`${p.what}: expected a \`${p.expect}\` reply, got \`${reply.type}\``));
        return;
      default:
        unreachable(reply, 'forwarder port: reply from a forwarder thread');
    }
  }

  /** The thread's task ended (after shutdown) or threw: whatever still waits on it fails. */
  private threadFailed(thread: Thread, err: unknown): void {
    const cause = err instanceof Error ? err : new Error(String(err));
    thread.failure ??= new Error(`forwarder thread skiff-fwd-${thread.index}: ${cause.message}`, { cause });
    for (const [seq, p] of this.pending) {
      if (p.thread !== thread) continue;
      this.pending.delete(seq);
      p.reject(new Error(`${p.what}: ${thread.failure.message}`, { cause }));
    }
  }

  private nextSeq(): number {
    return ++this.seq;
  }

  private leastLoaded(): Thread {
    if (this.closing) throw new Error('ConsoleHub is closed');
    const live = this.threads.filter((t) => !t.failure);
    if (live.length === 0) throw new Error('ConsoleHub: every forwarder thread has failed');
    return live.reduce((a, b) => (b.consoles < a.consoles ? b : a));
  }

  private threadOf(id: string): Thread {
    const thread = this.consoles.get(id);
    if (thread === undefined) throw new ConsoleError(id, `no console \`${id}\``, 'ENOENT');
    return thread;
  }
}

class HubClient implements ConsoleClient {
  readonly output: Readable;
  private readonly pipe: Socket;
  private closed = false;
  private readonly no: number;
  readonly replayed: number;

  constructor(
    private readonly hub: ConsoleHub,
    private readonly id: string,
    private readonly thread: Thread,
    reply: Extract<Reply, { type: 'attached' }>,
    private readonly mode: { stdin: boolean; records: boolean },
    private readonly shared: BigInt64Array,
  ) {
    this.no = reply.client;
    // The read end of the client's pipe; libuv reads it without blocking and closes it on destroy.
    this.pipe = new Socket({ fd: reply.fd, readable: true, writable: false });
    this.pipe.once('close', () => { this.closed = true; });
    const replay = recordsOf(reply.replay, reply.chunks);
    this.replayed = mode.records ? replay.length : 0;
    if (!reply.framed && !mode.records) {
      // Raw bytes both ways: the socket itself, with the ring's contents in front of whatever it
      // will read (nothing has been read yet).
      this.output = this.pipe;
      if (reply.replay.length > 0) this.pipe.unshift(Buffer.from(reply.replay.buffer, reply.replay.byteOffset, reply.replay.length));
      return;
    }
    // Records (or bytes out of records): decoded from the pipe's headers, or for a pty stamped
    // with the time they arrive here.
    // Pushed to directly (no Writable side to go through): the pipe is read as fast as it fills.
    // A consumer that stops reading stops the pipe's reader too: its pipe fills and the
    // forwarder drops whole records for it, as a raw client's socket does.
    const out = new Readable({ objectMode: mode.records, read: () => { this.pipe.resume(); } });
    this.output = out;
    const emit = (r: OutputRecord) => {
      if (!out.push(mode.records ? r : r.data)) this.pipe.pause();
    };
    for (const r of replay) emit(r);
    const decoder = reply.framed ? new RecordDecoder(`console \`${id}\` client pipe`) : null;
    this.pipe.on('data', (b: Buffer) => {
      if (decoder === null) emit({ stream: 1, time: nowMs(), data: b });
      else decoder.push(b, emit);
    });
    // A chunk cut short (a client dropped mid-chunk) ends the stream where its bytes end.
    this.pipe.on('end', () => out.push(null));
    this.pipe.on('error', (err) => out.destroy(err));
    out.on('close', () => this.pipe.destroy());
    this.pipe.once('close', () => { if (!out.readableEnded) out.push(null); });
  }

  get dropped(): number {
    return Number(Atomics.load(this.shared, 0));
  }

  write(data: Buffer): void {
    if (!this.mode.stdin) throw new ConsoleError(this.id, `console \`${this.id}\`: this client was attached without stdin`, 'EBADF');
    if (this.closed || data.length === 0) return;
    this.hub.post(this.thread, { type: 'input', id: this.id, data });
  }

  closeInput(): void {
    if (!this.mode.stdin) throw new ConsoleError(this.id, `console \`${this.id}\`: this client was attached without stdin`, 'EBADF');
    this.hub.post(this.thread, { type: 'closeInput', id: this.id });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.output.destroy();
    this.pipe.destroy();
    if (this.no !== 0) this.hub.post(this.thread, { type: 'detach', id: this.id, client: this.no });
  }
}

/** The thread module next to this one: thread.js when compiled, thread.ts when run from source under tsx. */
function threadEntry(): { filename: string; execArgv?: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = fileURLToPath(new URL(fromSource ? './thread.ts' : './thread.js', import.meta.url));
  if (!fromSource || process.execArgv.some((a) => a.includes('tsx'))) return { filename }; // workers inherit execArgv
  return { filename, execArgv: [...process.execArgv, '--import', 'tsx'] };
}

function consoleId(msg: Request): string {
  return 'id' in msg ? msg.id : '';
}

function fromWire(what: string, id: string, e: WireError): Error {
  if (e.syscall !== undefined && e.errno !== undefined) {
    const cause = new SysError(e.syscall, e.errno, e.path);
    return new ConsoleError(id, `${what}: ${cause.message}`, cause.code, { cause });
  }
  return new ConsoleError(id, `${what}: ${e.message}`, 'ECONSOLE');
}

function positiveInteger(v: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
}

function validateConsoleOptions(id: string, o: ConsoleOptions): void {
  const where = `console \`${id}\` options`;
  positiveInteger(o.buffer, `${where}.buffer`, MIN_BYTES, MAX_RING);
  if (o.logPath !== null) {
    if (typeof o.logPath !== 'string' || !o.logPath.startsWith('/')) throw new RangeError(`${where}.logPath must be an absolute path or null, got ${JSON.stringify(o.logPath)}`);
    positiveInteger(o.logMax, `${where}.logMax`, MIN_BYTES);
  }
}
