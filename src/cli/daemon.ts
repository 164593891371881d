// skiff daemon: skiffd in the foreground. The options are checked here (a typo is a usage
// error before anything starts) and skiffd runs as its own program with this terminal: the
// CLI never loads skiffd's modules. skiffd gets a session of its own, so a signal reaches it
// exactly once, from here: Ctrl-C (SIGINT) and SIGTERM are passed on, and a closed terminal
// (SIGHUP, which skiffd does not handle) becomes SIGTERM, its clean stop.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { act, integerOption, secondsOption, type Declared, type Outcome } from './command.js';
import { SKIFFD_ENTRY } from './daemon-process.js';

interface DaemonOptions {
  socket?: string; stateDir?: string; launchers?: number; maxQueued?: number; forwarderThreads?: number;
  headersTimeout?: string; requestTimeout?: string; defaultSubnet?: string; resolvConf?: string; dockerNetwork?: string;
  cgroupParent?: string; cgroupKill?: string; defaultPidsLimit?: number; insecureRegistry?: string[]; healthProbes?: number;
}

/** The options as skiffd's own command line spells them. */
function skiffdArgs(v: DaemonOptions): string[] {
  const pairs: [string, string | number | undefined][] = [
    ['--socket', v.socket], ['--state-dir', v.stateDir], ['--launchers', v.launchers], ['--max-queued', v.maxQueued],
    ['--forwarder-threads', v.forwarderThreads], ['--headers-timeout', v.headersTimeout], ['--request-timeout', v.requestTimeout],
    ['--default-subnet', v.defaultSubnet], ['--resolv-conf', v.resolvConf], ['--docker-network', v.dockerNetwork],
    ['--cgroup-parent', v.cgroupParent], ['--cgroup-kill', v.cgroupKill], ['--default-pids-limit', v.defaultPidsLimit], ['--health-probes', v.healthProbes],
  ];
  return [
    ...pairs.flatMap(([flag, value]) => (value === undefined ? [] : [flag, String(value)])),
    ...(v.insecureRegistry ?? []).flatMap((r) => ['--insecure-registry', r]),
  ];
}

function runSkiffd(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SKIFFD_ENTRY, ...args], { stdio: 'inherit', detached: true });
    const pass = (sig: NodeJS.Signals) => () => { child.kill(sig); };
    const handlers: [NodeJS.Signals, () => void][] = [['SIGINT', pass('SIGINT')], ['SIGTERM', pass('SIGTERM')], ['SIGHUP', pass('SIGTERM')]];
    for (const [sig, h] of handlers) process.on(sig, h);
    child.on('error', (err) => reject(new Error(`start skiffd (${process.execPath} ${SKIFFD_ENTRY}): ${err.message}`, { cause: err })));
    child.on('exit', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      // Killed by a signal: the shell's convention, 128 + its number.
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

export function daemonCommand(o: Outcome): Declared {
  const cmd = new Command('daemon')
    .option('--socket <PATH>', 'the API socket (default: $SKIFF_SOCKET or /run/skiff/skiff.sock)')
    .option('--state-dir <DIR>', 'the state directory (default: $SKIFF_STATE_DIR or /var/lib/skiff)')
    .addOption(integerOption('--launchers <N>', 'launcher processes (default: twice the CPUs)', 1))
    .addOption(integerOption('--max-queued <N>', 'starts that may wait for a launcher before skiffd answers 429 (default 4096)', 1))
    .addOption(integerOption('--forwarder-threads <N>', 'console forwarder threads', 1))
    .addOption(secondsOption('--headers-timeout <SECONDS>', 'time a client has to send a request\'s headers (default 10)', { above: true, max: 3600 }))
    .addOption(secondsOption('--request-timeout <SECONDS>', 'time a client has to send a whole request (default 60)', { above: true, max: 3600 }))
    .option('--default-subnet <CIDR>', 'the subnet of the default bridge network, skiff0 (default 10.88.0.0/16)')
    .option('--resolv-conf <FILE>', 'where the networks\' DNS finds the resolvers for other names (default /etc/resolv.conf)')
    .addOption(new Option('--docker-network <none|bridge>', 'the network of a Docker API container that names none (default bridge, as Docker\'s)').choices(['none', 'bridge']))
    .addOption(new Option('--cgroup-parent <NAME>', 'the cgroup every container\'s cgroup goes under, in each hierarchy (default skiff)').argParser((v: string) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)*$/.test(v)) throw new InvalidArgumentError('Expected a relative path of names (letters, digits, _ . -), such as skiff or services/skiff');
      return v;
    }))
    .addOption(new Option('--cgroup-kill <auto|freezer>', 'how a container\'s cgroup is killed whole: cgroup.kill where the kernel has it, else the freezer (auto), or always the freezer').choices(['auto', 'freezer']))
    .addOption(integerOption('--default-pids-limit <N>', 'the pids limit of every container that sets none (default: none)', 1))
    .addOption(integerOption('--health-probes <N>', 'health check probes running at once; more wait their turn (default: 128)', 1))
    .option('--insecure-registry <HOST:PORT>', 'a registry to pull from over plain HTTP (repeatable; loopback ones always are)', (v: string, prev: string[] = []) => [...prev, v]);
  act(cmd, o, (values: DaemonOptions) => runSkiffd(skiffdArgs(values)));
  return {
    cmd,
    summary: 'run skiffd in the foreground (other commands start it in the background when needed)',
    examples: ['skiff daemon --socket /tmp/skiff.sock --state-dir /tmp/skiff-state'],
  };
}
