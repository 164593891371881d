// ConsoleHub: skiffd's main-thread side of the console forwarder. It turns the request/reply
// messages of protocol.ts into promises, sent to an Endpoint: forwarder threads in this
// process (pool.ts; tests and the bench), or the keeper process (keeper-link.ts; skiffd), which
// outlives skiffd so that a container's stdio keeps its reader across a crash. Console bytes
// never pass through this thread except to attached clients, whose pipes it reads.
import { CONSOLE_MAX_BUFFER, CONSOLE_MIN_BYTES } from '../spec/container.js';
import { SysError } from '../sys/errno.js';
import { O_RDONLY, O_WRONLY } from '../sys/constants.js';
import { unreachable } from '../api/unreachable.js';
import { ConsoleError, HubClient, type ConsoleClient } from './hub-client.js';
import { KeeperLink, lentByPath, type Endpoint, type KeeperOptions, type Lent } from './keeper-link.js';
import { close } from '../sys/libc.js';
import { ForwarderPool, positiveInteger, type PoolOptions } from './pool.js';
import type { ConsoleCounters, ConsoleOptions, KeptConsole, LentPipes, PipeEnds, Reply, Request, WireError } from './protocol.js';
import { recordsOf, type OutputRecord } from './records.js';

export { ConsoleError, type ConsoleClient } from './hub-client.js';

export interface HubOptions extends PoolOptions {
  /** after exited(), how long to wait for the console's EIO before ending it anyway; default 5 s */
  exitGraceMs?: number;
  /** a console's log or forwarding failed (it goes on without it); default: process.emitWarning */
  onProblem?: (id: string, message: string) => void;
  /**
   * The forwarder in a keeper process of this directory (skiffd's private state dir), started
   * if none runs, instead of threads in this process; connect() reaches it.
   */
  keeper?: { dir: string };
}

/** A pipe console's options: a console's, with whether it has a stdin pipe. */
type PipeConsoleOptions = Omit<ConsoleOptions, 'pipes'> & { stdin: boolean };

type Expect = Reply['type'];
interface Pending {
  expect: Expect;
  id: string;
  what: string;
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
}

/** A request without its seq, which request() adds. */
type Unnumbered<R> = R extends { seq: number } ? Omit<R, 'seq'> : never;

export class ConsoleHub {
  private endpoint: Endpoint | null = null;
  private readonly consoles = new Set<string>();
  private readonly pending = new Map<number, Pending>();
  /** attached clients by `id client`, for their `dropped` reports */
  private readonly clients = new Map<string, HubClient>();
  private readonly graceMs: number;
  private readonly onProblem: (id: string, message: string) => void;
  private seq = 0;
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  private connecting: Promise<KeptConsole[]> | null = null;

  constructor(private readonly options: HubOptions = {}) {
    this.graceMs = options.exitGraceMs ?? 5000;
    positiveInteger(this.graceMs, 'ConsoleHub options.exitGraceMs', 0);
    this.onProblem = options.onProblem ?? ((id, message) => process.emitWarning(`console \`${id}\`: ${message}`, 'SkiffConsoleWarning'));
    if (options.keeper === undefined) this.endpoint = new LocalEndpoint(new ForwarderPool(options, (r) => this.onReply(r)));
  }

  /**
   * Reaches the forwarder: with a keeper, connects to it (starting one if none runs) and
   * returns the consoles it kept from an earlier skiffd; without, there are none.
   */
  connect(): Promise<KeptConsole[]> {
    // One connection attempt at a time: two opens after a lost keeper must not start two.
    this.connecting ??= this.reach().finally(() => { this.connecting = null; });
    return this.connecting;
  }

  private async reach(): Promise<KeptConsole[]> {
    const k = this.options.keeper;
    if (k === undefined || this.endpoint !== null) return [];
    const o: KeeperOptions = {
      dir: k.dir,
      ...(this.options.threads !== undefined ? { threads: this.options.threads } : {}),
      ...(this.options.clientBacklog !== undefined ? { clientBacklog: this.options.clientBacklog } : {}),
      ...(this.options.spliceTty !== undefined ? { spliceTty: this.options.spliceTty } : {}),
    };
    this.endpoint = await KeeperLink.open(o, (r) => this.onReply(r), (err) => this.keeperLost(err));
    this.failure = null;
    const reply = await this.request({ type: 'list' }, 'list', '', 'list the consoles the keeper holds');
    for (const c of reply.consoles) this.consoles.add(c.id);
    return reply.consoles;
  }

