// A real Daemon (launcher pool, reaper, console forwarder, cgroups) run in a process of its
// own, driven from code rather than over HTTP: the probe interface (Daemon.execs.runProbe) is
// skiffd-internal, so test/integration/exec-probe.test.ts runs this script and reads the JSON
// it prints last. Each probe's result is kept as it came; a rejection as "Name: message".
import { ConsoleHub } from '../../src/forwarder/index.js';
import { Daemon } from '../../src/main/daemon.js';
import { validateSpec } from '../../src/spec/container.js';
import { childPids, cmdline } from '../../src/sys/proc.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: probe-host.ts DIR');
const consoles = new ConsoleHub({ threads: 1 });
const d = new Daemon({ socket: `${dir}/skiff.sock`, stateDir: `${dir}/state`, consoles, launchers: 1, cgroupParent: `skiff-test-probe-${process.pid}` });
const results: Record<string, unknown> = {};
const failure = (err: unknown) => `${(err as Error).name}: ${(err as Error).message}`;
try {
  await d.listen();
  const r = await d.supervisor.create(validateSpec({ name: 'web', command: ['/bin/sh', '-c', 'exec sleep 1000'] }));
  await d.supervisor.start('web');
  const probe = (argv: string[], ms: number) => d.execs.runProbe(r.id, argv, ms).catch(failure);
  results.exit3 = await probe(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'], 30_000);
  results.long = await probe(['/bin/sh', '-c', 'head -c 10000 /dev/zero | tr "\\0" x'], 30_000);
  results.missing = await probe(['nosuch'], 30_000);
  // Never ends by itself: only the SIGKILL at the timeout lets the probe return.
  results.timeout = await probe(['/bin/sleep', '1000'], 200);
  // What of skiffd's children is the probe's command: none, it was killed and reaped.
  results.sleeping = childPids(process.pid).filter((pid) => cmdline(pid)?.startsWith('/bin/sleep 1000')).length;
  results.execIds = d.execs.idsOf(r.id);
  results.missingContainer = await d.execs.runProbe('nosuch', ['true'], 1000).catch(failure);
  await d.supervisor.stop('web', 1);
  results.stopped = await probe(['/bin/true'], 1000);
  await d.supervisor.remove('web', { force: true });
} catch (err) {
  results.error = failure(err);
} finally {
  await d.close();
  await consoles.close();
}
console.log(JSON.stringify(results));
