// The CLI's only way to skiffd: HTTP/JSON over the unix socket (src/api/http-client.ts).
// Starts skiffd in the background when nothing answers, and says so once on stderr; turns
// skiffd's error answers into DaemonError.
import { mkdirSync, openSync, closeSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { socketFromEnv as socketPath, stateDirFromEnv as stateDir } from '../api/defaults.js';
import { open, parseBody, readAll, request, upgrade as httpUpgrade, type HttpReply } from '../api/http-client.js';
import { SKIFFD_ENTRY } from './daemon-process.js';

/** An error answered by skiffd: its status and Docker-shaped message. */
export class DaemonError extends Error {
  constructor(readonly status: number, message: string, readonly body: Record<string, unknown>) {
    super(message);
    this.name = 'DaemonError';
  }
}

export interface Reply {
  status: number;
  body: unknown;
}

function unreachable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

/** The one attempt to reach (or start) skiffd: concurrent calls (a bench, a fleet) share it. */
let ensuring: Promise<void> | null = null;

/** True when skiffd answers; false when nothing listens on the socket. */
async function pings(): Promise<boolean> {
  try {
    await request(socketPath(), 'GET', '/_ping');
    return true;
  } catch (err) {
    if (!unreachable(err)) throw err;
    return false;
  }
}

/** Starts skiffd in the background if nothing answers on the socket; once per process. */
export function ensureDaemon(): Promise<void> {
  ensuring ??= startIfNeeded().catch((err: unknown) => {
    ensuring = null; // a later call may try again
    throw err;
  });
  return ensuring;
}

async function startIfNeeded(): Promise<void> {
  if (await pings()) return;
  const dir = stateDir();
  mkdirSync(join(dir, '.skiffd'), { recursive: true, mode: 0o700 });
  const logPath = join(dir, '.skiffd', 'skiffd.log');
  const logFd = openSync(logPath, 'a', 0o600);
  // Loaded here, the one place that needs it: most commands find skiffd running.
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [SKIFFD_ENTRY, '--socket', socketPath(), '--state-dir', dir], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  child.unref();
  process.stderr.write(`skiff: started skiffd (pid ${child.pid}, socket ${socketPath()}, log ${logPath})\n`);
  const deadline = Date.now() + 15_000;
  while (!(await pings())) {
    if (Date.now() > deadline) throw new Error(`skiffd did not come up on ${socketPath()} within 15 s; see ${logPath}`);
    if (child.exitCode !== null) throw new Error(`skiffd exited with code ${child.exitCode}; see ${logPath}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** skiffd's answer to a failed request, as the error to throw: its Docker-shaped message. */
function daemonError(reply: Pick<HttpReply, 'status' | 'body' | 'text'>): DaemonError {
  const b = (typeof reply.body === 'object' && reply.body !== null ? reply.body : { message: reply.text }) as Record<string, unknown>;
  return new DaemonError(reply.status, typeof b.message === 'string' ? b.message : `HTTP ${reply.status}`, b);
}

/**
 * One API call; throws DaemonError for 4xx/5xx. The first is sent without a ping first (one
 * round trip less for a quick command): only if nothing listens is skiffd started and the
 * call sent again, which is safe, since a refused connection carried nothing.
 */
export async function call(method: string, path: string, body?: unknown): Promise<Reply> {
  const send = () => request(socketPath(), method, path, body === undefined ? {} : { body });
  let reply: HttpReply;
  if (ensuring === null) {
    try {
      reply = await send();
      ensuring ??= Promise.resolve();
    } catch (err) {
      if (!unreachable(err)) throw err;
      await ensureDaemon();
      reply = await send();
    }
  } else {
    await ensuring;
    reply = await send();
  }
  if (reply.status >= 400) throw daemonError(reply);
  return { status: reply.status, body: reply.body };
}

/** A streamed answer (logs --follow, a wait): the response, for the caller to read. */
export async function stream(method: string, path: string, o: { upload?: NodeJS.ReadableStream; headers?: Record<string, string> } = {}): Promise<IncomingMessage> {
  await ensureDaemon();
  const res = await open(socketPath(), method, path, { ...(o.upload ? { upload: o.upload } : {}), ...(o.headers ? { headers: o.headers } : {}) });
  if ((res.statusCode ?? 0) >= 400) {
    const text = (await readAll(res)).toString('utf8');
    throw daemonError({ status: res.statusCode ?? 0, body: parseBody(text), text });
  }
  return res;
}

/** The rest of a streamed answer, as JSON (a wait's body). */
export async function readJson(res: IncomingMessage): Promise<unknown> {
  return JSON.parse((await readAll(res)).toString('utf8')) as unknown;
}

/** Docker's attach: an HTTP upgrade that leaves a raw two-way byte stream. */
export async function upgrade(path: string, body?: unknown): Promise<{ socket: Socket; head: Buffer; contentType: string }> {
  await ensureDaemon();
  const r = await httpUpgrade(socketPath(), path, body === undefined ? {} : { body });
  if (r.refused) throw daemonError(r.refused);
  return r;
}
