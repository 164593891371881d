// The skiff command. Exit codes: 0 ok, 1 operational error, 2 usage error; `skiff run`
// (attached) exits with the init's own code, 125 when skiff itself failed, 126 when the
// command could not be invoked, 127 when it was not found. Data to stdout, diagnostics to stderr.
//
// The commands are declared on commander (command.ts says how): each answers --help with its
// options and examples, unknown options and bad values are usage errors naming them.
import { Command, CommanderError } from 'commander';
import { commanderStatus, configure, subcommand, type Outcome } from './command.js';
import { runCommand } from './run.js';
import { execCommand } from './exec.js';
import { containerCommands } from './containers.js';
import { resourceCommands } from './resources.js';
import { imageCommands } from './images.js';
import { fleetCommand } from './fleet.js';
import { networkCommand } from './network.js';
import { benchCommand } from './bench/command.js';
import { daemonCommand } from './daemon.js';
import { skiffVersion } from './version.js';

function program(outcome: Outcome): Command {
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
  subcommand(skiff, runCommand(outcome));
  subcommand(skiff, execCommand(outcome));
  for (const c of containerCommands(outcome)) subcommand(skiff, c);
  for (const c of resourceCommands(outcome)) subcommand(skiff, c);
  for (const c of imageCommands(outcome)) subcommand(skiff, c);
  const { fleet, subcommands } = fleetCommand(outcome);
  const fleetCmd = subcommand(skiff, fleet);
  for (const c of subcommands) subcommand(fleetCmd, c);
  const net = networkCommand(outcome);
  const netCmd = subcommand(skiff, net.network);
  for (const c of net.subcommands) subcommand(netCmd, c);
  subcommand(skiff, benchCommand(outcome));
  subcommand(skiff, daemonCommand(outcome));
  return skiff;
}

export async function main(argv: string[]): Promise<number> {
  const outcome: Outcome = { status: 0 };
  try {
    await program(outcome).parseAsync(argv, { from: 'user' });
    return outcome.status;
  } catch (err) {
    // Help, version and usage errors: commander has printed them already.
    if (err instanceof CommanderError) return commanderStatus(err);
    process.stderr.write(`skiff: ${(err as Error).message}\n`);
    return 1;
  }
}
