// One forwarder thread's loop: a single epoll set over the fds of every console the thread
// holds (its sources, input and clients' pipes, each with data = token × 4 + slot) plus the wake eventfd, waited on synchronously (this thread does nothing
// else). Requests are read from the port when the eventfd fires; see protocol.ts.
import { errorMessage } from '../api/errors.js';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { EPOLL_EVENT_SIZE, close, epollAdd, epollCreate, epollWait, eventfdDrain, openPath, takeFd } from '../sys/libc.js';
import { EPOLLIN, O_WRONLY } from '../sys/constants.js';
import { SysError } from '../sys/errno.js';
import { ForwardedConsole } from './console.js';
import type { ThreadContext } from './context.js';
import { unreachable } from '../api/unreachable.js';
import type { Reply, Request, ThreadTask, WireError } from './protocol.js';
import { SkiffdLink } from './thread-link.js';

const WAKE = 0;
/** skiffd's connection to this thread (in the keeper); a console's data is token × 4 + slot, with tokens from 1 */
const LINK = 1;
/** bytes one console may forward before the loop turns to the others (level-triggered: it comes back) */
const PUMP_BUDGET = 1 << 20;
/** epoll_wait never sleeps longer, so a thread asked to stop by other means notices within this */
const MAX_WAIT_MS = 1000;
/**
 * A client's losses are reported at most this often (and before any answer, so a request sent
 * after something sees every loss before it): in a flood a report per loop iteration was
 * thousands of messages a second through the keeper into skiffd's main thread, which is where
 * the attached reader runs.
 */
const LOSS_REPORT_MS = 50;

/** where a request came from, and its reply goes: the port (null), or skiffd's connection */
type Route = SkiffdLink | null;

interface ExitWaiter {
  seq: number;
  deadline: number;
  route: Route;
}

export class ForwarderLoop {
  private readonly epfd: number;
  private readonly events = Buffer.alloc(256 * EPOLL_EVENT_SIZE);
  private readonly byId = new Map<string, ForwardedConsole>();
  private readonly byToken = new Map<number, ForwardedConsole>();
  private readonly exitWaiters = new Map<ForwardedConsole, ExitWaiter[]>();
  /** consoles whose end was reported (`ended`), once each */
  private readonly endReported = new WeakSet<ForwardedConsole>();
  private readonly ctx: ThreadContext;
  private readonly port: MessagePort;
  private readonly wakeFd: number;
  private nextToken = 1;
  private running = true;
  private readonly index: number;
  private link: SkiffdLink | null = null;
  /** the route of the request being handled */
  private answering: Route = null;
  /** clients whose losses grew since the last report: `id client` → dropped */
  private readonly lostSince = new Map<string, { id: string; client: number; dropped: number }>();
  /** when the losses in lostSince are sent at the latest (performance.now()); null: none wait */
  private lossDue: number | null = null;

  constructor(task: ThreadTask) {
    this.port = task.port;
    this.wakeFd = task.wakeFd;
    this.index = task.index;
    const epfd = epollCreate();
    this.epfd = epfd;
    const devNull = openPath('/dev/null', O_WRONLY);
    let scratch = Buffer.alloc(0);
    this.ctx = {
      devNull,
      copyBuffer: Buffer.alloc(64 * 1024),
      scratch: { get: (n) => (scratch.length >= n ? scratch : (scratch = Buffer.alloc(n))) },
      spliceTty: task.spliceTty,
      clientBacklog: task.clientBacklog,
      epfd,
      report: (id, message) => this.reply({ type: 'problem', id, message }),
      lost: (id, client, dropped) => {
        this.lostSince.set(`${id} ${client}`, { id, client, dropped });
        this.lossDue ??= performance.now() + LOSS_REPORT_MS;
      },
    };
    epollAdd(this.epfd, this.wakeFd, EPOLLIN, WAKE);
  }

