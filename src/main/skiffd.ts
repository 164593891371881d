// skiffd: the daemon's entry point. `skiff daemon` runs it in the foreground.
import { parseArgs } from 'node:util';
import { Daemon } from './daemon.js';
import { socketFromEnv, stateDirFromEnv } from '../api/defaults.js';
import { FleetApi } from './fleets/routes.js';
import { ImagesApi } from './images/routes.js';
import { log } from './log.js';
import { ConsoleHub } from '../forwarder/index.js';

function seconds(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || n <= 0 || n > 3600) throw new Error(`${flag} must be a number of seconds above 0, at most 3600, got ${JSON.stringify(text)}`);
  return Math.round(n * 1000);
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
      'insecure-registry': { type: 'string', multiple: true },
    },
    strict: true,
  });
  process.title = 'skiffd';
  const consoles = new ConsoleHub({
    ...(values['forwarder-threads'] ? { threads: Number(values['forwarder-threads']) } : {}),
    // A log that stopped (disk full) or forwarding that failed, with no request waiting on it.
    onProblem: (id, message) => log('warn', 'console problem', { id, message }),
  });
  const daemon = new Daemon({
    extensions: (d) => [new FleetApi(d), new ImagesApi(d)],
    insecureRegistries: values['insecure-registry'] ?? [],
    consoles,
    socket: values.socket ?? socketFromEnv(),
    stateDir: values['state-dir'] ?? stateDirFromEnv(),
    ...(values.launchers ? { launchers: Number(values.launchers) } : {}),
    ...(values['max-queued'] ? { maxQueued: Number(values['max-queued']) } : {}),
    ...(values['headers-timeout'] ? { headersTimeoutMs: seconds(values['headers-timeout'], '--headers-timeout') } : {}),
    ...(values['request-timeout'] ? { requestTimeoutMs: seconds(values['request-timeout'], '--request-timeout') } : {}),
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
