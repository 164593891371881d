// The exec endpoints of Docker's API: POST /containers/{id}/exec (create), POST /exec/{id}/start
// (hijacked: 8-byte frames without a TTY, raw bytes with one; or Detach), POST /exec/{id}/resize
// and GET /exec/{id}/json. Served beside the container routes as an extension of the router.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DetachWatcher, parseDetachKeys } from '../../api/detach-keys.js';
import type { OutputRecord } from '../../forwarder/index.js';
import { hijack } from '../http/container-streams.js';
import { HttpError } from '../http/errors.js';
import type { Extensions } from '../http/api.js';
import { LogWriter } from '../http/log-output.js';
import { integer } from '../http/query.js';
import { frame, send } from '../http/respond.js';
import { readBodyJson } from '../http/upgrade-body.js';
import { InvalidArgument, StartFailed } from '../lifecycle/errors.js';
import { execConfig, execStart } from './body.js';
import type { ExecManager, ExecRecord } from './manager.js';

/** Docker's default detach sequence (ctrl-p, ctrl-q), watched in a TTY exec's input. */
const DEFAULT_DETACH_KEYS = [0x10, 0x11];

/** GET /exec/{id}/json, as Docker answers it. */
export function execInspect(e: ExecRecord): object {
  return {
    ID: e.id,
    ContainerID: e.containerId,
    Running: e.running,
    ExitCode: e.exitCode,
    Pid: e.pid ?? 0,
    OpenStdin: e.config.attachStdin,
    OpenStdout: e.config.attachStdout,
    OpenStderr: e.config.attachStderr,
    CanRemove: false,
    DetachKeys: e.config.detachKeys ?? '',
    ProcessConfig: {
      tty: e.config.tty,
      entrypoint: e.config.cmd[0],
      arguments: e.config.cmd.slice(1),
      privileged: false,
      user: e.config.user ?? '',
    },
    ...(e.error === null ? {} : { Skiff: { Error: e.error } }),
  };
}

export class ExecApi implements Extensions {
  constructor(private readonly execs: ExecManager) {}

  claims(path: string): boolean {
    return path.startsWith('/exec/') || (path.startsWith('/containers/') && path.endsWith('/exec'));
  }

  async handle(method: string, path: string, req: IncomingMessage, res: ServerResponse, body: () => Promise<unknown>): Promise<boolean> {
    const create = /^\/containers\/([^/]+)\/exec$/.exec(path);
    if (create && method === 'POST') {
      const e = this.execs.create(decodeURIComponent(create[1]!), execConfig(await body()));
      send(res, 201, { Id: e.id });
      return true;
    }
    const m = /^\/exec\/([^/]+)\/(start|resize|json)$/.exec(path);
    if (!m) return false;
    const id = decodeURIComponent(m[1]!);
    switch (`${method} ${m[2]}`) {
      case 'POST start':
        await this.start(id, req, res);
        return true;
      case 'POST resize': {
        const q = new URL(req.url ?? '/', 'http://skiffd').searchParams;
        const h = integer(q, 'h', 1, 65535), w = integer(q, 'w', 1, 65535);
        if (h === undefined || w === undefined) throw new HttpError(400, 'resize needs the query parameters h and w');
        await this.execs.resize(id, h, w);
        send(res, 200);
        return true;
      }
      case 'GET json':
        send(res, 200, execInspect(this.execs.get(id)));
        return true;
      default:
        throw new HttpError(404, `page not found: ${method} ${path}`);
    }
  }

  private async start(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { detach } = execStart(await readBodyJson(req));
    const e = this.execs.get(id);
    let detachKeys = DEFAULT_DETACH_KEYS;
    try {
      if (e.config.detachKeys !== null) detachKeys = parseDetachKeys(e.config.detachKeys);
    } catch (err) {
      throw new InvalidArgument(`DetachKeys: ${(err as Error).message}`, 'DetachKeys');
    }
    if (detach) {
      await this.execs.start(id, { detach: true });
      send(res, 200);
      return;
    }
    // Refusals (started already, container stopped) are answers with a status, before the hijack.
    this.execs.startable(id);
    const framed = !e.config.tty;
    const socket = hijack(req, res, framed);
    let run;
    try {
      run = await this.execs.start(id, { detach: false });
    } catch (err) {
      // The stream is the answer now: the reason goes on it (stderr), the exit code to the exec's inspect.
      // A terminal's line end on a TTY (raw mode), a plain one in a frame.
      const text = Buffer.from(`${err instanceof StartFailed ? err.message : (err as Error).message}${framed ? '\n' : '\r\n'}`);
      socket.end(framed ? frame(2, text) : text);
      return;
    }
    const writer = new LogWriter(framed, false);
    const wanted = (rec: OutputRecord) => (rec.stream === 2 ? e.config.attachStderr : e.config.attachStdout) || e.config.tty;
    run.output!.on('data', (rec: OutputRecord) => {
      if (wanted(rec)) socket.write(writer.encode(rec));
    });
    let inputEnded = false;
    if (e.config.attachStdin) {
      // Detach keys are Docker's on a TTY only: a pipe's input is data, passed on as it is.
      const watcher = e.config.tty ? new DetachWatcher(detachKeys) : null;
      socket.on('data', (b: Buffer) => {
        if (inputEnded) return;
        if (watcher === null) return run.write(b);
        const { forward, detach: detached } = watcher.feed(b);
        if (forward.length > 0) run.write(forward);
        if (detached) {
          inputEnded = true;
          run.detach();
          socket.end();
        }
      });
      // The end of the client's input (a half-close) is the exec's: its stdin pipe closes.
      socket.once('end', () => {
        if (!inputEnded) run.closeInput();
        inputEnded = true;
      });
    }
    // The client gone: its output stops; its input has ended too (a `docker exec -i` killed).
    const gone = () => {
      if (e.config.attachStdin && !inputEnded) run.closeInput();
      inputEnded = true;
      run.detach();
    };
    socket.on('close', gone);
    socket.on('error', gone);
    // Reading an upgrade's body paused the socket (readBodyJson): read on from here (input, or the client's end).
    socket.resume();
    // The stream ends only once the exit code is recorded: a client reads it right after.
    await run.finished;
    socket.end();
  }
}
