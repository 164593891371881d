// skiff exec [-i] [-t] [-d] [-e K=V] [-w DIR] [-u USER] NAME CMD [ARG...]: a command run in a
// running container (Docker's exec: create, then start on a hijacked stream), the terminal
// handled as `skiff console` handles it (raw mode, SIGWINCH, restored on every way out), and
// the command's exit code as skiff's own.
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatDetachKeys, parseDetachKeys } from '../api/detach-keys.js';
import { call } from './client.js';
import { act, collect, type Declared, type Outcome } from './command.js';
import { attachTerminal } from './console.js';

interface ExecOptions {
  interactive?: boolean; tty?: boolean; detach?: boolean;
  env?: string[]; workdir?: string; user?: string; detachKeys: string;
}

const enc = encodeURIComponent;

async function exec(name: string, command: string[], v: ExecOptions): Promise<number> {
  const keys = parseDetachKeys(v.detachKeys);
  const tty = v.tty ?? false;
  const stdin = v.interactive ?? false;
  const created = await call('POST', `/containers/${enc(name)}/exec`, {
    Cmd: command, Env: v.env ?? [], WorkingDir: v.workdir ?? '', User: v.user ?? '', Tty: tty,
    AttachStdin: stdin && !v.detach, AttachStdout: !v.detach, AttachStderr: !v.detach,
    // Ours go to skiffd too, so that its own default (Docker's ctrl-p,ctrl-q) does not apply.
    DetachKeys: formatDetachKeys(keys),
  });
  const id = (created.body as { Id: string }).Id;
  if (v.detach) {
    await call('POST', `/exec/${id}/start`, { Detach: true, Tty: tty });
    return 0;
  }
  const how = await attachTerminal({
    name, tty, detachKeys: keys, logs: false, stdin,
    stream: { path: `/exec/${id}/start`, body: { Detach: false, Tty: tty }, resize: `/exec/${id}/resize` },
  });
  if (how === 'detached') {
    process.stderr.write(`\r\nskiff: detached from the exec in ${name} (still running)\r\n`);
    return 0;
  }
  // The stream ends once the exit is recorded (skiffd waits for it), so this is the final answer.
  const info = (await call('GET', `/exec/${id}/json`)).body as { ExitCode: number | null };
  return info.ExitCode ?? 0;
}

export function execCommand(outcome: Outcome): Declared {
  const cmd = new Command('exec')
    .usage('[options] NAME COMMAND [ARG...]')
    .argument('<NAME>', 'a running container')
    .argument('<COMMAND...>', 'the command and its arguments')
    // Options after the command are the command's (skiff exec web ls -l).
    .passThroughOptions()
    .option('-i, --interactive', 'forward stdin (its end is the command\'s)')
    .option('-t, --tty', 'give the command a terminal')
    .option('-d, --detach', 'start it in the background and return')
    .option('-e, --env <K=V>', 'environment variable, over the container\'s (repeatable)', collect)
    .option('-w, --workdir <DIR>', 'working directory inside the container (default: the container\'s)')
    .option('-u, --user <USER>', 'uid[:gid], or a user[:group] of the container\'s /etc/passwd (default: the container\'s user)')
    .addOption(new Option('--detach-keys <KEYS>', 'the key sequence that detaches with -i, e.g. ctrl-p,ctrl-q').default('ctrl-]', 'Ctrl-]').argParser((v: string) => {
      try {
        parseDetachKeys(v);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
      return v;
    }));
  cmd.addHelpText('after', `
exec exits with the command's exit code (128+N for signal N); 126 means the command could not
be run, 127 that it was not found, 125 that skiff itself failed (or refused: a stopped container).`);
  act(cmd, outcome, (name: string, command: string[], values: ExecOptions) => exec(name, command, values), 125);
  return {
    cmd,
    summary: 'run a command in a running container and exit with its code',
    examples: ['skiff exec web cat /etc/hostname', 'skiff exec -it web sh', 'echo hi | skiff exec -i web cat', 'skiff exec -u nobody -w /tmp -e A=1 web env'],
  };
}
