// The commands on one container or the list of them: ps, inspect, logs, console, stop, kill,
// rm, wait, top, rename. Each is a thin turn of its arguments into one or two API calls.
import { Command, InvalidArgumentError, Option } from 'commander';
import { call, DaemonError, stream } from './client.js';
import { Deframer } from './frames.js';
import { formatTable } from './table.js';
import { TerminalEscaper } from './escape.js';
import { attachTerminal, parseDetachKeys } from './console.js';
import { act, secondsOption, UsageError, type Declared, type Outcome } from './command.js';

const enc = encodeURIComponent;

interface ListEntry { Id: string; Names: string[]; State: string; Status: string; Command: string; Pid: number; SkiffStatus: string; Created: number }

function ps(o: Outcome): Declared {
  const cmd = new Command('ps')
    .option('-a, --all', 'also the containers that are not running')
    .option('--json', 'print JSON instead of a table');
  act(cmd, o, async (values: { all?: boolean; json?: boolean }) => {
    const list = (await call('GET', `/containers/json${values.all ? '?all=1' : ''}`)).body as ListEntry[];
    if (values.json) {
      process.stdout.write(`${JSON.stringify(list.map((c) => ({ name: c.Names[0]!.slice(1), id: c.Id, status: c.SkiffStatus, state: c.State, pid: c.Pid || null, info: c.Status, command: c.Command })), null, 2)}\n`);
      return 0;
    }
    const rows = list.map((c) => [c.Names[0]!.slice(1), c.SkiffStatus, c.Pid ? String(c.Pid) : '-', c.Status, c.Command]);
    process.stdout.write(formatTable(['NAME', 'STATUS', 'PID', 'UPTIME/EXIT', 'COMMAND'], rows));
    return 0;
  });
  return { cmd, summary: 'list containers (NAME STATUS PID UPTIME/EXIT COMMAND)', examples: ['skiff ps --all'] };
}

function inspect(o: Outcome): Declared {
  const cmd = new Command('inspect').argument('<NAME...>', 'containers, by name or id');
  act(cmd, o, async (names: string[]) => {
    const out = [];
    for (const name of names) out.push((await call('GET', `/containers/${enc(name)}/json`)).body);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  });
  return { cmd, summary: 'print what skiffd holds about containers, as JSON', examples: ['skiff inspect web'] };
}

/** --tail: a number of lines or "all", as Docker takes it. */
function tailCount(value: string): string {
  if (value !== 'all' && !/^\d+$/.test(value)) throw new InvalidArgumentError('Expected a number of lines (0 or more) or "all"');
  return value;
}

function logs(o: Outcome): Declared {
  const cmd = new Command('logs')
    .argument('<NAME>', 'the container')
    .option('-f, --follow', 'keep printing new output until the container exits')
    .addOption(new Option('--tail <N>', 'only the last N lines (or "all")').argParser(tailCount))
    .option('-t, --timestamps', 'put each line\'s time (RFC 3339, nanoseconds) in front of it')
    .option('--since <TIME>', 'only output from this time on (unix seconds or RFC 3339)')
    .option('--until <TIME>', 'only output up to this time (unix seconds or RFC 3339)')
    .option('--all', 'read the whole log file, not only the in-memory ring')
    .option('--raw', 'print control sequences as they are, even on a terminal');
  act(cmd, o, async (name: string, values: { follow?: boolean; tail?: string; all?: boolean; raw?: boolean; timestamps?: boolean; since?: string; until?: string }) => {
    if (values.all && values.follow) throw new UsageError('--all reads the log file and cannot be combined with --follow');
    const info = (await call('GET', `/containers/${enc(name)}/json`)).body as { Config: { Tty: boolean } };
    const q = `stdout=1&stderr=1${values.follow ? '&follow=1' : ''}${values.tail !== undefined ? `&tail=${enc(values.tail)}` : ''}${values.all ? '&source=file' : ''}`
      + `${values.timestamps ? '&timestamps=1' : ''}${values.since !== undefined ? `&since=${enc(values.since)}` : ''}${values.until !== undefined ? `&until=${enc(values.until)}` : ''}`;
    const res = await stream('GET', `/containers/${enc(name)}/logs?${q}`);
    // On a terminal, what the container printed is shown, not obeyed (no screen clearing, no retitling).
    const escapers = [process.stdout, process.stderr].map((s) => (s.isTTY && !values.raw ? new TerminalEscaper() : null));
    const write = (b: Buffer, stream = 1) => {
      const escaper = escapers[stream - 1] ?? null;
      (stream === 2 ? process.stderr : process.stdout).write(escaper ? escaper.push(b) : b);
    };
    // Without a TTY, stdout and stderr come apart: each goes to its own fd.
    const deframer = info.Config.Tty ? null : new Deframer((s, p) => write(p, s === 2 ? 2 : 1));
    for await (const chunk of res) {
      if (deframer) deframer.push(chunk as Buffer);
      else write(chunk as Buffer);
    }
    return 0;
  });
  return { cmd, summary: 'print a container\'s most recent output (the ring)', examples: ['skiff logs --tail 20 web', 'skiff logs --follow web'] };
}

