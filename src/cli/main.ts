// The skiff command. Exit codes: 0 ok, 1 operational error, 2 usage error; `skiff run`
// (attached) exits with the init's own code, 125 when skiff itself failed, 126 when the
// command could not be invoked, 127 when it was not found. Data to stdout, diagnostics to stderr.
//
// The commands are declared on commander (command.ts says how): each answers --help with its
// options and examples, unknown options and bad values are usage errors naming them.
import { Command, CommanderError } from 'commander';
import { commanderStatus, configure, subcommand, type Outcome } from './command.js';
import { skiffVersion } from './version.js';

/**
 * Each module's commands, added to the program; imported only when they are used, so that
 * `skiff fleet up` does not load (parse, compile) the modules of every other command:
 * Node's own start-up is most of what a quick command costs.
 */
const GROUPS: Record<string, (skiff: Command, o: Outcome) => Promise<void>> = {
  run: async (skiff, o) => { subcommand(skiff, (await import('./run.js')).runCommand(o)); },
  exec: async (skiff, o) => { subcommand(skiff, (await import('./exec.js')).execCommand(o)); },
  containers: async (skiff, o) => { for (const c of (await import('./containers.js')).containerCommands(o)) subcommand(skiff, c); },
  resources: async (skiff, o) => { for (const c of (await import('./resources.js')).resourceCommands(o)) subcommand(skiff, c); },
  images: async (skiff, o) => { for (const c of (await import('./images.js')).imageCommands(o)) subcommand(skiff, c); },
  fleet: async (skiff, o) => {
    const { fleet, subcommands } = (await import('./fleet.js')).fleetCommand(o);
    const fleetCmd = subcommand(skiff, fleet);
    for (const c of subcommands) subcommand(fleetCmd, c);
  },
  network: async (skiff, o) => {
    const net = (await import('./network.js')).networkCommand(o);
    const netCmd = subcommand(skiff, net.network);
    for (const c of net.subcommands) subcommand(netCmd, c);
  },
  bench: async (skiff, o) => { subcommand(skiff, (await import('./bench/command.js')).benchCommand(o)); },
  daemon: async (skiff, o) => { subcommand(skiff, (await import('./daemon.js')).daemonCommand(o)); },
};

/**
 * The group of each top-level command. A command missing here (or help, or no command)
 * loads every group: slower, never wrong.
 */
const GROUP_OF: Record<string, string> = {
  run: 'run', exec: 'exec', update: 'resources', stats: 'resources', fleet: 'fleet', network: 'network', bench: 'bench', daemon: 'daemon',
  ...Object.fromEntries(['ps', 'inspect', 'logs', 'console', 'stop', 'kill', 'rm', 'wait', 'top', 'rename'].map((c) => [c, 'containers'])),
  ...Object.fromEntries(['pull', 'images', 'rmi', 'tag', 'load', 'save', 'login', 'logout'].map((c) => [c, 'images'])),
};

async function program(outcome: Outcome, argv: string[]): Promise<Command> {
  const skiff = configure(new Command('skiff'))
    .usage('<command> [options]')
    .description('Start and supervise Linux containers through skiffd, one at a time or as fleets.')
    .version(skiffVersion(), '-V, --version', 'print skiff\'s version')
    // Options after a command's first operand are that operand's (skiff run IMAGE sh -c …).
    .enablePositionalOptions()
    .addHelpCommand('help [command]', 'show help for a command')
    .addHelpText('after', `
SKIFF_SOCKET (default /run/skiff/skiff.sock) and SKIFF_STATE_DIR (default /var/lib/skiff)
select another daemon; the first command starts skiffd in the background if none answers.
Exit status: 0 ok, 1 failure, 2 usage error; skiff run exits with the container's code.

Examples:
  skiff run host /bin/echo hello
  skiff run -d --name web -- /bin/sh -c 'while true; do date; sleep 1; done'
  skiff logs --follow web
  skiff fleet up config/demo.yaml
`);
  // --version needs no command; help (and a command missing from GROUP_OF) needs them all.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) return skiff;
  const only = argv[0] === undefined ? undefined : GROUP_OF[argv[0]];
  // In this order, so that help lists the commands as it always has.
  for (const [group, add] of Object.entries(GROUPS)) if (only === undefined || only === group) await add(skiff, outcome);
  return skiff;
}

export async function main(argv: string[]): Promise<number> {
  const outcome: Outcome = { status: 0 };
  try {
    await (await program(outcome, argv)).parseAsync(argv, { from: 'user' });
    return outcome.status;
  } catch (err) {
    // Help, version and usage errors: commander has printed them already.
    if (err instanceof CommanderError) return commanderStatus(err);
    process.stderr.write(`skiff: ${(err as Error).message}\n`);
    return 1;
  }
}
