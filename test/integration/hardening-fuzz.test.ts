// Fuzz against a real skiffd: mutated `docker run` create bodies, mutated fleet bodies and
// raw-protocol abuse. Every request is answered (an answer still missing after 10 s is a stall),
// with 2xx or a 4xx JSON error that says what was wrong (never a 500, never a dropped connection
// for a well-formed request);
// what is created is removed (a fraction started first, running /bin/true in a busybox
// rootfs); and afterwards skiffd answers, holds no containers, has added no mounts, is back
// to its fds, has no children but its launchers, and its state dir is as it was.
// SKIFF_FUZZ_COUNT sets the number of inputs (`npm run fuzz` runs 10 000); SKIFF_FUZZ_SEED replays a run.
import { expect } from 'chai';
import { mkdirSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from '../../src/api/http-client.js';
import { parseFleet } from '../../src/compose/fleet.js';
import { fleetRequestBody } from '../../src/api/fleet-wire.js';
import { useDaemon, type DaemonView } from '../support/daemon.js';
import {
  FLEET_SEEDS, fuzzCount, fuzzSeed, mutateJson, mutateText, mutateYamlLines, NASTY_STRINGS, preview, randomJson, reproduce, Rng, Slowest, stopwatch,
} from '../support/fuzz.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';
import { TempDirs } from '../support/tmp.js';
import { until } from '../support/wait.js';

const SEED = fuzzSeed();
const COUNT = fuzzCount(300);
/** An answer still missing after this long is a stall, not a loaded machine's slow moment. */
const STALL_MS = 10_000;
/** Removing a started fleet stops and removes each of its replicas: more than one request's work. */
const CLEANUP_STALL_MS = 30_000;
/**
 * How long a raw exchange may go unanswered before it counts as "skiffd is waiting for the rest"
 * (mutated bytes are often an unfinished request); the test then half-closes and waits for the
 * close. Only the tally of outcomes depends on it, never a verdict.
 */
const RAW_ANSWER_WINDOW_MS = 1000;

/** What the docker CLI (28.x) sends for `docker run --rm host /bin/echo hi`. */
const DOCKER_RUN = {
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: true, AttachStderr: true, Tty: false, OpenStdin: false,
  StdinOnce: false, Env: null, Cmd: ['/bin/echo', 'hi'], Image: 'host', Volumes: {}, WorkingDir: '', Entrypoint: null, OnBuild: null,
  Labels: {},
  HostConfig: {
    Binds: null, ContainerIDFile: '', LogConfig: { Type: '', Config: {} }, NetworkMode: 'default', PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: true, VolumeDriver: '', VolumesFrom: null, ConsoleSize: [50, 200],
    CapAdd: null, CapDrop: null, CgroupnsMode: '', Dns: [], DnsOptions: [], DnsSearch: [], ExtraHosts: null, GroupAdd: null, IpcMode: '',
    Cgroup: '', Links: null, OomScoreAdj: 0, PidMode: '', Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false,
    SecurityOpt: null, UTSMode: '', UsernsMode: '', ShmSize: 0, Isolation: '', CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '',
    BlkioWeight: 0, BlkioWeightDevice: [], BlkioDeviceReadBps: [], BlkioDeviceWriteBps: [], BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [], CpuPeriod: 0, CpuQuota: 0, CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0, CpusetCpus: '', CpusetMems: '',
    Devices: [], DeviceCgroupRules: null, DeviceRequests: null, MemoryReservation: 0, MemorySwap: 0, MemorySwappiness: -1,
    OomKillDisable: false, PidsLimit: 0, Ulimits: [], CpuCount: 0, CpuPercent: 0, IOMaximumIOps: 0, IOMaximumBandwidth: 0,
    MaskedPaths: null, ReadonlyPaths: null,
  },
  NetworkingConfig: { EndpointsConfig: {} },
};

/** `docker run -ti -v /tmp:/data:ro --tmpfs /run:size=64m -e A=1 -w /tmp -h box --restart on-failure:3 --network host …` plus skiff's own fields. */
const DOCKER_RUN_FULL = {
  ...DOCKER_RUN,
  Hostname: 'box', AttachStdin: true, Tty: true, OpenStdin: true, StdinOnce: true, Env: ['A=1', 'B=two'], Cmd: ['/bin/sh', '-c', 'exit 0'],
  WorkingDir: '/tmp', Entrypoint: ['/bin/env'], Labels: { team: 'x' }, StopSignal: 'SIGINT', StopTimeout: 2,
  HostConfig: {
    ...DOCKER_RUN.HostConfig, Binds: ['/tmp:/data:ro'], Tmpfs: { '/run': 'size=64m,mode=1777' }, NetworkMode: 'host',
    RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 }, AutoRemove: false,
    Mounts: [{ Type: 'bind', Source: '/tmp', Target: '/more', ReadOnly: true }, { Type: 'tmpfs', Target: '/scratch' }],
  },
  Skiff: { Console: { buffer: 65536, log: true } },
};

