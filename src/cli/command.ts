// How every skiff command is declared on commander: one place decides the help layout, how a
// usage error is printed (`skiff run: unknown option '--bogus'`, exit 2), how an action's exit
// status gets out (commander ignores what an action returns), and how numbers are checked.
import { seconds, wholeNumber } from '../api/numbers.js';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DaemonError } from './client.js';

/** Wrong input from the user: printed as `skiff CMD: message`, exit 2. */
export class UsageError extends Error {}

/** Where the actions leave the process's exit status. */
export interface Outcome { status: number }

/** `skiff fleet up`: the command's full name, for messages. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Settings every command has: errors named by command, thrown (not exited) so main() picks the status. */
export function configure(cmd: Command): Command {
  return cmd
    .exitOverride()
    .helpOption('-h, --help', 'show this help')
    .configureHelp({ sortOptions: false, showGlobalOptions: false })
    .configureOutput({
      outputError: (text, write) => {
        const message = text.replace(/^error: /, '').trimEnd();
        write(`${commandPath(cmd)}: ${message}\nSee '${commandPath(cmd)} --help'.\n`);
      },
    });
}

/** A command as its module declares it, for `subcommand()` to add. */
export interface Declared { cmd: Command; summary: string; examples: string[] }

/** A command under `parent`, with its one-line summary and examples at the end of its help. */
export function subcommand(parent: Command, { cmd, summary, examples }: Declared): Command {
  // The parent's settings first (positional options...), then ours: the error printer names this command.
  configure(cmd.copyInheritedSettings(parent));
  parent.addCommand(cmd.description(summary));
  cmd.addHelpText('after', `\nExample${examples.length > 1 ? 's' : ''}:\n${examples.map((e) => `  ${e}`).join('\n')}\n`);
  return cmd;
}

/**
 * The action for `cmd`: its returned number becomes the exit status. A UsageError is reported
 * by commander as its own (exit 2); skiffd's refusals and other failures print `skiff: message`
 * and give `failure` (1, or 125 for `skiff run`, which keeps 1..124 for the container's code).
 */
export function act<A extends unknown[]>(cmd: Command, outcome: Outcome, fn: (...args: A) => Promise<number>, failure = 1): Command {
  return cmd.action(async (...args: unknown[]) => {
    try {
      outcome.status = await fn(...(args as A));
    } catch (err) {
      if (err instanceof UsageError) cmd.error(err.message, { exitCode: 2, code: 'skiff.usage' });
      if (err instanceof CommanderError) throw err;
      process.stderr.write(`skiff: ${err instanceof DaemonError ? err.message : (err as Error).message}\n`);
      outcome.status = failure;
    }
  });
}

/** Commander's status for its own outcomes: help and version are 0, every other one is a usage error. */
export function commanderStatus(err: CommanderError): number {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
  if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2;
  return 2;
}

/** Repeatable options (`-e A=1 -e B=2`): a new array each time, the default never mutated. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** An integer option of at least `min`: `--count abc` and `--count 0` are refused, quoting the value. */
export function integerOption(flags: string, description: string, min: number): Option {
  return new Option(flags, description).argParser((value: string) => {
    const n = wholeNumber(value, min);
    if (n === null) throw new InvalidArgumentError(`Expected an integer of at least ${min}`);
    return n;
  });
}

/** A number of seconds (decimals allowed) from 0, or above 0 when `above` (a timeout of 0 s would refuse everything), up to `max`. */
export function secondsOption(flags: string, description: string, o: { above: boolean; max: number }): Option {
  return new Option(flags, description).argParser((value: string) => {
    if (seconds(value, o) === null) {
      throw new InvalidArgumentError(`Expected a number of seconds ${o.above ? 'above 0' : 'from 0'}${Number.isFinite(o.max) ? ` up to ${o.max}` : ''}`);
    }
    return value; // sent on as the user wrote it
  });
}
