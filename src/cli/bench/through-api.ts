// skiff's rows of `skiff bench`: containers of /bin/true driven through skiffd's API, as a
// bulk client drives it (one keep-alive connection per request in flight).
//
//   full   create, start, wait for the exit, remove: what one `runc run` / `crun run` does,
//          so the figure compares with theirs. Latency is create sent → removal answered.
//   start  create and start only (start answers once PID 1 has exec'd). Latency is create sent
//          → start answered; the exits and removals happen after the clock stops.
import { Agent } from 'node:http';
import { request } from '../../api/http-client.js';
import type { Sample } from './external.js';

export type Lifecycle = 'full' | 'start';

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
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await request(o.socket, method, path, { agent, ...(body === undefined ? {} : { body }) });
    if (r.status >= 400) {
      const message = (r.body as { message?: unknown } | null)?.message;
      throw new CallFailed(`${method} ${path}: ${r.status} ${typeof message === 'string' ? message : r.text}`);
    }
    return r.body;
  };
  // Network none, as `skiff run` defaults to (a Docker API create that names no network joins
  // bridge): the runtimes it is compared with start without a network too.
  const body = { Image: 'host', Cmd: ['/bin/true'], HostConfig: { NetworkMode: 'none' }, Skiff: { Rootfs: o.rootfs, Console: { buffer: 4096 } } };
  const latenciesMs: number[] = [];
  const leftover = new Set<string>();
  let failed = 0;
  let firstError: string | null = null;
  let next = 0;
  const t0 = performance.now();
  try {
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      for (let i = next++; i < o.count; i = next++) {
        const name = `bench-${o.label}-${process.pid}-${i}`;
        const a = performance.now();
        try {
          await call('POST', `/containers/create?name=${name}`, body);
          leftover.add(name);
          await call('POST', `/containers/${name}/start`);
          if (o.lifecycle === 'full') {
            const exit = await call('POST', `/containers/${name}/wait`) as { StatusCode?: number };
            if (exit.StatusCode !== 0) throw new CallFailed(`${name} exited with ${String(exit.StatusCode)}`);
            await call('DELETE', `/containers/${name}`);
            leftover.delete(name);
          }
          latenciesMs.push(performance.now() - a);
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
      }
    }));
    return { latenciesMs, wallMs: performance.now() - t0, failed, firstError };
  } finally {
    // What the clock did not include (the `start` lifecycle, failures): removed, a bounded number at once.
    const names = [...leftover];
    for (let i = 0; i < names.length; i += 64) {
      await Promise.all(names.slice(i, i + 64).map((n) => call('DELETE', `/containers/${n}?force=1`).catch(() => undefined)));
    }
    agent.destroy();
  }
}