  /** Runs until a shutdown request; then every console is closed. */
  run(): void {
    while (this.running) {
      const events = epollWait(this.epfd, this.events, this.waitMs());
      for (const ev of events) {
        if (ev.data === WAKE) {
          eventfdDrain(this.wakeFd);
          this.receive();
          continue;
        }
        if (ev.data === LINK) {
          this.link?.service(ev.events, (req) => this.handleFrom(this.link, req));
          continue;
        }
        const con = this.byToken.get(Math.floor(ev.data / 4));
        if (con !== undefined) this.service(con, ev.data % 4, ev.events); // else removed earlier in this batch
      }
      this.expireWaiters();
      if (this.lossDue !== null && performance.now() >= this.lossDue) this.reportLosses();
      this.link?.flush();
    }
    this.link?.close();
    close(this.epfd);
    close(this.ctx.devNull);
  }

  private service(con: ForwardedConsole, slot: number, events: number): void {
    try {
      con.service(slot, events, PUMP_BUDGET);
      if (con.ended) this.end(con);
    } catch (err) {
      // One console's failure ends that console, never the thread and its other consoles.
      this.ctx.report(con.id, `forwarding stopped: ${(err as Error).message}`);
      this.end(con);
    }
  }

  private end(con: ForwardedConsole): void {
    if (!this.endReported.has(con)) {
      con.end();
      this.endReported.add(con);
      if (this.liveLink() === null) this.reply({ type: 'ended', id: con.id });
    }
    if (!this.exitWaiters.has(con)) return;
    for (const w of this.exitWaiters.get(con) ?? []) this.reply({ type: 'done', seq: w.seq }, [], w.route);
    this.exitWaiters.delete(con);
  }

  private waitMs(): number {
    let wait = MAX_WAIT_MS;
    const now = performance.now();
    if (this.lossDue !== null) wait = Math.max(0, Math.ceil(this.lossDue - now));
    for (const waiters of this.exitWaiters.values()) {
      for (const w of waiters) wait = Math.min(wait, Math.max(0, Math.ceil(w.deadline - now)));
    }
    return wait;
  }

  /**
   * The container exited but its console never reached EIO within the grace period
   * (something else still holds the slave): forward what is there and end it anyway.
   */
  private expireWaiters(): void {
    if (this.exitWaiters.size === 0) return;
    const now = performance.now();
    for (const [con, waiters] of this.exitWaiters) {
      if (!waiters.some((w) => w.deadline <= now)) continue;
      try {
        con.drain(PUMP_BUDGET);
      } catch (err) {
        this.ctx.report(con.id, `forwarding stopped: ${(err as Error).message}`);
      }
      this.end(con);
    }
  }

