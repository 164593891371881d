// skiff's rows of `skiff bench`: containers of /bin/true driven through skiffd's API, as a
// bulk client drives it (one keep-alive connection per request in flight).
//
//   rm     `docker run --rm`'s three requests: create with HostConfig.AutoRemove, a wait for
//          the condition `removed` (sent before the start, its headers answered at once),
//          start; the wait's body comes once the container has exited and its record is
//          gone. The whole lifecycle, as one `runc run` / `crun run` does it. Latency is
//          create sent → the wait answered (removed).
//   full   the same lifecycle in four requests, as a client that removes by itself: create,
//          start, wait for the exit, DELETE. Latency is create sent → removal answered.
//   start  create and start only (start answers once PID 1 has exec'd). Latency is create sent
//          → start answered; the exits and removals happen after the clock stops.
import { Agent, type IncomingMessage } from 'node:http';
import { open, parseBody, readAll, request } from '../../api/http-client.js';
import type { Sample } from './external.js';
import { stopAsked } from './stop.js';

export type Lifecycle = 'rm' | 'full' | 'start';

export interface ApiRun {
  socket: string;
  rootfs: string;
  lifecycle: Lifecycle;
  count: number;
  concurrency: number;
  /** distinguishes this run's container names from any other's */
  label: string;
}

class CallFailed extends Error {}

export async function throughApi(o: ApiRun): Promise<Sample> {
  // One connection per request in flight: the rm lifecycle holds its wait open beside the start.
  const perContainer = o.lifecycle === 'rm' ? 2 : 1;
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency * perContainer });
  const refused = (method: string, path: string, status: number, body: unknown, text: string) => {
    const message = (body as { message?: unknown } | null)?.message;
    return new CallFailed(`${method} ${path}: ${status} ${typeof message === 'string' ? message : text}`);
  };
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await request(o.socket, method, path, { agent, ...(body === undefined ? {} : { body }) });
    if (r.status >= 400) throw refused(method, path, r.status, r.body, r.text);
    return r.body;
  };
  /** A request whose answer is read later: resolves once its headers are here (a wait is registered then). */
  const started = async (method: string, path: string): Promise<IncomingMessage> => {
    const res = await open(o.socket, method, path, { agent });
    if ((res.statusCode ?? 0) >= 400) {
      const text = (await readAll(res)).toString('utf8');
      throw refused(method, path, res.statusCode ?? 0, parseBody(text), text);
    }
    return res;
  };
  const exitOf = async (res: IncomingMessage): Promise<number | undefined> =>
    (parseBody((await readAll(res)).toString('utf8')) as { StatusCode?: number } | null)?.StatusCode;
  // Network none, as `skiff run` defaults to (a Docker API create that names no network joins
  // bridge): the runtimes it is compared with start without a network too.
  const body = (autoRemove: boolean) => ({
    Image: 'host', Cmd: ['/bin/true'], HostConfig: { NetworkMode: 'none', AutoRemove: autoRemove }, Skiff: { Rootfs: o.rootfs, Console: { buffer: 4096 } },
  });
  const latenciesMs: number[] = [];
  const leftover = new Set<string>();
  let failed = 0;
  let firstError: string | null = null;
  let next = 0;
  const one = async (name: string): Promise<void> => {
    await call('POST', `/containers/create?name=${name}`, body(o.lifecycle === 'rm'));
    leftover.add(name);
    if (o.lifecycle === 'rm') {
      const wait = await started('POST', `/containers/${name}/wait?condition=removed`);
      await call('POST', `/containers/${name}/start`);
      const code = await exitOf(wait);
      if (code !== 0) throw new CallFailed(`${name} exited with ${String(code)}`);
      leftover.delete(name);
      return;
    }
    await call('POST', `/containers/${name}/start`);
    if (o.lifecycle === 'full') {
      const exit = await call('POST', `/containers/${name}/wait`) as { StatusCode?: number };
      if (exit.StatusCode !== 0) throw new CallFailed(`${name} exited with ${String(exit.StatusCode)}`);
      await call('DELETE', `/containers/${name}`);
      leftover.delete(name);
    }
  };
  const t0 = performance.now();
  try {
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      // A stop asked for (stop.ts) ends the row at the containers begun; those are removed below.
      for (let i = next++; i < o.count && !stopAsked(); i = next++) {
        const name = `bench-${o.label}-${process.pid}-${i}`;
        const a = performance.now();
        try {
          await one(name);
          latenciesMs.push(performance.now() - a);
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
      }
    }));
    return { latenciesMs, wallMs: performance.now() - t0, failed, firstError };
  } finally {
    // What the clock did not include (the `start` lifecycle, failures): removed, a bounded number
    // at once. An rm container already gone answers 404, which is what is wanted.
    const names = [...leftover];
    for (let i = 0; i < names.length; i += 64) {
      await Promise.all(names.slice(i, i + 64).map((n) => call('DELETE', `/containers/${n}?force=1`).catch(() => undefined)));
    }
    agent.destroy();
  }
}