function consoleCmd(o: Outcome): Declared {
  const cmd = new Command('console')
    .argument('<NAME>', 'a running container')
    .addOption(new Option('--detach-keys <KEYS>', 'the key sequence that detaches, e.g. ctrl-p,ctrl-q').default('ctrl-]', 'Ctrl-]').argParser((v: string) => {
      try {
        parseDetachKeys(v);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
      return v;
    }))
    .option('--no-logs', 'do not replay the recent output first');
  act(cmd, o, async (name: string, values: { detachKeys: string; logs: boolean }) => {
    const keys = parseDetachKeys(values.detachKeys);
    const info = (await call('GET', `/containers/${enc(name)}/json`)).body as { Config: { Tty: boolean }; State: { Running: boolean } };
    if (!info.State.Running) {
      process.stderr.write(`skiff: ${name} is not running\n`);
      return 1;
    }
    const label = values.detachKeys === 'ctrl-]' ? 'Ctrl-]' : values.detachKeys;
    if (process.stdin.isTTY) process.stderr.write(`skiff: attached to ${name}; detach with ${label}\r\n`);
    const how = await attachTerminal({ name, tty: info.Config.Tty, detachKeys: keys, logs: values.logs, stdin: true });
    if (how === 'detached') process.stderr.write(`\r\nskiff: detached from ${name} (still running)\r\n`);
    return 0;
  });
  return { cmd, summary: 'join your terminal to a running container (detach: Ctrl-])', examples: ['skiff console web', 'skiff console --detach-keys ctrl-p,ctrl-q web'] };
}

function stop(o: Outcome): Declared {
  const cmd = new Command('stop')
    .argument('<NAME>', 'the container')
    .addOption(secondsOption('-t, --time <SECONDS>', 'how long to wait after the stop signal before SIGKILL', { above: false, max: Infinity }));
  act(cmd, o, async (name: string, values: { time?: string }) => {
    await call('POST', `/containers/${enc(name)}/stop${values.time !== undefined ? `?t=${values.time}` : ''}`);
    process.stdout.write(`${name}\n`);
    return 0;
  });
  return { cmd, summary: 'stop a container: its stop signal, then SIGKILL after the grace time', examples: ['skiff stop --time 2 web'] };
}

function kill(o: Outcome): Declared {
  const cmd = new Command('kill')
    .argument('<NAME>', 'the container')
    .option('-s, --signal <SIG>', 'the signal, by name or number (default SIGKILL)');
  act(cmd, o, async (name: string, values: { signal?: string }) => {
    await call('POST', `/containers/${enc(name)}/kill${values.signal ? `?signal=${enc(values.signal)}` : ''}`);
    process.stdout.write(`${name}\n`);
    return 0;
  });
  return { cmd, summary: 'send a signal to a container\'s init', examples: ['skiff kill --signal SIGUSR1 web'] };
}

function rm(o: Outcome): Declared {
  const cmd = new Command('rm')
    .argument('<NAME...>', 'containers, by name or id')
    .option('-f, --force', 'kill them first if they run');
  act(cmd, o, async (names: string[], values: { force?: boolean }) => {
    let status = 0;
    for (const name of names) {
      try {
        await call('DELETE', `/containers/${enc(name)}${values.force ? '?force=1' : ''}`);
        process.stdout.write(`${name}\n`);
      } catch (err) {
        if (!(err instanceof DaemonError)) throw err;
        process.stderr.write(`skiff: ${err.message}\n`);
        status = 1;
      }
    }
    return status;
  });
  return { cmd, summary: 'remove containers', examples: ['skiff rm -f web'] };
}

function wait(o: Outcome): Declared {
  const cmd = new Command('wait').argument('<NAME>', 'the container');
  act(cmd, o, async (name: string) => {
    const r = (await call('POST', `/containers/${enc(name)}/wait`)).body as { StatusCode: number };
    process.stdout.write(`${r.StatusCode}\n`);
    return 0;
  });
  return { cmd, summary: 'wait for a container to exit and print its exit code', examples: ['skiff wait job-1'] };
}

function top(o: Outcome): Declared {
  const cmd = new Command('top')
    .argument('<NAME>', 'a running container')
    .argument('[PS_ARGS...]', 'options for ps (default -ef)')
    // `skiff top web -o pid,comm`: what follows NAME is ps's, not skiff's.
    .passThroughOptions();
  act(cmd, o, async (name: string, psArgs: string[]) => {
    const q = psArgs.length > 0 ? `?ps_args=${enc(psArgs.join(' '))}` : '';
    const r = (await call('GET', `/containers/${enc(name)}/top${q}`)).body as { Titles: string[]; Processes: string[][] };
    process.stdout.write(formatTable(r.Titles, r.Processes));
    return 0;
  });
  return { cmd, summary: 'list a running container\'s processes, through ps on the host', examples: ['skiff top web', 'skiff top web -o pid,rss,comm'] };
}

function rename(o: Outcome): Declared {
  const cmd = new Command('rename')
    .argument('<NAME>', 'the container, by name or id')
    .argument('<NEW_NAME>', 'its new name');
  act(cmd, o, async (name: string, newName: string) => {
    await call('POST', `/containers/${enc(name)}/rename?name=${enc(newName)}`);
    return 0;
  });
  return { cmd, summary: 'give a container a new name (running or not)', examples: ['skiff rename web web-old'] };
}

export function containerCommands(o: Outcome): Declared[] {
  return [ps(o), inspect(o), logs(o), consoleCmd(o), stop(o), kill(o), rm(o), wait(o), top(o), rename(o)];
}
