// The DNS benchmark: how many queries per second skiffd's resolver answers for many containers
// at once, and how long each waits. A skiffd of its own (temp socket and state dir) makes one
// bridge network and N client containers on it; each client (node from the host image, a few
// lines below) waits for the name `go` to resolve, then asks Q names of the other clients one
// after another (one query in flight per client, as a program's resolver does) and prints its
// latencies. `go` is a container started once every client runs, so all begin together; each
// client stays (its name answering for the others) until `stop` resolves, once all have printed.
//
//   ip netns add b; ip netns exec b node dist/bench/dns.js [--clients 50] [--queries 1000] [--profile DIR] [--json]
//
// --profile writes skiffd's CPU profile (node --cpu-prof) into DIR when it exits.
//
// It makes a bridge, so it refuses to run in the host's network namespace. Printed: queries/s
// over the whole run (all answered queries / first start to last end), latency p50, p99 and
// max, failed queries (no answer in 2 s, or no address), and skiffd's CPU per query (polling
// the logs included).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open, request } from '../src/api/http-client.js';
import { cpuSeconds } from '../src/sys/proc.js';
import { positiveIntArg } from './args.js';
import { endChild, runBench, stopPoint } from './stop.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIFFD = join(here, '../src/main/skiffd-main.js');
const SUBNET = '198.18.240.0/24';
const GATEWAY = '198.18.240.1';

interface Options { clients: number; queries: number; json: boolean; profile: string | null }

