// The container endpoints of its cgroup: GET /containers/{id}/stats (one frame, or a frame a
// second until the client goes) and POST /containers/{id}/update (new limits, applied at once).
import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { dockerStats, systemCpuNs, type StatsFrame } from '../docker/stats.js';
import { updatedResources } from '../docker/resources.js';
import type { Supervisor } from '../lifecycle/supervisor.js';
import { flag } from './query.js';
import { API_VERSION, send } from './respond.js';

const INTERVAL_MS = 1000;

function frameOf(sup: Supervisor, ref: string): StatsFrame {
  const r = sup.get(ref);
  return { at: new Date(), sample: r.status === 'running' ? sup.sample(ref) : null, systemNs: systemCpuNs() };
}

/**
 * As Docker: stream=false answers one frame whose precpu_stats come from a frame a second
 * earlier (so the CPU % is real); one-shot=true answers at once with no precpu; otherwise a
 * frame every second while the client listens and the container runs.
 */
export async function stats(sup: Supervisor, ref: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
  const r = sup.get(ref);
  const stream = q.get('stream') === null ? true : flag(q, 'stream');
  let pre: StatsFrame | null = null;
  let now = frameOf(sup, ref);
  if (!stream) {
    if (!flag(q, 'one-shot') && r.status === 'running') {
      await delay(INTERVAL_MS);
      pre = now;
      now = frameOf(sup, ref);
    }
    return send(res, 200, dockerStats(r, now, pre));
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION });
  let open = true;
  res.on('close', () => { open = false; });
  while (open) {
    res.write(`${JSON.stringify(dockerStats(r, now, pre))}\n`);
    if (r.status !== 'running') break;
    await delay(INTERVAL_MS);
    pre = now;
    now = frameOf(sup, ref);
  }
  res.end();
}

export async function update(sup: Supervisor, ref: string, body: unknown, res: ServerResponse): Promise<void> {
  const r = sup.get(ref);
  const b = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  await sup.update(ref, updatedResources(r.spec.resources, b));
  send(res, 200, { Warnings: [] });
}