  /** skiffd's own processes behind this hub (the keeper): never a container's. */
  pids(): number[] {
    return this.endpoint?.pids() ?? [];
  }

  /**
   * Allocates the pty (its master kept by a forwarder thread); returns the slave path for the
   * launcher. With adoptPty, no pty yet: its master, made in a container, comes with adoptPty().
   */
  async open(id: string, options: ConsoleOptions): Promise<{ slavePath: string }> {
    const reply = await this.openAny(id, { buffer: options.buffer, logPath: options.logPath, logMax: options.logMax, ...(options.adoptPty ? { adoptPty: true } : {}) });
    return { slavePath: reply.slavePath! };
  }

  /** An adoptPty console's master: the forwarder copies fd `fd` of process `pid` (which may close its own once this resolves). */
  async adoptPty(id: string, pid: number, fd: number): Promise<void> {
    this.known(id);
    await this.request({ type: 'adoptPty', id, pid, fd }, 'done', id, `give console \`${id}\` its pty`);
  }

  /**
   * Makes the three pipes of a console without a TTY (stdin only with `stdin`); the forwarder
   * keeps its ends, and the container's ends come back, open in this process: the caller
   * closes them once PID 1 has opened its own (through /proc/<pid>/fd/N).
   */
  async openPipes(id: string, options: PipeConsoleOptions): Promise<PipeEnds> {
    const fds = await this.openPipeEnds(id, options);
    try {
      const [stdout, stderr, mine] = this.endpoint!.take(id, fds, [O_WRONLY, O_WRONLY, O_RDONLY], 'with-next-frame');
      return { stdin: mine ?? null, stdout: stdout!, stderr: stderr! };
    } catch (err) {
      await this.remove(id).catch(() => undefined);
      throw new ConsoleError(id, `open console \`${id}\`: ${(err as Error).message}`, 'ECONSOLE', { cause: err });
    }
  }

  /**
   * The three pipes of a console without a TTY, as openPipes makes them, lent to the process
   * that will use them by path: the forwarder's own fds of the container's ends
   * (`/proc/<keeper>/fd/N`), kept open by the forwarder until `release()`, which the caller
   * calls once that process has opened its own (or never will). Nothing is opened or closed
   * in this process: skiffd's containers take their stdio this way (openPipes' fds then cost
   * skiffd two opens and two closes a container, and PID 1 opened them from skiffd anyway).
   */
  async lendPipes(id: string, options: PipeConsoleOptions): Promise<LentPipes> {
    // The endpoint after the open: an open after a lost keeper connects to a new one.
    const fds = await this.openPipeEnds(id, options);
    const lent = this.endpoint!.lend(id, fds);
    const [stdout, stderr, mine] = lent.paths;
    return { stdin: mine ?? null, stdout: stdout!, stderr: stderr!, release: lent.release };
  }

  /** A pipe console opened in the forwarder: the forwarder's fds of the container's ends, stdout, stderr and (with `stdin`) stdin. */
  private async openPipeEnds(id: string, options: PipeConsoleOptions): Promise<number[]> {
    const { stdin, ...rest } = options;
    const p = (await this.openAny(id, { ...rest, pipes: { stdin } })).pipes!;
    return p.stdin === null ? [p.stdout, p.stderr] : [p.stdout, p.stderr, p.stdin];
  }

  private async openAny(id: string, options: ConsoleOptions): Promise<Extract<Reply, { type: 'opened' }>> {
    validateConsoleOptions(id, options);
    if (this.endpoint === null && !this.closing) await this.connect(); // after a keeper was lost
    if (this.consoles.has(id)) throw new ConsoleError(id, `console \`${id}\` is already open`, 'EEXIST');
    this.consoles.add(id);
    try {
      return await this.request({ type: 'open', id, options }, 'opened', id, `open console \`${id}\``);
    } catch (err) {
      this.consoles.delete(id);
      throw err;
    }
  }