function usage(message: string): never {
  process.stderr.write(`bench/dns: ${message}\nusage: node dist/bench/dns.js [--clients N] [--queries Q] [--profile DIR] [--json]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { clients: 50, queries: 1000, json: false, profile: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const int = (): number => positiveIntArg(a, argv[++i], usage);
    switch (a) {
      case '--clients': o.clients = int(); break;
      case '--queries': o.queries = int(); break;
      case '--json': o.json = true; break;
      case '--profile': o.profile = argv[++i] ?? usage('--profile needs a directory'); break;
      default: usage(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  return o;
}

/**
 * The client, run by node in each container: argv is server, count, then the names to ask in
 * turn. A query is built by hand (12-byte header, the name's labels, type A, class IN): the host
 * image has node but not this project's modules.
 */
const CLIENT = String.raw`
const dgram = require('dgram');
const [server, count, ...names] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
let id = 0, waiting = null;
s.on('message', (m) => { if (waiting && m.readUInt16BE(0) === waiting.id) { const w = waiting; waiting = null; clearTimeout(w.timer); w.resolve(m); } });
function ask(name) {
  id = (id + 1) & 0xffff;
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const head = Buffer.alloc(12); head.writeUInt16BE(id, 0); head.writeUInt16BE(0x0100, 2); head.writeUInt16BE(1, 4);
  const q = Buffer.concat([head, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  return new Promise((resolve) => { waiting = { id, resolve, timer: setTimeout(() => { waiting = null; resolve(null); }, 2000) }; s.send(q, 53, server); });
}
const answers = (m) => m !== null && m.readUInt16BE(6) > 0;
(async () => {
  while (!answers(await ask('go'))) await new Promise((r) => setTimeout(r, 20));
  const lat = []; let failed = 0; const start = Date.now();
  for (let k = 0; k < Number(count); k++) {
    const t = process.hrtime.bigint();
    const m = await ask(names[k % names.length]);
    if (answers(m)) lat.push(Number(process.hrtime.bigint() - t) / 1000); else failed++;
  }
  console.log(JSON.stringify({ start, end: Date.now(), failed, lat: lat.map((x) => Math.round(x)) }));
  // Still running (its name still answers for the others) until the bench starts "stop".
  while (!answers(await ask('stop'))) await new Promise((r) => setTimeout(r, 200));
  s.close();
})();
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startDaemon(dir: string, profile: string | null): Promise<{ child: ChildProcess; socket: string }> {
  const socket = join(dir, 'skiff.sock');
  const prof = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const child = spawn(process.execPath, [...prof, SKIFFD, '--socket', socket, '--state-dir', join(dir, 'state'), '--cgroup-parent', `skiff-bench-dns-${process.pid}`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const log: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => log.push(b));
  child.stderr.on('data', (b: Buffer) => log.push(b));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`skiffd exited with ${child.exitCode}:\n${Buffer.concat(log).toString('utf8')}`);
    try {
      if ((await request(socket, 'GET', '/_ping')).status === 200) return { child, socket };
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`skiffd did not answer within 15 s:\n${Buffer.concat(log).toString('utf8')}`);
    await sleep(30);
  }
}

/** A non-TTY container's log as Docker frames it (8-byte headers): the stdout bytes. */
function unframe(raw: Buffer): string {
  const out: Buffer[] = [];
  for (let at = 0; at + 8 <= raw.length;) {
    const len = raw.readUInt32BE(at + 4);
    if (raw[at] === 1) out.push(raw.subarray(at + 8, at + 8 + len));
    at += 8 + len;
  }
  return Buffer.concat(out).toString('utf8');
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (spawnSync('ip', ['netns', 'identify', String(process.pid)], { encoding: 'utf8' }).stdout.trim() === '') {
    usage('it makes a bridge: run it in a network namespace of ip netns (ip netns add b; ip netns exec b …), never the host\'s');
  }
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-dns-'));
  const { child, socket } = await startDaemon(dir, o.profile);
  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await request(socket, method, path, body === undefined ? {} : { body });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.body;
  };
  const names = Array.from({ length: o.clients }, (_, i) => `q${i}`);
  try {
    await api('POST', '/networks/create', { Name: 'dnsbench', IPAM: { Config: [{ Subnet: SUBNET, Gateway: GATEWAY }] } });
    for (const [i, name] of names.entries()) {
      await stopPoint();
      // Each asks the names of the others in turn, starting after its own.
      const asks = [...names.slice(i + 1), ...names.slice(0, i + 1)];
      await api('POST', `/containers/create?name=${name}`, { Image: 'host', Cmd: [process.execPath, '-e', CLIENT, GATEWAY, String(o.queries), ...asks], HostConfig: { NetworkMode: 'dnsbench' } });
      await api('POST', `/containers/${name}/start`);
    }
    const cpu0 = cpuSeconds(child.pid!, false) ?? 0;
    await api('POST', '/containers/create?name=go', { Image: 'host', Cmd: ['/bin/sleep', '100000'], HostConfig: { NetworkMode: 'dnsbench' } });
    await api('POST', '/containers/go/start');
    const results = new Map<string, { start: number; end: number; failed: number; lat: number[] }>();
    let cpu1 = cpu0;
    // Each client's result, read from its log once it is there (checked twice a second: cheap
    // beside the queries, and skiffd's CPU is read as soon as the last one has printed).
    while (results.size < names.length) {
      await stopPoint();
      await sleep(500);
      for (const n of names.filter((x) => !results.has(x))) {
        const res = await open(socket, 'GET', `/containers/${n}/logs?stdout=1&stderr=1`);
        const chunks: Buffer[] = [];
        for await (const chunk of res) chunks.push(chunk as Buffer);
        const line = unframe(Buffer.concat(chunks)).split('\n').find((l) => l.startsWith('{'));
        if (line !== undefined) results.set(n, JSON.parse(line) as { start: number; end: number; failed: number; lat: number[] });
        else if ((await api('GET', `/containers/${n}/json`) as { State: { Running: boolean } }).State.Running === false) throw new Error(`client ${n} ended without a result`);
      }
      cpu1 = cpuSeconds(child.pid!, false) ?? cpu1;
    }
    await api('POST', '/containers/create?name=stop', { Image: 'host', Cmd: ['/bin/sleep', '100000'], HostConfig: { NetworkMode: 'dnsbench' } });
    await api('POST', '/containers/stop/start');
    const exits = await Promise.all(names.map((n) => api('POST', `/containers/${n}/wait`) as Promise<{ StatusCode: number }>));
    const bad = exits.findIndex((e) => e.StatusCode !== 0);
    if (bad >= 0) throw new Error(`client ${names[bad]} exited with ${exits[bad]!.StatusCode}`);
    const all = [...results.values()];
    const lat = all.flatMap((r) => r.lat).sort((a, b) => a - b);
    const wallS = (Math.max(...all.map((r) => r.end)) - Math.min(...all.map((r) => r.start))) / 1000;
    const failed = all.reduce((s, r) => s + r.failed, 0);
    const out = {
      clients: o.clients, queriesPerClient: o.queries, cores: cpus().length, loadAverage1m: loadavg()[0] ?? NaN,
      answered: lat.length, failed, wallSeconds: wallS, queriesPerSecond: lat.length / wallS,
      latencyUs: { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat.at(-1) ?? NaN },
      skiffdCpuUsPerQuery: ((cpu1 - cpu0) * 1e6) / Math.max(1, lat.length + failed),
    };
    if (o.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    else {
      process.stdout.write(`skiff DNS benchmark: ${o.clients} client containers × ${o.queries} queries (one in flight each), ${out.cores} cores, load ${out.loadAverage1m.toFixed(2)}\n`
        + `answered ${out.answered}, failed ${failed}, ${out.queriesPerSecond.toFixed(0)} queries/s over ${wallS.toFixed(2)} s\n`
        + `latency p50 ${(out.latencyUs.p50 / 1000).toFixed(3)} ms, p99 ${(out.latencyUs.p99 / 1000).toFixed(3)} ms, max ${(out.latencyUs.max / 1000).toFixed(3)} ms\n`
        + `skiffd CPU ${out.skiffdCpuUsPerQuery.toFixed(1)} µs per query\n`);
    }
  } finally {
    for (const n of [...names, 'go', 'stop']) await request(socket, 'DELETE', `/containers/${n}?force=1`).catch(() => undefined);
    await request(socket, 'DELETE', '/networks/dnsbench').catch(() => undefined);
    await endChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench/dns', main);