  private receive(): void {
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) this.handleFrom(null, m.message as Request);
  }

  private handleFrom(route: Route, req: Request): void {
    this.answering = route;
    try {
      this.handle(req);
    } catch (err) {
      if ('seq' in req) this.reply({ type: 'failed', seq: req.seq, error: toWire(err) });
    }
  }

  private console(id: string): ForwardedConsole {
    const con = this.byId.get(id);
    if (con === undefined) throw new Error(`no console \`${id}\` in this forwarder thread`);
    return con;
  }

  private handle(req: Request): void {
    switch (req.type) {
      case 'open': {
        if (this.byId.has(req.id)) throw new Error(`console \`${req.id}\` is already open`);
        const con = new ForwardedConsole(req.id, this.nextToken++, req.options, this.ctx);
        this.byId.set(req.id, con);
        this.byToken.set(con.token, con);
        this.reply({ type: 'opened', seq: req.seq, slavePath: con.slavePath, pipes: con.containerEnds });
        return;
      }
      case 'attach': {
        const con = this.console(req.id);
        const { client, fd, replay, chunks } = con.attach(req.replay);
        this.reply({ type: 'attached', seq: req.seq, client, fd, replay, chunks, framed: con.framed }, [replay.buffer as ArrayBuffer, chunks.buffer as ArrayBuffer]);
        return;
      }
      case 'detach':
        this.byId.get(req.id)?.detach(req.client);
        return;
      case 'input': {
        const con = this.byId.get(req.id);
        if (con === undefined || con.ended) return;
        try {
          con.write(req.data);
        } catch (err) {
          this.ctx.report(con.id, `input dropped: ${(err as Error).message}`);
        }
        return;
      }
      case 'closeInput':
        try {
          this.byId.get(req.id)?.closeInput();
        } catch (err) {
          this.ctx.report(req.id, `closing stdin: ${(err as Error).message}`);
        }
        return;
      case 'records': {
        const { data, chunks } = this.console(req.id).snapshotRecords();
        this.reply({ type: 'records', seq: req.seq, data, chunks }, [data.buffer as ArrayBuffer, chunks.buffer as ArrayBuffer]);
        return;
      }
      case 'resize':
        this.console(req.id).resize(req.rows, req.cols);
        this.reply({ type: 'done', seq: req.seq });
        return;
      case 'adoptPty': {
        const con = this.console(req.id);
        con.adoptPty(takeFd(req.pid, req.fd));
        this.reply({ type: 'done', seq: req.seq });
        return;
      }
      case 'ring': {
        const data = this.console(req.id).snapshot();
        this.reply({ type: 'ring', seq: req.seq, data }, [data.buffer as ArrayBuffer]);
        return;
      }
      case 'counters':
        this.reply({ type: 'counters', seq: req.seq, counters: this.console(req.id).counters() });
        return;
      case 'exited': {
        const con = this.console(req.id);
        // A pty that never got its master (its exec never ran) has nothing to drain.
        if (con.ended || con.awaitingMaster) {
          this.reply({ type: 'done', seq: req.seq });
          return;
        }
        const waiters = this.exitWaiters.get(con) ?? [];
        waiters.push({ seq: req.seq, deadline: performance.now() + req.graceMs, route: this.answering });
        this.exitWaiters.set(con, waiters);
        return;
      }
      case 'remove':
      case 'discard': {
        const con = this.console(req.id);
        this.end(con);
        con.close();
        this.byId.delete(req.id);
        this.byToken.delete(con.token);
        if (req.type === 'remove') this.reply({ type: 'done', seq: req.seq });
        return;
      }
      case 'list':
        this.reply({ type: 'list', seq: req.seq, consoles: [...this.byId.values()].map((c) => ({ id: c.id, slavePath: c.slavePath, ended: c.ended, thread: this.index })) });
        return;
      case 'link':
        // A skiffd connects anew only when its last connection has gone (it died, or let go).
        this.link?.close();
        this.link = new SkiffdLink(req.fd, this.epfd, LINK, this.index, {
          problem: (message) => this.reply({ type: 'problem', id: '*', message }),
          closed: () => this.reply({ type: 'unlinked' }),
        });
        return;
      case 'shutdown':
        for (const con of this.byId.values()) {
          this.end(con);
          con.close();
        }
        this.byId.clear();
        this.byToken.clear();
        this.running = false;
        this.reply({ type: 'done', seq: req.seq });
        return;
      default:
        unreachable(req, 'forwarder port: request to a forwarder thread');
    }
  }

  /**
   * An answer goes where its request came from; `ended` to the port (the keeper's main thread
   * keeps the keeper alive while a console is live); a problem or a loss to skiffd's connection
   * while there is one, so that a loss comes before any later answer.
   */
  private reply(reply: Reply, transfer: ArrayBuffer[] = [], route?: Route): void {
    if (reply.type !== 'dropped') this.reportLosses(); // a client's losses are known before any later answer
    const to = route !== undefined ? route : 'seq' in reply ? this.answering : reply.type === 'ended' || reply.type === 'unlinked' ? null : this.liveLink();
    if (to === null) this.port.postMessage(reply, transfer);
    else to.send(reply); // dropped if that connection has closed: its skiffd has gone
  }

  private liveLink(): SkiffdLink | null {
    return this.link !== null && !this.link.closed ? this.link : null;
  }

  private reportLosses(): void {
    this.lossDue = null;
    if (this.lostSince.size === 0) return;
    const losses = [...this.lostSince.values()];
    this.lostSince.clear();
    for (const l of losses) this.reply({ type: 'dropped', ...l });
  }
}

function toWire(err: unknown): WireError {
  if (err instanceof SysError) {
    return { message: err.message, syscall: err.syscall, errno: err.errno, ...(err.path === undefined ? {} : { path: err.path }) };
  }
  return { message: errorMessage(err) };
}
