// skiffd: the daemon's entry point. `skiff daemon` runs it in the foreground.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Daemon } from './daemon.js';
import { socketFromEnv, stateDirFromEnv } from '../api/defaults.js';
import { seconds, wholeNumber } from '../api/numbers.js';
import { FleetApi } from './fleets/routes.js';
import { ImagesApi } from './images/routes.js';
import { log } from './log.js';
import { ConsoleHub } from '../forwarder/index.js';
import { PRIVATE_DIR } from './lifecycle/state-store.js';

// `skiff daemon` checks these too (a usage error before skiffd starts); skiffd checks them
// again because it is also run directly (node dist/src/main/skiffd-main.js).
function milliseconds(text: string, flag: string): number {
  const n = seconds(text, { above: true, max: 3600 });
  if (n === null) throw new Error(`${flag} must be a number of seconds above 0, at most 3600, got ${JSON.stringify(text)}`);
  return Math.round(n * 1000);
}

function count(text: string, flag: string): number {
  const n = wholeNumber(text, 1);
  if (n === null) throw new Error(`${flag} must be a whole number of at least 1, got ${JSON.stringify(text)}`);
  return n;
}

function dockerNetwork(text: string): 'none' | 'bridge' {
  if (text !== 'none' && text !== 'bridge') throw new Error(`--docker-network must be none or bridge, got ${JSON.stringify(text)}`);
  return text;
}

function cgroupKill(text: string): 'auto' | 'freezer' {
  if (text !== 'auto' && text !== 'freezer') throw new Error(`--cgroup-kill must be auto or freezer, got ${JSON.stringify(text)}`);
  return text;
}

function pidsLimit(text: string): number {
  const n = wholeNumber(text, 1);
  if (n === null || n > 4_194_304) throw new Error(`--default-pids-limit must be a number of processes from 1 to 4194304, got ${JSON.stringify(text)}`);
  return n;
}

export async function runDaemon(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      socket: { type: 'string' },
      'state-dir': { type: 'string' },
      launchers: { type: 'string' },
      'max-queued': { type: 'string' },
      'forwarder-threads': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
      'default-subnet': { type: 'string' },
      'resolv-conf': { type: 'string' },
      'docker-network': { type: 'string' },
      'cgroup-parent': { type: 'string' },
      'cgroup-kill': { type: 'string' },
      'default-pids-limit': { type: 'string' },
      'health-probes': { type: 'string' },
      'insecure-registry': { type: 'string', multiple: true },
    },
    strict: true,
  });
  process.title = 'skiffd';
  const stateDir = values['state-dir'] ?? stateDirFromEnv();
  const consoles = new ConsoleHub({
    // The forwarder runs in the keeper process, which outlives skiffd: containers keep their stdio's reader.
    keeper: { dir: join(stateDir, PRIVATE_DIR) },
    ...(values['forwarder-threads'] ? { threads: count(values['forwarder-threads'], '--forwarder-threads') } : {}),
    // A log that stopped (disk full) or forwarding that failed, with no request waiting on it.
    onProblem: (id, message) => log('warn', 'console problem', { id, message }),
  });
  const daemon = new Daemon({
    extensions: (d) => [new FleetApi(d), new ImagesApi(d)],
    insecureRegistries: values['insecure-registry'] ?? [],
    consoles,
    socket: values.socket ?? socketFromEnv(),
    stateDir,
    ...(values.launchers ? { launchers: count(values.launchers, '--launchers') } : {}),
    ...(values['max-queued'] ? { maxQueued: count(values['max-queued'], '--max-queued') } : {}),
    ...(values['headers-timeout'] ? { headersTimeoutMs: milliseconds(values['headers-timeout'], '--headers-timeout') } : {}),
    ...(values['request-timeout'] ? { requestTimeoutMs: milliseconds(values['request-timeout'], '--request-timeout') } : {}),
    networks: {
      ...(values['default-subnet'] ? { defaultSubnet: values['default-subnet'] } : {}),
      ...(values['resolv-conf'] ? { resolvConf: values['resolv-conf'] } : {}),
    },
    ...(values['docker-network'] ? { dockerDefaultNetwork: dockerNetwork(values['docker-network']) } : {}),
    ...(values['cgroup-parent'] ? { cgroupParent: values['cgroup-parent'] } : {}),
    ...(values['cgroup-kill'] ? { cgroupKill: cgroupKill(values['cgroup-kill']) } : {}),
    ...(values['default-pids-limit'] ? { defaultPidsLimit: pidsLimit(values['default-pids-limit']) } : {}),
    ...(values['health-probes'] ? { maxHealthProbes: count(values['health-probes'], '--health-probes') } : {}),
    // Failure injection for the test suite (test/integration/hardening-host.test.ts).
    testHooks: process.env.SKIFF_TEST_HOOKS === '1',
  });
  await daemon.listen();
  const stop = (sig: string) => {
    // Containers outlive skiffd: a restart adopts them. Only the daemon's own parts stop here.
    log('info', 'skiffd stopping', { signal: sig });
    void daemon.close().then(() => consoles.close()).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
