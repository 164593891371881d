// skiff fleet up|down|status|ls: fleet files, read here (relative paths are relative to the
// file) and sent to skiffd, which reconciles (src/main/fleets/routes.ts).
//
//   skiff fleet up FILE [--wait] [--wait-timeout SECONDS] [--json]
//                                           create what is missing, replace what changed,
//                                           remove what is no longer declared; --wait also
//                                           waits for every job (x-skiff.job) to exit and
//                                           every health check to pass or fail, for at most
//                                           --wait-timeout seconds (which implies --wait)
//   skiff fleet down FILE | --name NAME     stop and remove every container of the fleet
//   skiff fleet status FILE [--json]        per service: desired, running, health, exited by code, failed
//   skiff fleet ls [--json]                 the fleets skiffd knows
//
// Exit status: 0 ok; 1 something failed (a container did not start; with --wait, a job did not
// exit 0 or a container is unhealthy, or --wait-timeout passed, the fleet left up; skiffd refused); 2 usage errors and bad fleet files — a
// file that does not parse is wrong input, like a wrong flag, and nothing was started. Progress
// goes to stderr (redrawn in place on a terminal, a line every 2 s otherwise), results to stdout.
import { Command } from 'commander';
import type { Fleet } from '../compose/fleet.js';
// Types only: the CLI loads none of skiffd's modules, it only speaks its API.
import type { FleetCounts, FleetListEntry, FleetView, OperationView, PlanCounts } from '../api/fleets.js';
import { call, DaemonError } from './client.js';
import { fleetRequestBody } from '../api/fleet-wire.js';
import { exitedTotal, formatExited, Progress, seconds } from './fleet-progress.js';
import { consoleTails, formatSummary, summarize } from './fleet-summary.js';
import { hasHealth, notReady, parseWaitTimeout } from './fleet-wait.js';
import { formatTable } from './table.js';
import { act, type Declared, type Outcome } from './command.js';

const USAGE = `usage: skiff fleet up FILE [--wait] [--wait-timeout SECONDS] [--json]
       skiff fleet down FILE | --name NAME
       skiff fleet status FILE [--json]
       skiff fleet ls [--json]`;

/** Wrong input: exit 2, printed `skiff fleet: …` with the fleet usage (see reported()). */
class FleetUsageError extends Error {}
/** A fleet file that does not parse: also exit 2; its message already says where. */
class BadFleetFile extends FleetUsageError {}

/** Polls start fast (a small fleet is up in a few tens of ms) and slow down to this. */
const POLL_FIRST_MS = 25;
const POLL_TTY_MS = 100;
const POLL_PLAIN_MS = 500;

function poller(tty: boolean): () => Promise<void> {
  let ms = POLL_FIRST_MS;
  return async () => {
    await sleep(ms);
    ms = Math.min(ms * 2, tty ? POLL_TTY_MS : POLL_PLAIN_MS);
  };
}

function fileArg(file: string | undefined, sub: string): string {
  if (file === undefined) throw new FleetUsageError(`${sub} needs exactly one FILE, got 0\n${USAGE}`);
  return file;
}