  /**
   * A client: first the ring's contents (unless replay is false), then live output, with no gap and
   * no duplicate. `transient`: the consumer is done with each chunk when its 'data' handler returns
   * (it copies what it keeps), so the reads reuse one buffer (read-slab.ts).
   */
  async attach(id: string, options: { replay?: boolean; stdin?: boolean; records?: boolean; transient?: boolean } = {}): Promise<ConsoleClient> {
    this.known(id);
    const reply = await this.request({ type: 'attach', id, replay: options.replay ?? true }, 'attached', id, `attach to console \`${id}\``);
    let fd: number;
    try {
      // A client's read end goes at once: the thread learns that its reader is gone from EPIPE.
      [fd] = this.endpoint!.take(id, [reply.fd], [O_RDONLY], 'now') as [number];
    } catch (err) {
      if (reply.client !== 0) this.post({ type: 'detach', id, client: reply.client });
      throw new ConsoleError(id, `attach to console \`${id}\`: ${(err as Error).message}`, 'ECONSOLE', { cause: err });
    }
    const client = new HubClient(id, reply, fd, { stdin: options.stdin ?? true, records: options.records ?? false, transient: options.transient ?? false }, (m) => this.post(m));
    const key = `${id} ${client.no}`;
    this.clients.set(key, client);
    // The thread's last loss report for this client may arrive after its stream's end (the pipe's
    // end of file and the thread's messages come by different paths): the entry goes once the
    // thread has answered a request sent after the end, and it reports every loss before an answer.
    client.output.once('close', () => {
      void this.request({ type: 'counters', id }, 'counters', id, `settle client ${client.no} of console \`${id}\``)
        .catch(() => undefined)
        .finally(() => this.clients.delete(key));
    });
    return client;
  }

  async resize(id: string, rows: number, cols: number): Promise<void> {
    positiveInteger(rows, 'resize rows', 1, 0xffff);
    positiveInteger(cols, 'resize cols', 1, 0xffff);
    this.known(id);
    await this.request({ type: 'resize', id, rows, cols }, 'done', id, `resize console \`${id}\``);
  }