const CREATE_KEYS = [...Object.keys(DOCKER_RUN_FULL), ...Object.keys(DOCKER_RUN.HostConfig), 'Tmpfs', 'Mounts', 'Type', 'Source',
  'Target', 'ReadOnly', 'Name', 'MaximumRetryCount', 'Rootfs', 'Console', 'buffer', 'log', 'logMax'];
const FLEET_KEYS = ['name', 'services', 'replicas', 'job', 'dependsOn', 'configHash', 'template', 'logDir', 'service', 'condition', 'command', 'env',
  'mounts', 'labels', 'console', 'restart', 'rootfs', 'image', 'hostname', 'stopSignal', 'stopTimeout', 'tty', 'network'];

interface Reply { status: number; body: unknown; text: string; ms: number }

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const message = (r: Reply): string => (isObj(r.body) && typeof r.body.message === 'string' ? r.body.message : '');

describe('fuzz: skiffd API (create bodies, fleet bodies, raw HTTP)', function () {
  this.timeout(Math.max(120_000, COUNT * 400));
  const d = useDaemon();
  const tmp = new TempDirs();
  let rootfs = '';
  let logDir = '';
  let baseline: DaemonView = { fds: [], mounts: [], processes: [], state: [] };
  const slowest = new Slowest();
  /** the input being sent, for the slowest-reply report */
  let current = -1;

  /** One request, abandoned (and reported) when it stalls: no answer after `stallMs`. */
  async function call(method: string, path: string, body?: string, stallMs = STALL_MS): Promise<Reply> {
    const elapsed = stopwatch();
    const stalled = new AbortController();
    const timer = setTimeout(() => stalled.abort(), stallMs);
    try {
      const r = await request(d.socket, method, path, { ...(body === undefined ? {} : { raw: body }), signal: stalled.signal });
      return { status: r.status, body: r.body, text: r.text, ms: elapsed() };
    } catch (err) {
      if (stalled.signal.aborted) throw new Error(`${method} ${path.slice(0, 100)} stalled: no answer after ${stallMs / 1000} s`);
      throw new Error(`${method} ${path.slice(0, 100)}: the connection failed (${(err as Error).message})`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What the inputs came to (`create 201`, `start 204`, `fleet 400` …), printed at the end. */
  const outcomes = new Map<string, number>();
  function tally(what: string): void {
    outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  }


  /** The reply to a fuzzed request: 2xx, or 4xx with a message; anything else is the failure's text. */
  function judge(r: Reply, what: string): string | null {
    slowest.note(r.ms, current, () => what);
    if (r.status >= 200 && r.status < 300) return null;
    if (r.status >= 400 && r.status < 500) {
      if (!message(r)) return `${what}: ${r.status} without a JSON message: ${r.text.slice(0, 200)}`;
      return null;
    }
    return `${what}: ${r.status} ${r.text.slice(0, 300)}`;
  }

  /** Console log paths are opened by skiffd on the host: point every one into a temp dir. */
  function safeLog(v: unknown, i: number): unknown {
    return typeof v === 'string' && v.startsWith('/') ? join(logDir, `log-${i}`) : v;
  }

  /** What a container that may be started runs: /bin/true in the busybox rootfs, whatever else the body says. */
  function startable(body: unknown): void {
    if (!isObj(body)) return;
    body.Image = 'host';
    const cmd = body.Cmd;
    if (Array.isArray(cmd) && cmd.length > 0 && cmd.every((a) => typeof a === 'string')) body.Cmd = ['/bin/true'];
    else if (typeof cmd === 'string') body.Cmd = '/bin/true';
    if (body.Entrypoint !== undefined) body.Entrypoint = null;
    if (!isObj(body.Skiff)) body.Skiff = {};
    (body.Skiff as Obj).Rootfs = rootfs;
  }

  function createBody(rng: Rng, i: number): { text: string; start: boolean } {
    const seed = rng.chance(0.5) ? DOCKER_RUN : DOCKER_RUN_FULL;
    const start = rng.chance(0.35);
    let body: unknown;
    const r = rng.int(20);
    if (r === 0) body = randomJson(rng, 3, { keys: CREATE_KEYS });
    else if (r <= 2) body = seed;
    else body = mutateJson(rng, seed, { keys: CREATE_KEYS });
    if (isObj(body) && isObj(body.Skiff) && isObj(body.Skiff.Console)) body.Skiff.Console.log = safeLog(body.Skiff.Console.log, i);
    if (start) startable(body);
    const text = JSON.stringify(body) ?? 'null';
    // Bytes mutated after serializing: only for bodies that will not be started (the
    // mutation could undo what makes a start safe).
    return { text: !start && rng.chance(0.2) ? mutateText(rng, text) : text, start };
  }

  function createPath(rng: Rng, i: number): string {
    if (rng.chance(0.85)) return `/containers/create?name=fz${i}`;
    const name = rng.pick([...NASTY_STRINGS.filter((s) => s.length < 300), 'constructor', '__proto__', 'toString', `/fz${i}`]);
    let q: string;
    try {
      q = encodeURIComponent(name);
    } catch {
      q = name.replace(/[^A-Za-z0-9]/g, '%');
    }
    return `/v1.41/containers/create?name=${q}${rng.chance(0.2) ? `&name=fz${i}` : ''}`;
  }

  async function fuzzCreate(rng: Rng, i: number): Promise<string | null> {
    const { text, start } = createBody(rng, i);
    const path = createPath(rng, i);
    const r = await call('POST', path, text);
    tally(`create ${r.status}`);
    const bad = judge(r, `POST ${path} ${preview(text, 200)}`);
    if (bad || r.status !== 201) return bad;
    const id = (r.body as { Id: string }).Id;
    if (start) {
      const s = await call('POST', `/containers/${id}/start`);
      tally(`start ${s.status}${s.status === 500 ? ` (${message(s).replace(/`[^`]*`/g, '…').slice(0, 60)})` : ''}`);
      // A start that fails at a launch operation is a 500 naming the operation and errno, as Docker's are.
      const launchFailure = s.status === 500 && isObj(s.body) && typeof s.body.message === 'string' && s.body.message !== '';
      const badStart = launchFailure ? null : judge(s, `start of ${preview(text, 200)}`);
      if (badStart) return badStart;
    }
    const del = await call('DELETE', `/containers/${id}?force=1`);
    if (del.status !== 204 && del.status !== 404) return `DELETE of ${id}: ${del.status} ${del.text.slice(0, 200)}`;
    return null;
  }

  /** A fleet body as the CLI would send it (a seed file parsed), renamed to be this input's own. */
  function fleetSeed(rng: Rng, i: number): Obj | null {
    const yaml = rng.chance(0.3) ? mutateYamlLines(rng, rng.pick(FLEET_SEEDS)) : rng.pick(FLEET_SEEDS);
    let fleet;
    try {
      fleet = parseFleet(yaml, 'fleet.yaml', { baseDir: '/srv' });
    } catch {
      return null;
    }
    const name = `fz${i}`;
    // Its services as the CLI sends them (one template each), under this input's own name.
    const { services } = fleetRequestBody({ ...fleet, name }) as { services: unknown[] };
    return { name, services: JSON.parse(JSON.stringify(services)) as unknown[] };
  }

  /** Every replica of an accepted fleet is started: make each run /bin/true in the busybox rootfs. */
  function safeFleet(body: unknown, i: number): void {
    if (!isObj(body) || !Array.isArray(body.services)) return;
    for (const s of body.services) {
      if (!isObj(s)) continue;
      if ('logDir' in s) s.logDir = safeLog(s.logDir, i);
      const t = s.template;
      if (!isObj(t)) continue;
      if (Array.isArray(t.command) && t.command.length > 0) t.command = ['/bin/true'];
      t.rootfs = rootfs;
      if ('image' in t) t.image = null;
      if (isObj(t.console)) t.console.log = safeLog(t.console.log, i);
    }
  }

  async function fuzzFleet(rng: Rng, i: number): Promise<string | null> {
    const seed = fleetSeed(rng, i) ?? { name: `fz${i}`, services: [] };
    const r0 = rng.int(10);
    const body = r0 === 0 ? randomJson(rng, 4, { keys: FLEET_KEYS }) : r0 <= 2 ? seed : mutateJson(rng, seed, { keys: FLEET_KEYS });
    safeFleet(body, i);
    let text = JSON.stringify(body) ?? 'null';
    if (rng.chance(0.15)) text = mutateText(rng, text); // refused or not, nothing it names can start: see below
    if (text !== JSON.stringify(body)) {
      // A byte mutation may have made a new valid fleet: make it safe too, or refuse to send it.
      try {
        const parsed: unknown = JSON.parse(text);
        safeFleet(parsed, i);
        text = JSON.stringify(parsed) ?? 'null';
      } catch { /* malformed JSON stays as it is: skiffd must say so */ }
    }
    const r = await call('POST', '/fleets', text);
    tally(`fleet ${r.status}`);
    const bad = judge(r, `POST /fleets ${preview(text, 200)}`);
    if (bad || r.status !== 202) return bad;
    const name = (r.body as { fleet: string }).fleet;
    const del = await call('DELETE', `/fleets/${encodeURIComponent(name)}`, undefined, CLEANUP_STALL_MS);
    if (del.status !== 200) return `DELETE /fleets/${name}: ${del.status} ${del.text.slice(0, 200)}`;
    return null;
  }

  /**
   * A raw exchange on a fresh connection: what came back, and how it ended. `answered`: the
   * responses expected came; `closed`: skiffd closed the connection first; `waiting`: neither
   * within RAW_ANSWER_WINDOW_MS (skiffd waits for the rest of a request), after which this side
   * half-closes and skiffd must answer or close; `stalled`: it did neither within STALL_MS.
   * Either way the exchange is over when this resolves: nothing it asked for is still being done.
   */
  function raw(bytes: string | Buffer, opts: { end?: boolean; responses?: number } = {}):
  Promise<{ text: string; closed: boolean; waiting: boolean; stalled: boolean; ms: number }> {
    return new Promise((resolve) => {
      const elapsed = stopwatch();
      const sock = connect(d.socket);
      let text = '';
      let waiting = false;
      let done = false;
      const finish = (closed: boolean, stalled = false) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        resolve({ text, closed, waiting, stalled, ms: elapsed() });
      };
      let timer = setTimeout(() => {
        waiting = true;
        sock.end();
        timer = setTimeout(() => finish(false, true), STALL_MS);
      }, RAW_ANSWER_WINDOW_MS);
      sock.on('connect', () => {
        sock.write(bytes);
        if (opts.end) sock.end();
      });
      sock.on('data', (b: Buffer) => {
        text += b.toString('latin1');
        if (!waiting && completeResponses(text) >= (opts.responses ?? 1)) finish(false);
      });
      sock.on('error', () => finish(true));
      sock.on('close', () => finish(true));
    });
  }

  /** How many whole responses `text` holds (bodies by Content-Length or chunked). */
  function completeResponses(text: string): number {
    let n = 0;
    let at = 0;
    for (;;) {
      const head = text.indexOf('\r\n\r\n', at);
      if (head < 0) return n;
      const headers = text.slice(at, head);
      const len = /\r\ncontent-length: (\d+)/i.exec(headers);
      let end: number;
      if (len) end = head + 4 + Number(len[1]);
      else if (/\r\ntransfer-encoding: chunked/i.test(headers)) {
        const last = text.indexOf('\r\n0\r\n\r\n', head);
        if (last < 0) return n;
        end = last + 7;
      } else end = head + 4; // no body (a bare error, a 204)
      if (end > text.length) return n;
      n++;
      at = end;
    }
  }

  const status = (text: string): number => Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);

  async function fuzzRaw(rng: Rng, i: number): Promise<string | null> {
    const valid = `POST /containers/create?name=fz${i} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`;
    const mutated = mutateText(rng, valid);
    const { text, closed, waiting, stalled, ms } = await raw(mutated, { end: rng.chance(0.5) });
    // Bytes that are not yet a whole request get no answer: that wait is ours, not skiffd's.
    if (!waiting) slowest.note(ms, i, () => `raw ${preview(mutated, 100)}`);
    // Whatever the bytes, skiffd answers with a status, or closes, or (for a request it is still
    // waiting for the rest of) waits until this side half-closes, then answers or closes: never
    // a 5xx, never a connection it holds on to.
    const st = status(text);
    tally(`raw ${st || (closed ? 'closed' : 'answered')}${waiting ? ' after a half-close' : ''}`);
    if (stalled) return `raw ${preview(mutated)}: stalled: the connection still open ${STALL_MS / 1000} s after a half-close`;
    if (st >= 500) return `raw ${preview(mutated)}: ${text.slice(0, 200)}`;
    if (text && st === 0) return `raw ${preview(mutated)}: an answer that is not HTTP: ${preview(text, 200)}`;
    if (st === 201) {
      const id = /"Id":"([0-9a-f]+)"/.exec(text)?.[1];
      if (id) await call('DELETE', `/containers/${id}?force=1`);
    }
    return null;
  }

  before(async () => {
    rootfs = buildBusyboxRootfs(tmp.make('fuzz-rootfs'));
    // skiff creates no mount points for binds (tmpfs only): give the seed's bind targets theirs, so its starts get past them.
    for (const dir of ['data', 'more']) mkdirSync(join(rootfs, dir));
    logDir = tmp.make('fuzz-logs');
    // Warm up what skiffd opens once and keeps (launchers, forwarder threads) before the baseline.
    const c = await call('POST', '/containers/create?name=warm', JSON.stringify({ Image: 'host', Cmd: ['/bin/true'], Skiff: { Rootfs: rootfs } }), 10_000);
    expect(c.status, c.text).to.equal(201);
    expect((await call('POST', '/containers/warm/start', undefined, 10_000)).status).to.equal(204);
    await call('POST', '/containers/warm/wait', undefined, 10_000);
    expect((await call('DELETE', '/containers/warm?force=1', undefined, 10_000)).status).to.equal(204);
    await until(() => d.children().length === 0, 'the warm-up container to be gone');
    baseline = await d.settledView();
  });

  after(() => {
    tmp.removeAll();
    console.log(`      seed ${SEED}; slowest reply ${slowest.toString()}`);
  });

  it(`${COUNT} mutated create bodies, fleet bodies and raw requests: each answered, never a 5xx`, async () => {
    const failures: string[] = [];
    const counts = { create: 0, fleet: 0, raw: 0 };
    const total = stopwatch();
    for (let i = 0; i < COUNT && failures.length < 10; i++) {
      const rng = Rng.forInput(SEED, i);
      current = i;
      const kind = rng.int(10);
      try {
        let bad: string | null;
        if (kind < 7) { counts.create++; bad = await fuzzCreate(rng, i); }
        else if (kind < 9) { counts.fleet++; bad = await fuzzFleet(rng, i); }
        else { counts.raw++; bad = await fuzzRaw(rng, i); }
        if (bad) failures.push(`${reproduce(SEED, i)}: ${bad}`);
      } catch (err) {
        failures.push(`${reproduce(SEED, i)}: ${(err as Error).message}`);
      }
      if (failures.length > 0 && d.child?.exitCode !== null) break; // skiffd died: nothing more to learn
    }
    console.log(`      outcomes: ${[...outcomes].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}`);
    console.log(`      ${COUNT} inputs (${counts.create} creates, ${counts.fleet} fleets, ${counts.raw} raw) in ${(total() / 1000).toFixed(1)} s`);
    expect(failures, `\n  ${failures.join('\n  ')}\n${d.log().slice(-2000)}`).to.deep.equal([]);
  });

  describe('raw HTTP abuse: an answer or a close, never a 5xx', () => {
    const cases: [string, string | Buffer, RegExp | null, { end?: boolean; responses?: number }?][] = [
      ['a garbage request line', 'GARBAGE\r\n\r\n', /^HTTP\/1\.1 400 /],
      ['a request line of NUL bytes', Buffer.alloc(64), /^HTTP\/1\.1 400 /],
      ['a non-numeric Content-Length', 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}', /^HTTP\/1\.1 400 /],
      ['a negative Content-Length', 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}', /^HTTP\/1\.1 400 /],
      ['two different Content-Lengths', 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', /^HTTP\/1\.1 400 /],
      ['Content-Length with chunked', 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n', /^HTTP\/1\.1 400 /],
      ['chunked garbage', 'POST /containers/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n', /^HTTP\/1\.1 400 /],
      ['a chunk size past 2^64', 'POST /containers/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n', /^HTTP\/1\.1 400 /],
      // 431, as Node itself would answer (skiffd's clientError handler maps the parser's error)
      ['a header block over 16 KiB', `GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
      ['a thousand small headers', `GET /_ping HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 1000 }, (_, k) => `X-${k}: y\r\n`).join('')}\r\n`, /^HTTP\/1\.1 200 /],
      ['a request line over 16 KiB', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 (400|414|431) /],
      ['an unparseable absolute-form target', 'GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400 /],
      ['broken percent-encoding in a container path', 'GET /containers/%E0%A4%A/json HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400 /],
      ['broken percent-encoding in a fleet path', 'GET /fleets/%ZZ%E0 HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400 /],
      ['an unknown method', 'BREW /_ping HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400 /],
      ['HTTP/0.9 (llhttp reads it as 1.x)', 'GET /_ping\r\n\r\n', /^HTTP\/1\.1 (200|400) /],
      ['an unterminated body, half-closed', 'POST /containers/create?name=cut HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"Image":', null, { end: true }],
      ['unterminated chunks, half-closed', 'POST /containers/create?name=cut HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"Ima', null, { end: true }],
      ['JSON nested 200 000 deep', `POST /containers/create?name=deep HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n${'['.repeat(200_000)}${']'.repeat(200_000)}`, /^HTTP\/1\.1 400 /],
      ['an ignored Docker field nested 10 000 deep', (() => {
        const body = `{"Image":"host","Cmd":["/bin/true"],"Domainname":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
        return `POST /containers/create?name=deep HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      })(), /^HTTP\/1\.1 400 /],
      ['a fleet body nested 10 000 deep', (() => {
        const body = `{"name":"deep","services":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
        return `POST /fleets HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      })(), /^HTTP\/1\.1 400 /],
      ['two pipelined requests', 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 200 [^]*HTTP\/1\.1 404 /, { responses: 2 }],
      ['HTTP/1.0 without Host', 'GET /_ping HTTP/1.0\r\n\r\n', /^HTTP\/1\.1 200 /],
    ];
    for (const [what, bytes, expected, opts] of cases) {
      it(what, async () => {
        const r = await raw(bytes, opts);
        slowest.note(r.ms, -1, () => `raw: ${what}`);
        expect(r.stalled, 'the connection stalled').to.equal(false);
        expect(status(r.text), r.text.slice(0, 300)).to.be.below(500);
        if (expected) expect(r.text, r.text.slice(0, 300)).to.match(expected);
        else expect(r.closed || status(r.text) >= 400, `neither an answer nor a close: ${r.text.slice(0, 200)}`).to.equal(true);
      });
    }

    it('an unterminated body left open is held without a reply, and let go when the client goes', async () => {
      const fds = (): number => readdirSync(`/proc/${d.pid}/fd`).length;
      const before = fds();
      const sock = connect(d.socket);
      let text = '';
      sock.on('data', (b: Buffer) => { text += b.toString('latin1'); });
      let closed = false;
      sock.on('close', () => { closed = true; });
      await new Promise<void>((resolve) => sock.on('connect', resolve));
      await new Promise<void>((resolve) => sock.write('POST /containers/create?name=held HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"Image":', () => resolve()));
      // A request sent after those bytes, on another connection, is answered only after skiffd
      // has read them: then whatever it would answer to them it would have answered.
      expect((await call('GET', '/_ping')).text).to.equal('OK');
      expect([text, closed]).to.deep.equal(['', false]);
      sock.destroy();
      await until(() => fds() <= before, 'skiffd to let go of the connection');
    });
  });

  // A describe of its own: mocha runs a suite's tests before its child suites, and this one comes last.
  describe('afterwards', () => it('skiffd answers, with no containers, no new mounts, its fds and children as before, its state dir as it was', async () => {
    expect((await call('GET', '/_ping')).text).to.equal('OK');
    await until(async () => ((await call('GET', '/containers/json?all=1')).body as unknown[]).length === 0, 'every container to be gone', 15_000)
      .catch(async () => expect.fail(`containers left: ${(await call('GET', '/containers/json?all=1')).text.slice(0, 1000)}`));
    // Exits, removals and closed connections settle asynchronously: a real leak persists.
    const settled = () => {
      const now = d.view();
      const same = (['fds', 'mounts', 'state'] as const).every((k) => JSON.stringify(now[k]) === JSON.stringify(baseline[k]));
      return same && d.children().length === 0 && d.zombies().length === 0 ? now : null;
    };
    await until(settled, 'skiffd to settle', 15_000).catch(() => undefined);
    const now = d.view();
    expect(now.mounts, 'skiffd\'s mounts').to.deep.equal(baseline.mounts);
    expect(now.state, 'the state dir').to.deep.equal(baseline.state);
    expect(now.fds, 'skiffd\'s open fds').to.deep.equal(baseline.fds);
    expect(d.children(), 'processes under skiffd other than launchers').to.deep.equal([]);
    expect(d.zombies(), 'zombies under skiffd').to.deep.equal([]);
  }));
});