async function load(file: string): Promise<Fleet> {
  // Loaded on use: the YAML parser would add ~100 ms to every other skiff command's start-up.
  const { FleetError, loadFleetFile } = await import('../compose/fleet.js');
  try {
    return await loadFleetFile(file);
  } catch (err) {
    // The message is the whole story (`file:line:col field: reason`): no prefix of ours.
    if (err instanceof FleetError) throw new BadFleetFile(err.message, { cause: err });
    throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Which containers a view lists (src/main/fleets/view.ts): all, none, or those a summary reports on. */
type Containers = 'all' | 'none' | 'not-running';
const CONTAINERS_QUERY: Record<Containers, string> = { all: '', none: '?containers=0', 'not-running': '?containers=not-running' };

async function getView(name: string, containers: Containers): Promise<FleetView | null> {
  try {
    return (await call('GET', `/fleets/${encodeURIComponent(name)}${CONTAINERS_QUERY[containers]}`)).body as FleetView;
  } catch (err) {
    if (err instanceof DaemonError && err.status === 404) return null;
    throw err;
  }
}

function started(c: FleetCounts): number {
  return c.running + c.restarting + exitedTotal(c);
}

/** The counts of the named services only. */
function countsOf(v: FleetView, names: ReadonlySet<string>): FleetCounts {
  const c: FleetCounts = { desired: 0, created: 0, queued: 0, starting: 0, running: 0, restarting: 0, exited: {}, failed: 0, removing: 0, healthStarting: 0, healthy: 0, unhealthy: 0 };
  for (const s of v.services) {
    if (!names.has(s.name)) continue;
    c.desired += s.desired; c.created += s.created; c.queued += s.queued; c.starting += s.starting;
    c.running += s.running; c.restarting += s.restarting; c.failed += s.failed; c.removing += s.removing;
    c.healthStarting += s.healthStarting; c.healthy += s.healthy; c.unhealthy += s.unhealthy;
    for (const [code, n] of Object.entries(s.exited)) c.exited[code] = (c.exited[code] ?? 0) + n;
  }
  return c;
}

function containerCount(v: FleetView): number {
  const t = v.totals;
  return t.created + t.queued + t.starting + t.running + t.restarting + t.failed + t.removing + exitedTotal(t);
}

async function up(file: string | undefined, values: { wait?: boolean; waitTimeout?: string; json?: boolean }): Promise<number> {
  let timeoutMs = Infinity;
  if (values.waitTimeout !== undefined) {
    const t = parseWaitTimeout(values.waitTimeout);
    if ('error' in t) throw new FleetUsageError(`${t.error}\n${USAGE}`);
    timeoutMs = t.ms;
    values.wait = true;
  }
  const fleet = await load(fileArg(file, 'up'));
  const tty = process.stderr.isTTY === true;
  const progress = new Progress(process.stderr, tty);
  const accepted = (await call('POST', '/fleets', fleetRequestBody(fleet))).body as { operation: number; plan: PlanCounts };
  /** Is this still our operation's fleet? Another `up` or a `down` may have taken over. */
  const ours = (v: FleetView | null): v is FleetView & { operation: OperationView } => v?.operation?.id === accepted.operation;
  const deadline = Date.now() + timeoutMs;
  const jobs = new Set(fleet.services.filter((s) => s.job).map((s) => s.name));
  const checked = new Set(fleet.services.filter((s) => !s.job && s.specs.some((spec) => spec.healthcheck !== null)).map((s) => s.name));
  /** --wait-timeout passed: what is not ready, and exit 1 with the fleet left as it is (as Compose leaves it). */
  const timedOut = async (): Promise<number> => {
    progress.finish();
    const full = await getView(fleet.name, 'none');
    const late = full ? notReady(full, jobs, checked) : [];
    process.stderr.write(`skiff: fleet ${fleet.name} is not ready after --wait-timeout ${values.waitTimeout}s (it is left up):\n${late.map((l) => `  ${l}\n`).join('')}`);
    return 1;
  };
  const superseded = (): number => {
    progress.finish();
    process.stderr.write(`skiff: fleet ${fleet.name} was changed by another \`fleet up\` or \`fleet down\` meanwhile; its result is theirs\n`);
    return 1;
  };

  // The summary lists the containers that are not running (the failures among them); --json, every one.
  const listed: Containers = values.json ? 'all' : 'not-running';
  // 1. Until skiffd has done what the plan says. The first look lists the containers too: when
  // nothing was to be done, it is the last look, and the summary needs no other request.
  let v: FleetView | null;
  let last: FleetView | null = null;
  for (const pause = poller(tty); ; await pause()) {
    v = await getView(fleet.name, last === null && !values.wait ? listed : 'none');
    if (!ours(v)) return superseded();
    progress.update(fleet.name, v.totals, started(v.totals), v.totals.desired, 'started');
    if (v.operation.state !== 'running') break;
    last = v;
    if (Date.now() >= deadline) return timedOut();
  }
  progress.finish();
  // Listed, and not looked at again since.
  const final = last === null && !values.wait ? v : null;

  // 2. With --wait, until every job has ended.
  if (values.wait && jobs.size > 0) {
    for (const pause = poller(tty); ; await pause()) {
      v = await getView(fleet.name, 'none');
      if (!ours(v)) return superseded();
      const c = countsOf(v, jobs);
      const ended = exitedTotal(c) + c.failed;
      progress.update(`${fleet.name} jobs`, c, ended, c.desired, 'finished');
      if (c.created + c.queued + c.starting + c.running + c.restarting === 0) break;
      if (Date.now() >= deadline) return timedOut();
    }
    progress.finish();
  }

  // 3. With --wait, until every health check has passed or failed (the replicas of services
  // that have one, in the file or from their image; a job's exit was waited for above).
  for (const s of v.services) if (!jobs.has(s.name) && hasHealth(s)) checked.add(s.name);
  if (values.wait && checked.size > 0) {
    for (const pause = poller(tty); ; await pause()) {
      v = await getView(fleet.name, 'none');
      if (!ours(v)) return superseded();
      const c = countsOf(v, checked);
      progress.update(`${fleet.name} health`, c, c.healthy + c.unhealthy, c.running, 'decided');
      if (c.healthStarting + c.queued + c.starting === 0) break;
      if (Date.now() >= deadline) return timedOut();
    }
    progress.finish();
  }

  const full = final ?? await getView(fleet.name, listed);
  if (!full) throw new Error(`fleet ${fleet.name} disappeared before its summary could be read`);
  const summary = summarize(full, accepted.plan, progress.elapsedMs(), values.wait ? jobs : null, values.wait ? checked : null);
  const ttys = new Map(fleet.services.flatMap((s) => s.specs.map((spec) => [spec.name, spec.tty] as const)));
  await consoleTails(summary, (name) => ttys.get(name) ?? false);
  process.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
  return summary.ok ? 0 : 1;
}

async function down(file: string | undefined, values: { name?: string }): Promise<number> {
  if (values.name !== undefined && file !== undefined) throw new FleetUsageError(`down takes FILE or --name NAME, not both\n${USAGE}`);
  const name = values.name ?? (await load(fileArg(file, 'down'))).name;
  const tty = process.stderr.isTTY === true;
  const progress = new Progress(process.stderr, tty);
  const t0 = performance.now();
  let finished = false;
  const request = call('DELETE', `/fleets/${encodeURIComponent(name)}`).finally(() => { finished = true; });
  // The DELETE answers when everything is gone; meanwhile show what is left.
  const before = await getView(name, 'none');
  const total = before ? containerCount(before) : 0;
  for (const pause = poller(tty); !finished; await Promise.race([request.catch(() => undefined), pause()])) {
    const v = await getView(name, 'none');
    if (v) progress.update(name, v.totals, total - containerCount(v), total, 'removed');
  }
  progress.finish();
  let result: { removed: number; errors: { name: string; error: string }[] };
  try {
    result = (await request).body as typeof result;
  } catch (err) {
    if (err instanceof DaemonError && err.status === 404) {
      process.stdout.write(`${name}: no such fleet, nothing to remove\n`);
      return 0;
    }
    throw err;
  }
  process.stdout.write(`${name}: removed ${result.removed} containers (${seconds(performance.now() - t0)})\n`);
  for (const e of result.errors) process.stdout.write(`  ${e.name}: ${e.error}\n`);
  return result.errors.length === 0 ? 0 : 1;
}

async function status(file: string | undefined, values: { json?: boolean }): Promise<number> {
  const fleet = await load(fileArg(file, 'status'));
  const v = await getView(fleet.name, values.json ? 'all' : 'none');
  // Desired is what the file says now; the counts are what skiffd has.
  const services = fleet.services.map((s) => ({ ...(v?.services.find((x) => x.name === s.name) ?? {}), name: s.name, desired: s.replicas }));
  for (const s of v?.services ?? []) if (!fleet.services.some((f) => f.name === s.name)) services.push({ ...s, desired: 0 });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ fleet: fleet.name, services, operation: v?.operation ?? null }, null, 2)}\n`);
    return 0;
  }
  const rows = services.map((s) => {
    const pending = (s.created ?? 0) + (s.queued ?? 0) + (s.starting ?? 0) + (s.restarting ?? 0);
    const checked = (s.healthy ?? 0) + (s.unhealthy ?? 0) + (s.healthStarting ?? 0);
    const health = checked === 0 ? '-' : `${s.healthy ?? 0}/${checked} healthy${s.unhealthy ? `, ${s.unhealthy} unhealthy` : ''}`;
    return [s.name, String(s.desired), String(s.running ?? 0), health, formatExited(s.exited ?? {}), String(s.failed ?? 0), String(pending)];
  });
  process.stdout.write(formatTable(['SERVICE', 'DESIRED', 'RUNNING', 'HEALTH', 'EXITED(code:n)', 'FAILED', 'PENDING'], rows));
  const op = v?.operation;
  if (op?.state === 'running') process.stderr.write(`(fleet ${op.kind} in progress since ${op.startedAt})\n`);
  return 0;
}

async function ls(values: { json?: boolean }): Promise<number> {
  const list = (await call('GET', '/fleets')).body as FleetListEntry[];
  if (values.json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  const rows = list.map((f) => [f.name, String(f.services), String(f.containers), String(f.running), String(f.exited), String(f.failed), f.operation === 'running' ? 'busy' : '-']);
  process.stdout.write(formatTable(['NAME', 'SERVICES', 'CONTAINERS', 'RUNNING', 'EXITED', 'FAILED', 'OPERATION'], rows));
  return 0;
}

/** Fleet usage errors and bad files print as they always have (`skiff fleet: …`, `skiff: file:line:col …`), exit 2. */
function reported<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<number> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      if (!(err instanceof FleetUsageError)) throw err;
      // `skiff: demo.yaml:12:7 services.web.deploy.replicas: …` — the place first, as compilers print it.
      process.stderr.write(`skiff${err instanceof BadFleetFile ? '' : ' fleet'}: ${err.message}\n`);
      return 2;
    }
  };
}

export function fleetCommand(o: Outcome): { fleet: Declared; subcommands: Declared[] } {
  const json = ['--json', 'print JSON instead of a table'] as const;
  const upCmd = new Command('up')
    .argument('[FILE]', 'the fleet file (YAML, Compose-style)')
    .option('--wait', 'also wait for every job (x-skiff.job) to exit and every health check to pass or fail')
    .option('--wait-timeout <SECONDS>', 'with --wait (which it implies): give up after this many seconds, exit 1 and leave the fleet up')
    .option(...json);
  act(upCmd, o, reported(up));
  const downCmd = new Command('down')
    .argument('[FILE]', 'the fleet file')
    .option('--name <NAME>', 'the fleet\'s name, instead of its file');
  act(downCmd, o, reported(down));
  const statusCmd = new Command('status')
    .argument('[FILE]', 'the fleet file')
    .option(...json);
  act(statusCmd, o, reported(status));
  const lsCmd = new Command('ls').option(...json);
  act(lsCmd, o, reported(ls));
  return {
    fleet: {
      cmd: new Command('fleet'),
      summary: 'run fleets of containers from a Compose-style YAML file',
      examples: ['skiff fleet up --wait config/loadtest.yaml', 'skiff fleet status config/demo.yaml', 'skiff fleet down config/demo.yaml'],
    },
    subcommands: [
      { cmd: upCmd, summary: 'create what is missing, replace what changed, remove what is no longer declared', examples: ['skiff fleet up config/demo.yaml', 'skiff fleet up --wait --json config/loadtest.yaml'] },
      { cmd: downCmd, summary: 'stop and remove every container of the fleet', examples: ['skiff fleet down config/demo.yaml', 'skiff fleet down --name demo'] },
      { cmd: statusCmd, summary: 'per service: desired, running, exited by code, failed, pending', examples: ['skiff fleet status --json config/demo.yaml'] },
      { cmd: lsCmd, summary: 'the fleets skiffd knows', examples: ['skiff fleet ls'] },
    ],
  };
}
