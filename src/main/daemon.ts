// skiffd wired together: state store, launcher pool, reaper, supervisor, consoles, API server.
import { chmodSync, closeSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, realpathSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { createServer, request, ServerResponse, type Server } from 'node:http';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import type { Socket } from 'node:net';
import { Api, type ConsoleAccess, type Extensions } from './http/api.js';
import { LeanHttp } from './http/lean.js';
import { Supervisor, type ConsoleService } from './lifecycle/supervisor.js';
import { EventBus } from './events.js';
import { LauncherPool } from './lifecycle/launcher-pool.js';
import { log } from './log.js';
import { Metrics } from './metrics.js';
import { Reaper } from './lifecycle/reaper.js';
import { StateStore } from './lifecycle/state-store.js';
import { recordLaunchers, waitForOldLaunchers } from './lifecycle/old-launchers.js';
import { injectedExecFailure, injectedFailure } from './test-hooks.js';
import { NetworkManager, type NetworkOptions } from './networks/manager.js';
import { NetworkStore } from './networks/store.js';
import { NetworksApi } from './networks/routes.js';
import { imageForRun } from './images/lookup.js';
import { ImageStore } from './images/store.js';
import { Puller } from './images/puller.js';
import { CredentialStore } from './images/auths.js';
import { peerCredentials, raiseSoftLimit, tryLockExclusive } from '../sys/libc.js';
import { RLIMIT_NOFILE } from '../sys/constants.js';
import { Cgroups } from './cgroups/cgroups.js';
import { detectLayout } from './cgroups/layout.js';
import { ExecManager } from './exec/manager.js';
import { ExecApi } from './exec/routes.js';
import { HealthMonitor } from './health/monitor.js';
import { listenOwnerOnly } from '../sys/unix-listen.js';

export interface DaemonOptions {
  socket: string;
  stateDir: string;
  launchers?: number;
  maxQueued?: number;
  startTimeoutMs?: number;
  consoles?: (ConsoleService & ConsoleAccess) | null;
  extensions?: (d: Daemon) => Extensions[];
  /** the container lifecycle's hot requests answered on the socket, without Node's HTTP server (default true; http/lean.ts) */
  leanHttp?: boolean;
  /** a client must send a request's headers within this (default 10 s) */
  headersTimeoutMs?: number;
  /** and its whole body within this (default 60 s); answers may stream for as long as they last */
  requestTimeoutMs?: number;
  /** bridge networks: the default network's subnet, the upstream resolvers */
  networks?: NetworkOptions;
  /** the network of a Docker API create that names none (default bridge, as Docker's; none is the opt-out) */
  dockerDefaultNetwork?: 'none' | 'bridge';
  /** registries (host:port) reached over plain HTTP; loopback ones always are */
  insecureRegistries?: string[];
  /** honour test-only labels (skiff.test.fail-at); never set outside tests */
  testHooks?: boolean;
  /** the cgroup every container's cgroup goes under, in each hierarchy (default `skiff`) */
  cgroupParent?: string;
  /** how a container's cgroup is killed whole: auto (cgroup.kill where the kernel has it) or the freezer (src/main/cgroups/kill.ts) */
  cgroupKill?: 'auto' | 'freezer';
  /** the pids limit of a container that sets none (default: none) */
  defaultPidsLimit?: number | null;
  /** health probes running at once (default the cores: half the launchers) */
  maxHealthProbes?: number;
}

/** Is something answering on this socket? */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: path, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * One skiffd per state directory: two would adopt the same containers and unlink each
 * other's socket. The lock is an flock on `.skiffd/lock`, which the kernel drops when the
 * process dies however it dies, so there is no stale lock to clean up; the file holds the
 * holder's pid for the error message. The fd is close-on-exec: launchers and containers never hold it.
 */
function lockStateDir(store: StateStore): number {
  const path = store.privatePath('lock');
  const fd = openSync(path, 'a+', 0o600);
  if (!tryLockExclusive(fd, path)) {
    const holder = readFileSync(path, 'utf8').trim();
    closeSync(fd);
    throw new Error(`another skiffd${/^\d+$/.test(holder) ? ` (pid ${holder})` : ''} is using the state directory \`${store.root}\``);
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`);
  return fd;
}

/** The host's cgroups, detected once; a host without them runs containers without limits. */
function openCgroups(parent: string, kill: 'auto' | 'freezer'): Cgroups | null {
  let layout;
  try {
    layout = detectLayout();
  } catch (err) {
    log('warn', 'no cgroups: containers run without limits', { error: (err as Error).message });
    return null;
  }
  return new Cgroups(layout, parent, { kill });
}

export class Daemon {
  readonly store: StateStore;
  readonly events = new EventBus();
  readonly metrics = new Metrics();
  readonly reaper: Reaper;
  readonly pool: LauncherPool;
  readonly supervisor: Supervisor;
  readonly networks: NetworkManager;
  /** pulled and loaded images, `<state>/images` (src/main/images) */
  readonly images: ImageStore;
  /** pulls for every caller: insecure registries, saved logins (src/main/images/puller.ts) */
  readonly pulls: Puller;
  readonly nofile: number;
  /** null on a host without cgroups: containers then run unlimited, and limits are refused */
  readonly cgroups: Cgroups | null;
  /** execs into running containers (docker exec) and the probe interface (execs.runProbe) */
  readonly execs: ExecManager;
  /** health checks of running containers (src/main/health) */
  readonly health: HealthMonitor;
  private server: Server | null = null;
  private lean: LeanHttp | null = null;
  /** held (flock) for the daemon's life: one skiffd per state directory */
  private lockFd: number;

  constructor(readonly opts: DaemonOptions) {
    this.nofile = raiseSoftLimit(RLIMIT_NOFILE);
    this.store = new StateStore(opts.stateDir, (what, err) => log('error', 'state directory cleanup failed', { what, error: err.message }));
    this.lockFd = lockStateDir(this.store);
    this.reaper = new Reaper();
    const rootMount = this.store.privatePath('root');
    mkdirSync(rootMount, { recursive: true, mode: 0o755 });
    // A previous skiffd's launchers finish the starts they were in when it died; restore then finds their PID 1s.
    const launchersFile = this.store.privatePath('launchers');
    waitForOldLaunchers(launchersFile, opts.startTimeoutMs ?? 30_000);
    // Twice the cores: while one launcher's reply waits for skiffd's event loop, another launches.
    const size = opts.launchers ?? 2 * availableParallelism();
    this.pool = new LauncherPool(size, opts.startTimeoutMs ?? 30_000, {
      onRestart: (index, reason) => {
        this.metrics.launcherRestarts++;
        log('warn', 'launcher worker replaced', { index, reason });
        recordLaunchers(launchersFile, this.pool.pids());
      },
    });
    recordLaunchers(launchersFile, this.pool.pids());
    this.networks = new NetworkManager(new NetworkStore(this.store.privatePath('networks')), opts.networks ?? {});
    this.cgroups = openCgroups(opts.cgroupParent ?? 'skiff', opts.cgroupKill ?? 'auto');
    this.supervisor = new Supervisor({
      networks: this.networks,
      cgroups: this.cgroups,
      defaultPidsLimit: opts.defaultPidsLimit ?? null,
      stateStore: this.store,
      pool: this.pool,
      reaper: this.reaper,
      events: this.events,
      metrics: this.metrics,
      consoles: opts.consoles ?? null,
      maxQueued: opts.maxQueued ?? 4096,
      rootMount,
      hide: [realpathSync(this.store.root)],
      ...(opts.testHooks ? { startOptions: injectedFailure } : {}),
    });
    this.execs = new ExecManager({
      supervisor: this.supervisor, pool: this.pool, reaper: this.reaper, consoles: opts.consoles ?? null, events: this.events,
      ...(opts.testHooks ? { execOptions: injectedExecFailure } : {}),
    });
    this.supervisor.addProcesses(this.execs);
    this.health = new HealthMonitor({
      supervisor: this.supervisor,
      events: this.events,
      metrics: this.metrics,
      // Each probe is an exec in the container, killed at its timeout (src/main/exec/probe.ts).
      runProbe: this.execs.runProbe,
      ...(opts.maxHealthProbes ? { maxInFlight: opts.maxHealthProbes } : {}),
    });
    // What containers use of the images: the image (rmi refuses) and its layers (never deleted).
    // Beside the socket and lock, where no container name can reach.
    this.images = new ImageStore(this.store.privatePath('images'), () => {
      const images = new Set<string>();
      const layerDirs = new Set<string>();
      for (const r of this.supervisor.list()) {
        if (r.spec.fromImage === null) continue;
        images.add(r.spec.fromImage.id);
        for (const l of r.spec.fromImage.layers) layerDirs.add(l);
      }
      return { images, layerDirs };
    });
    this.pulls = new Puller(this.images, new Set(opts.insecureRegistries ?? []), new CredentialStore(this.store.privatePath('auths.json')));
  }

  /**
   * The socket's inode lives in the state directory, which every container has masked: a
   * container that can see the configured path (`--rootfs host`, a bind mount of its
   * directory) finds only a symlink to a place it cannot reach. A socket bound at the
   * configured path itself could only be masked by a mount on that file, and a restarted
   * skiffd's new socket (a new inode at the same path) would show through in containers
   * started before it.
   */
  private socketPaths(): { configured: string; real: string } {
    const configured = this.opts.socket;
    const real = this.store.privatePath('api.sock');
    // sun_path is 108 bytes with its NUL; Node would refuse it less clearly.
    if (Buffer.byteLength(real) > 107) {
      throw new Error(`the state directory \`${this.store.root}\` is too deep: its socket \`${real}\` is longer than the 107 bytes a unix socket address holds`);
    }
    return { configured, real };
  }

  /** Removes a socket (or our symlink to one) left by a daemon that died; refuses if one answers. */
  private async clearStale(path: string): Promise<void> {
    if (!lexists(path)) return;
    if (await socketAnswers(path)) throw new Error(`another daemon already answers on ${path}`);
    unlinkSync(path);
  }

  async listen(): Promise<void> {
    const { configured, real } = this.socketPaths();
    mkdirSync(dirname(configured), { recursive: true, mode: 0o755 });
    await this.clearStale(configured);
    await this.clearStale(real);
    // The console keeper first: the consoles it kept across a restart belong to the containers restored next.
    const kept = await this.opts.consoles?.connect?.() ?? [];
    await this.supervisor.restore();
    await this.supervisor.adoptConsoles(kept);
    this.health.resume();
    await this.networks.restore(this.supervisor.list());
    for (const r of this.supervisor.list()) if (r.status === 'running') this.networks.running(r);
    this.images.open();
    await this.pool.ready();
    const api = new Api({
      supervisor: this.supervisor,
      events: this.events,
      metrics: this.metrics,
      consoles: this.opts.consoles ?? null,
      extensions: [...(this.opts.extensions?.(this) ?? []), new NetworksApi(this.networks, (ref) => this.supervisor.get(ref)), new ExecApi(this.execs)],
      execIdsOf: (id) => this.execs.idsOf(id),
      dockerDefaultNetwork: this.opts.dockerDefaultNetwork ?? 'bridge',
      endpointOf: (r) => this.networks.endpointInfo(r.spec),
      cgroups: this.cgroups,
      images: (name) => imageForRun(this.images, name),
    });
    // Bounds on what a client may hold: 16 KiB of headers, sent within headersTimeout; the
    // body within requestTimeout (attach streams are upgrades, outside this count; a follow
    // stream is a response, which has no limit); an idle keep-alive connection for 5 s. The
    // timeouts are checked every second (Node's default is every 30 s).
    const headersTimeout = this.opts.headersTimeoutMs ?? 10_000;
    const server = createServer({
      maxHeaderSize: 16 * 1024,
      headersTimeout,
      requestTimeout: Math.max(this.opts.requestTimeoutMs ?? 60_000, headersTimeout),
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: 1_000,
    }, (req, res) => {
      void api.handle(req, res);
    });
    // Node's own connection listener (the one its constructor added) is called only for a
    // connection the lean path hands over (lean.ts): the container lifecycle's hot requests are
    // answered without it.
    const nodeConnection = server.listeners('connection')[0] as (sock: Socket) => void;
    server.removeListener('connection', nodeConnection);
    const handOff = (sock: Socket) => nodeConnection.call(server, sock);
    const lean = this.opts.leanHttp === false ? null : new LeanHttp(api, handOff, {
      maxHeaderSize: 16 * 1024, headersTimeoutMs: headersTimeout, requestTimeoutMs: Math.max(this.opts.requestTimeoutMs ?? 60_000, headersTimeout),
      keepAliveTimeoutMs: 5_000, checkEveryMs: 1_000,
    });
    this.lean = lean;
    // The socket is 0600 already; the kernel's word on who connected is the second lock.
    server.on('connection', (sock: Socket) => {
      const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (fd === undefined || fd < 0) return;
      try {
        const peer = peerCredentials(fd);
        if (peer.uid !== 0 && peer.uid !== process.getuid?.()) {
          log('warn', 'refused a connection from another user', { uid: peer.uid, pid: peer.pid });
          sock.destroy();
          return;
        }
      } catch (err) {
        log('warn', 'could not read peer credentials', { error: (err as Error).message });
        sock.destroy();
        return;
      }
      if (lean) lean.adopt(sock);
      else handOff(sock);
    });
    server.on('clientError', (err: NodeJS.ErrnoException, sock) => {
      if (!sock.writable) return;
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      sock.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    // Docker clients send attach as an HTTP upgrade: hand it to the same router.
    server.on('upgrade', (req, sock, head: Buffer) => {
      // What came after the headers (a body, the stream's first bytes) is read from the socket again.
      if (head.length > 0) sock.unshift(head);
      const res = new ServerResponse(req);
      // The parser has let go of this socket: whatever we answer, it is the last thing on it.
      res.shouldKeepAlive = false;
      res.on('finish', () => sock.end());
      res.assignSocket(sock as import('node:net').Socket);
      void api.handle(req, res);
    });
    await listenOwnerOnly(server, real); // the socket is created 0600: root's alone
    chmodSync(real, 0o600);
    if (configured !== real) symlinkSync(real, configured);
    this.server = server;
    log('info', 'skiffd listening', { socket: configured, stateDir: this.opts.stateDir, launchers: this.pool.size, nofile: this.nofile });
  }

  /** The configured path, if it is still our symlink (server.close() unlinks the socket itself). */
  private removeSymlink(): void {
    const { configured, real } = this.socketPaths();
    if (configured === real) return;
    try {
      if (readlinkSync(configured) === real) unlinkSync(configured);
    } catch {
      // gone or replaced: not ours to remove
    }
  }

  async close(): Promise<void> {
    const listening = this.server !== null;
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      this.lean?.closeAll();
    });
    if (listening) this.removeSymlink();
    this.health.close();
    await this.supervisor.shutdown();
    this.store.drainTrash();
    await this.networks.close();
    await this.pool.close();
    this.reaper.close();
    this.cgroups?.close();
    if (this.lockFd >= 0) closeSync(this.lockFd);
    this.lockFd = -1;
  }
}
