// The skiff command. Exit codes: 0 ok, 1 operational error, 2 usage error; `skiff run`
// (attached) exits with the init's own code, 125 when skiff itself failed, 126 when the
// command could not be invoked, 127 when it was not found. Data to stdout, diagnostics to stderr.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { call, DaemonError, readJson, stream } from './client.js';
import { Deframer } from './frames.js';
import { cmdFleet } from './fleet.js';
import { formatTable } from './table.js';
import { TerminalEscaper } from './escape.js';
import { attachTerminal, parseDetachKeys } from './console.js';

class UsageError extends Error {}

const USAGE = `usage: skiff <command> [options]

  run [--name N] [--rootfs host|DIR] [--image DIR] [--hostname H] [--mount SRC:DST[:ro]]
      [--tmpfs DST] [--env K=V] [--workdir D] [--restart P] [--seccomp default|unconfined|FILE]
      [--security-opt seccomp=…|no-new-privileges[=false]] [--cap-add CAP] [--cap-drop CAP]
      [-d|--detach] [--rm] [-t|--tty] -- CMD [ARG...]
  ps [--all] [--json]            inspect NAME
  logs NAME [--follow] [--raw]   console NAME (detach: Ctrl-])
  stop NAME [--time S]           kill NAME [--signal SIG]
  rm [-f] NAME                   wait NAME
  fleet up|down|status FILE      bench [--count N] [--concurrency C] [--vs runc] [--json]
  daemon [--socket PATH] [--state-dir DIR]

SKIFF_SOCKET and SKIFF_STATE_DIR select another daemon.`;

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, positionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals: positionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}, got ${positionals.length}`);
  return positionals[0]!;
}

const enc = encodeURIComponent;

async function cmdRun(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    name: { type: 'string' },
    rootfs: { type: 'string' },
    image: { type: 'string' },
    hostname: { type: 'string' },
    mount: { type: 'string', multiple: true },
    tmpfs: { type: 'string', multiple: true },
    env: { type: 'string', short: 'e', multiple: true },
    workdir: { type: 'string', short: 'w' },
    restart: { type: 'string' },
    network: { type: 'string' },
    seccomp: { type: 'string' },
    'security-opt': { type: 'string', multiple: true },
    'cap-add': { type: 'string', multiple: true },
    'cap-drop': { type: 'string', multiple: true },
    detach: { type: 'boolean', short: 'd' },
    rm: { type: 'boolean' },
    tty: { type: 'boolean', short: 't' },
    interactive: { type: 'boolean', short: 'i' },
  });
  if (positionals.length === 0) throw new UsageError('run needs a command: skiff run [options] -- CMD [ARG...]');
  if (values.image && values.rootfs && values.rootfs !== 'host') throw new UsageError('--image and --rootfs DIR cannot be combined');
  // A profile file is read here (as the docker CLI does) and sent parsed; the other --security-opt go as Docker's SecurityOpt.
  const securityOpt = values['security-opt'] ?? [];
  const seccompOpts = securityOpt.filter((o) => /^seccomp[=:]/.test(o)).map((o) => o.slice('seccomp='.length));
  const seccompArg = [...(values.seccomp === undefined ? [] : [values.seccomp]), ...seccompOpts];
  if (seccompArg.length > 1) throw new UsageError('give one seccomp profile (--seccomp or --security-opt seccomp=…), not several');
  const { seccompOption } = seccompArg.length > 0 ? await import('./seccomp-option.js') : { seccompOption: null };
  const seccomp = seccompOption && seccompArg[0] !== undefined ? seccompOption(seccompArg[0]) : undefined;
  const skiff: Record<string, unknown> = {
    ...(values.rootfs && values.rootfs !== 'host' ? { Rootfs: values.rootfs } : {}),
    ...(seccomp === undefined ? {} : { Seccomp: seccomp }),
  };
  const body: Record<string, unknown> = {
    Image: values.image ?? 'host',
    Cmd: positionals,
    Env: values.env ?? [],
    Tty: values.tty ?? false,
    OpenStdin: values.interactive ?? false,
    HostConfig: {
      Binds: values.mount ?? [],
      Tmpfs: Object.fromEntries((values.tmpfs ?? []).map((t) => [t, ''])),
      AutoRemove: values.rm ?? false,
      NetworkMode: values.network ?? 'none',
      SecurityOpt: securityOpt.filter((o) => !/^seccomp[=:]/.test(o)),
      CapAdd: values['cap-add'] ?? [],
      CapDrop: values['cap-drop'] ?? [],
      ...(values.restart ? { RestartPolicy: restartPolicy(values.restart) } : {}),
    },
    ...(values.hostname ? { Hostname: values.hostname } : {}),
    ...(values.workdir ? { WorkingDir: values.workdir } : {}),
    ...(Object.keys(skiff).length > 0 ? { Skiff: skiff } : {}),
  };
  let created: { Id: string };
  try {
    created = (await call('POST', `/containers/create${values.name ? `?name=${enc(values.name)}` : ''}`, body)).body as { Id: string };
  } catch (err) {
    if (err instanceof DaemonError) {
      process.stderr.write(`skiff: ${err.message}\n`);
      return 125;
    }
    throw err;
  }
  const id = created.Id;
  if (values.detach) {
    try {
      await call('POST', `/containers/${id}/start`);
    } catch (err) {
      return startFailed(err);
    }
    process.stdout.write(`${values.name ?? id}\n`);
    return 0;
  }
  // Attached: the wait first, then attach so no output is missed, then start. skiffd answers a
  // wait's headers at once (as Docker does), so once they are here the wait is registered and
  // a container that exits and is removed (--rm) before its output is drained is still waited
  // for; asking after the exit found it gone. The start's answer is awaited on its own: a failed
  // start may end the console stream first.
  const waiting = await stream('POST', `/containers/${id}/wait?condition=${values.rm ? 'removed' : 'next-exit'}`);
  let started: Promise<unknown> | null = null;
  const startIt = (): Promise<unknown> => {
    started = call('POST', `/containers/${id}/start`);
    return started;
  };
  let detached = false;
  try {
    const how = await attachTerminal({
      name: id,
      tty: values.tty ?? false,
      detachKeys: [0x1d],
      logs: true,
      stdin: values.interactive ?? values.tty ?? false,
    }, async () => { await startIt(); });
    detached = how === 'detached';
  } catch (err) {
    if (!(err instanceof DaemonError && err.status === 501)) throw err;
    process.stderr.write('skiff: this skiffd has no console forwarder; output is not shown\n');
  }
  try {
    await (started ?? startIt());
  } catch (err) {
    waiting.destroy();
    return startFailed(err);
  }
  if (detached) {
    waiting.destroy();
    process.stderr.write(`\r\nskiff: detached from ${values.name ?? id} (still running)\r\n`);
    return 0;
  }
  return ((await readJson(waiting)) as { StatusCode: number }).StatusCode;
}

function startFailed(err: unknown): number {
  if (!(err instanceof DaemonError)) throw err;
  process.stderr.write(`skiff: ${err.message}\n`);
  const code = Number(err.body.exitCode);
  return code === 126 || code === 127 ? code : 125;
}

function restartPolicy(p: string): { Name: string; MaximumRetryCount: number } {
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(p);
  if (!m) throw new UsageError(`--restart must be no, always, unless-stopped or on-failure[:N], got ${JSON.stringify(p)}`);
  return { Name: m[1]!, MaximumRetryCount: m[2] ? Number(m[2]) : 0 };
}

interface ListEntry { Id: string; Names: string[]; State: string; Status: string; Command: string; Pid: number; SkiffStatus: string; Created: number }

async function cmdPs(args: string[]): Promise<number> {
  const { values } = parse(args, { all: { type: 'boolean', short: 'a' }, json: { type: 'boolean' } }, false);
  const list = (await call('GET', `/containers/json${values.all ? '?all=1' : ''}`)).body as ListEntry[];
  if (values.json) {
    process.stdout.write(`${JSON.stringify(list.map((c) => ({ name: c.Names[0]!.slice(1), id: c.Id, status: c.SkiffStatus, state: c.State, pid: c.Pid || null, info: c.Status, command: c.Command })), null, 2)}\n`);
    return 0;
  }
  const rows = list.map((c) => [c.Names[0]!.slice(1), c.SkiffStatus, c.Pid ? String(c.Pid) : '-', c.Status, c.Command]);
  process.stdout.write(formatTable(['NAME', 'STATUS', 'PID', 'UPTIME/EXIT', 'COMMAND'], rows));
  return 0;
}

async function cmdInspect(args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length === 0) throw new UsageError('inspect needs at least one NAME');
  const out = [];
  for (const name of positionals) out.push((await call('GET', `/containers/${enc(name)}/json`)).body);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return 0;
}

async function cmdLogs(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string' }, all: { type: 'boolean' }, raw: { type: 'boolean' } });
  const name = one(positionals, 'NAME');
  if (values.all && values.follow) throw new UsageError('--all reads the log file and cannot be combined with --follow');
  const info = (await call('GET', `/containers/${enc(name)}/json`)).body as { Config: { Tty: boolean } };
  const q = `stdout=1&stderr=1${values.follow ? '&follow=1' : ''}${values.tail ? `&tail=${enc(values.tail)}` : ''}${values.all ? '&source=file' : ''}`;
  const res = await stream('GET', `/containers/${enc(name)}/logs?${q}`);
  // On a terminal, what the container printed is shown, not obeyed (no screen clearing, no retitling).
  const escaper = process.stdout.isTTY && !values.raw ? new TerminalEscaper() : null;
  const write = (b: Buffer) => process.stdout.write(escaper ? escaper.push(b) : b);
  const deframer = info.Config.Tty ? null : new Deframer((_s, p) => write(p));
  for await (const chunk of res) {
    if (deframer) deframer.push(chunk as Buffer);
    else write(chunk as Buffer);
  }
  return 0;
}

async function cmdConsole(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { 'detach-keys': { type: 'string' }, 'no-logs': { type: 'boolean' } });
  const name = one(positionals, 'NAME');
  let keys: number[];
  try {
    keys = parseDetachKeys(values['detach-keys'] ?? 'ctrl-]');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const info = (await call('GET', `/containers/${enc(name)}/json`)).body as { Config: { Tty: boolean }; State: { Running: boolean } };
  if (!info.State.Running) {
    process.stderr.write(`skiff: ${name} is not running\n`);
    return 1;
  }
  if (process.stdin.isTTY) process.stderr.write(`skiff: attached to ${name}; detach with ${values['detach-keys'] ?? 'Ctrl-]'}\r\n`);
  const how = await attachTerminal({ name, tty: info.Config.Tty, detachKeys: keys, logs: !values['no-logs'], stdin: true });
  if (how === 'detached') process.stderr.write(`\r\nskiff: detached from ${name} (still running)\r\n`);
  return 0;
}

async function cmdStop(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { time: { type: 'string', short: 't' } });
  const name = one(positionals, 'NAME');
  if (values.time !== undefined && !/^\d+(\.\d+)?$/.test(values.time)) throw new UsageError(`--time must be a number of seconds, got ${JSON.stringify(values.time)}`);
  await call('POST', `/containers/${enc(name)}/stop${values.time !== undefined ? `?t=${values.time}` : ''}`);
  process.stdout.write(`${name}\n`);
  return 0;
}

async function cmdKill(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { signal: { type: 'string', short: 's' } });
  const name = one(positionals, 'NAME');
  await call('POST', `/containers/${enc(name)}/kill${values.signal ? `?signal=${enc(values.signal)}` : ''}`);
  process.stdout.write(`${name}\n`);
  return 0;
}

async function cmdRm(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { force: { type: 'boolean', short: 'f' } });
  if (positionals.length === 0) throw new UsageError('rm needs at least one NAME');
  let status = 0;
  for (const name of positionals) {
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
}

async function cmdWait(args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  const name = one(positionals, 'NAME');
  const r = (await call('POST', `/containers/${enc(name)}/wait`)).body as { StatusCode: number };
  process.stdout.write(`${r.StatusCode}\n`);
  return 0;
}

async function cmdBench(args: string[]): Promise<number> {
  const { values } = parse(args, {
    count: { type: 'string' }, concurrency: { type: 'string' }, vs: { type: 'string' }, json: { type: 'boolean' }, warmup: { type: 'string' },
  }, false);
  const int = (v: string | undefined, dflt: number, what: string) => {
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${what} must be a positive integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const vs = (values.vs ?? '').split(',').filter(Boolean);
  for (const r of vs) if (r !== 'runc' && r !== 'crun') throw new UsageError(`--vs takes runc and/or crun, got ${JSON.stringify(r)}`);
  const { bench } = await import('./bench.js');
  return bench({
    count: int(values.count, 1000, 'count'),
    concurrency: int(values.concurrency, 8, 'concurrency'),
    vs: vs as ('runc' | 'crun')[],
    json: values.json ?? false,
    warmup: values.warmup === undefined ? 20 : Number(values.warmup),
  });
}

async function cmdDaemon(args: string[]): Promise<number> {
  const { runDaemon } = await import('../main/skiffd.js');
  await runDaemon(args);
  return new Promise<number>(() => { /* runs until a signal ends the process */ });
}

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  run: cmdRun,
  ps: cmdPs,
  inspect: cmdInspect,
  logs: cmdLogs,
  console: cmdConsole,
  stop: cmdStop,
  kill: cmdKill,
  rm: cmdRm,
  wait: cmdWait,
  daemon: cmdDaemon,
  bench: cmdBench,
  fleet: cmdFleet,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`skiff: unknown command ${JSON.stringify(name)}\n${USAGE}\n`);
    return 2;
  }
  try {
    return await cmd(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`skiff ${name}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof DaemonError) {
      process.stderr.write(`skiff: ${err.message}\n`);
      return name === 'run' ? 125 : 1;
    }
    process.stderr.write(`skiff: ${(err as Error).message}\n`);
    return name === 'run' ? 125 : 1;
  }
}

export { UsageError };