  /** The ring's current contents (the most recent output), also after the container exited. */
  async ring(id: string): Promise<Buffer> {
    this.known(id);
    const reply = await this.request({ type: 'ring', id }, 'ring', id, `read the ring of console \`${id}\``);
    return Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.length);
  }

  /** The ring's contents split into chunks, each with its stream and time. */
  async records(id: string): Promise<OutputRecord[]> {
    this.known(id);
    const reply = await this.request({ type: 'records', id }, 'records', id, `read the ring of console \`${id}\``);
    return recordsOf(reply.data, reply.chunks);
  }

  async counters(id: string): Promise<ConsoleCounters> {
    this.known(id);
    const reply = await this.request({ type: 'counters', id }, 'counters', id, `read the counters of console \`${id}\``);
    return reply.counters;
  }

  /** The container exited: resolves once its console is drained to EIO and its clients' streams ended. */
  async exited(id: string): Promise<void> {
    this.known(id);
    await this.request({ type: 'exited', id, graceMs: this.graceMs }, 'done', id, `end console \`${id}\``);
  }

  /** Forgets the console: closes its pty, pipes, log and clients' pipes, and frees its ring. */
  async remove(id: string): Promise<void> {
    this.known(id);
    await this.request({ type: 'remove', id }, 'done', id, `remove console \`${id}\``);
    this.consoles.delete(id);
  }

  /**
   * remove() without waiting for (or being told of) the result: the thread sends no reply, which
   * through the keeper is a wake-up of each process fewer. Requests sent later, an open of the
   * same id included, come after it.
   */
  discard(id: string): void {
    this.known(id);
    this.post({ type: 'discard', id });
    this.consoles.delete(id);
  }

  /**
   * In this process: closes every console and stops the threads. With a keeper: lets go of it;
   * it keeps the consoles of running containers for the next skiffd.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.endpoint?.close();
      for (const client of this.clients.values()) client.output.destroy();
      this.clients.clear();
      this.consoles.clear();
      this.lost(new Error('the console hub is closed'));
    })();
    return this.closing;
  }

  // ── plumbing ──

  /** Fire and forget (input, detach): ordered after every earlier request. */
  private post(msg: Request): void {
    if (this.failure || this.closing || this.endpoint === null) return;
    this.endpoint.send(msg);
  }

  private request<T extends Expect>(msg: Unnumbered<Request>, expect: T, id: string, what: string): Promise<Extract<Reply, { type: T }>> {
    if (this.failure) return Promise.reject(new ConsoleError(id, `${what}: ${this.failure.message}`, 'ECONSOLE', { cause: this.failure }));
    if (this.closing) return Promise.reject(new ConsoleError(id, `${what}: the console hub is closed`, 'ECONSOLE'));
    if (this.endpoint === null) return Promise.reject(new ConsoleError(id, `${what}: the console hub is not connected to its keeper`, 'ECONSOLE'));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { expect, id, what, resolve: resolve as (r: Reply) => void, reject });
      this.endpoint!.send({ ...msg, seq });
    });
  }

  private onReply(reply: Reply): void {
    switch (reply.type) {
      case 'problem':
        this.onProblem(reply.id, reply.message);
        return;
      case 'dropped': {
        const client = this.clients.get(`${reply.id} ${reply.client}`);
        if (client) client.dropped = reply.dropped;
        return;
      }
      case 'ended':
      case 'unlinked':
        return;
      case 'failed':
      case 'opened':
      case 'attached':
      case 'ring':
      case 'records':
      case 'counters':
      case 'list':
      case 'done': {
        const p = this.pending.get(reply.seq);
        if (p === undefined) return;
        this.pending.delete(reply.seq);
        if (reply.type === 'failed') p.reject(fromWire(p.what, p.id, reply.error));
        else if (reply.type === p.expect) p.resolve(reply);
        else p.reject(new Error(`${p.what}: expected a \`${p.expect}\` reply, got \`${reply.type}\``));
        return;
      }
      default:
        unreachable(reply, 'forwarder: reply to the console hub');
    }
  }

  /**
   * The keeper died (a bug, or someone killed it): its consoles are gone, with their rings, and
   * the containers that had them lost their stdio's reader. Said loudly; the next open starts
   * a new keeper.
   */
  private keeperLost(err: Error): void {
    this.onProblem('*', `${err.message}: every console it held is lost; a new keeper starts with the next console`);
    this.lost(err);
    this.consoles.clear();
    this.endpoint = null;
  }

  /** The forwarder is gone (the keeper died, or the hub closed): whatever waits on it fails. */
  private lost(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(new ConsoleError(p.id, `${p.what}: ${err.message}`, 'ECONSOLE', { cause: err }));
    this.pending.clear();
  }

  /** Whether console `id` is open in the forwarder now: false once it was lost with its keeper. */
  has(id: string): boolean {
    return this.consoles.has(id);
  }

  private known(id: string): void {
    if (!this.consoles.has(id)) throw new ConsoleError(id, `no console \`${id}\``, 'ENOENT');
  }
}

/** Forwarder threads in this process: their fds are already ours. */
class LocalEndpoint implements Endpoint {
  constructor(private readonly pool: ForwarderPool) {}

  send(req: Request): void {
    this.pool.send(req);
  }

  take(_id: string, fds: number[]): number[] {
    return fds;
  }

  /** Ours already: lent by this process's /proc paths, and closed at the release. */
  lend(_id: string, fds: number[]): Lent {
    return lentByPath(process.pid, fds, () => { for (const fd of fds) close(fd); });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  pids(): number[] {
    return [];
  }
}

function fromWire(what: string, id: string, e: WireError): Error {
  if (e.syscall !== undefined && e.errno !== undefined) {
    const cause = new SysError(e.syscall, e.errno, e.path);
    return new ConsoleError(id, `${what}: ${cause.message}`, cause.code, { cause });
  }
  return new ConsoleError(id, `${what}: ${e.message}`, 'ECONSOLE');
}

function validateConsoleOptions(id: string, o: ConsoleOptions): void {
  const where = `console \`${id}\` options`;
  positiveInteger(o.buffer, `${where}.buffer`, CONSOLE_MIN_BYTES, CONSOLE_MAX_BUFFER);
  if (o.logPath !== null) {
    if (typeof o.logPath !== 'string' || !o.logPath.startsWith('/')) throw new RangeError(`${where}.logPath must be an absolute path or null, got ${JSON.stringify(o.logPath)}`);
    positiveInteger(o.logMax, `${where}.logMax`, CONSOLE_MIN_BYTES);
  }
}
