// The CLI's only way to skiffd: HTTP/JSON over the unix socket. Starts skiffd in the
// background when nothing answers, and says so once on stderr.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { socketFromEnv as socketPath, stateDirFromEnv as stateDir } from '../api/defaults.js';

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

function raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request({
      socketPath: socketPath(),
      method,
      path,
      headers: { ...(text ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } : {}), ...headers },
    }, resolve);
    req.on('error', reject);
    req.end(text);
  });
}

async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
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
    (await raw('GET', '/_ping')).resume();
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
  const entry = join(dirname(fileURLToPath(import.meta.url)), '../main/skiffd-main.js');
  const child = spawn(process.execPath, [entry, '--socket', socketPath(), '--state-dir', dir], {
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

/** One API call; throws DaemonError for 4xx/5xx. */
export async function call(method: string, path: string, body?: unknown): Promise<Reply> {
  await ensureDaemon();
  const res = await raw(method, path, body);
  const buf = await readAll(res);
  const text = buf.toString('utf8');
  let parsed: unknown = text;
  if ((res.headers['content-type'] ?? '').includes('json') && text.trim() !== '') parsed = JSON.parse(text);
  const status = res.statusCode ?? 0;
  if (status >= 400) {
    const b = (typeof parsed === 'object' && parsed !== null ? parsed : { message: text }) as Record<string, unknown>;
    throw new DaemonError(status, String(b.message ?? `HTTP ${status}`), b);
  }
  return { status, body: parsed };
}

/** A streaming GET (logs --follow, events): the response, for the caller to read. */
export async function stream(method: string, path: string): Promise<IncomingMessage> {
  await ensureDaemon();
  const res = await raw(method, path);
  if ((res.statusCode ?? 0) >= 400) {
    const text = (await readAll(res)).toString('utf8');
    let msg = text;
    try { msg = String((JSON.parse(text) as { message?: string }).message ?? text); } catch { /* plain text */ }
    throw new DaemonError(res.statusCode ?? 0, msg, {});
  }
  return res;
}

/** The rest of a streamed answer, as JSON (a wait's body). */
export async function readJson(res: IncomingMessage): Promise<unknown> {
  return JSON.parse((await readAll(res)).toString('utf8')) as unknown;
}

/** Docker's attach: an HTTP upgrade that leaves a raw two-way byte stream. */
export async function upgrade(path: string): Promise<{ socket: Socket; head: Buffer; contentType: string }> {
  await ensureDaemon();
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socketPath(), method: 'POST', path, agent: false, headers: { Connection: 'Upgrade', Upgrade: 'tcp' } });
    req.on('upgrade', (res, socket, head) => resolve({ socket, head, contentType: String(res.headers['content-type'] ?? '') }));
    req.on('response', async (res) => {
      const text = (await readAll(res)).toString('utf8');
      let msg = text;
      try { msg = String((JSON.parse(text) as { message?: string }).message ?? text); } catch { /* plain */ }
      reject(new DaemonError(res.statusCode ?? 0, msg, {}));
    });
    req.on('error', reject);
    req.end();
  });
}
