// skiff-oci: the runtime command line containerd's runc shim, conmon and podman call, as they
// call runc. Daemonless: each call does its work and exits. Global options come before the
// command; options are Go-style (`--x v`, `--x=v`, `-x v`). Each command's module is imported
// only when called, so that `state` or `kill` costs Node's start-up and little more. A call runs
// in its own process (bin/skiff-oci.js) or in the warm server (src/oci/server.ts): `io` says
// where its output goes and how create launches, and paths are taken from the caller's cwd.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { localIo, type CallIo } from './call-io.js';
import { OciError, log, type LogTarget } from './errors.js';
import { checkId, parseSignal } from './ids.js';
import { DEFAULT_ROOT } from './store.js';

export const SPEC_VERSION = '1.2.0';

const USAGE = `usage: skiff-oci [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS] ID
commands:
  create --bundle DIR [--pid-file FILE] [--console-socket SOCK] [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID
  start ID          state ID          kill [--all] ID [SIGNAL]          delete [--force] ID
  ps [--format table|json] ID        pause ID          resume ID         update --resources FILE|- ID
  exec --process FILE [--detach] [--pid-file FILE] [--console-socket SOCK] [--preserve-fds N] ID
  features          --version
`;

interface Parsed {
  flags: Map<string, string | true>;
  args: string[];
}

/** Options of a command: `valued` ones take a value, the others are switches. */
function parseArgs(argv: readonly string[], valued: readonly string[], switches: readonly string[], what: string): Parsed {
  const flags = new Map<string, string | true>();
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      args.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if (valued.includes(name)) {
      const value = eq < 0 ? argv[++i] : body.slice(eq + 1);
      if (value === undefined) throw new OciError(`${what}: --${name} needs a value`);
      flags.set(name, value);
    } else if (switches.includes(name)) {
      if (eq >= 0 && !['true', 'false'].includes(body.slice(eq + 1))) throw new OciError(`${what}: --${name} is a switch, got ${JSON.stringify(body.slice(eq + 1))}`);
      if (eq < 0 || body.slice(eq + 1) === 'true') flags.set(name, true);
    } else {
      throw new OciError(`${what}: unknown option ${JSON.stringify(a)}`);
    }
  }
  return { flags, args };
}

function value(p: Parsed, name: string): string | null {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : null;
}

/** A path option, taken from the caller's working directory. */
function pathValue(p: Parsed, cwd: string, ...names: string[]): string | null {
  for (const name of names) {
    const v = value(p, name);
    if (v !== null) return resolve(cwd, v);
  }
  return null;
}

function oneId(p: Parsed, command: string): string {
  if (p.args.length !== 1) throw new OciError(`${command}: expects exactly one container id, got ${p.args.length} arguments`);
  return checkId(p.args[0]);
}

function version(): string {
  let v = 'unknown';
  try {
    v = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    // not in the package layout: say so rather than guess
  }
  return `skiff-oci version ${v}\ncommit: ${process.env.SKIFF_COMMIT ?? 'unknown'}\nspec: ${SPEC_VERSION}\n`;
}

const GLOBAL_VALUED = ['root', 'log', 'log-format', 'criu', 'rootless'];
const GLOBAL_SWITCHES = ['systemd-cgroup', 'debug', 'version', 'v', 'help', 'h'];

/** The global options, up to the first word that is not one: the command. */
function splitGlobals(argv: readonly string[]): { globals: Parsed; command: string | null; rest: string[] } {
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const a = argv[i]!;
    if (GLOBAL_VALUED.includes(a.replace(/^--?/, '')) && !a.includes('=')) i++;
  }
  return { globals: parseArgs(argv.slice(0, i), GLOBAL_VALUED, GLOBAL_SWITCHES, 'skiff-oci'), command: argv[i] ?? null, rest: argv.slice(i + 1) };
}

/** Runs the call; an exit status other than 0 it returns is the call's own (exec's process's). */
async function run(argv: readonly string[], logTarget: LogTarget, io: CallIo): Promise<void | number> {
  const { globals, command, rest } = splitGlobals(argv);
  const root = pathValue(globals, io.cwd, 'root') ?? DEFAULT_ROOT;
  const writeOut = (text: string): void => io.out(text);
  if (globals.flags.has('version') || globals.flags.has('v')) return writeOut(version());
  if (globals.flags.has('help') || globals.flags.has('h') || command === null) return writeOut(USAGE);
  if (globals.flags.has('systemd-cgroup')) throw new OciError('--systemd-cgroup: skiff-oci has no systemd cgroup driver; configure the engine for cgroupfs (SystemdCgroup = false, --cgroup-manager cgroupfs)');
  switch (command) {
    case 'create': {
      const p = parseArgs(rest, ['bundle', 'b', 'pid-file', 'console-socket', 'preserve-fds'], ['no-pivot', 'no-new-keyring', 'detach', 'd'], 'create');
      const preserve = value(p, 'preserve-fds') ?? '0';
      if (!/^\d+$/.test(preserve) || Number(preserve) > 1024) throw new OciError(`create: --preserve-fds must be a number of fds from 0 to 1024, got ${JSON.stringify(preserve)}`);
      const { create } = await import('./create.js');
      return create({
        root, id: oneId(p, 'create'), bundle: pathValue(p, io.cwd, 'bundle', 'b') ?? io.cwd,
        pidFile: pathValue(p, io.cwd, 'pid-file'), consoleSocket: pathValue(p, io.cwd, 'console-socket'), preserveFds: Number(preserve),
      }, io);
    }
    case 'start':
      return (await import('./lifecycle.js')).start(root, oneId(parseArgs(rest, [], [], 'start'), 'start'), logTarget, io);
    case 'state':
      return (await import('./lifecycle.js')).state(root, oneId(parseArgs(rest, [], [], 'state'), 'state'), io);
    case 'kill': {
      const p = parseArgs(rest, [], ['all', 'a'], 'kill');
      if (p.args.length < 1 || p.args.length > 2) throw new OciError(`kill: expects ID [SIGNAL], got ${p.args.length} arguments`);
      const id = checkId(p.args[0]);
      const signal = parseSignal(p.args[1] ?? 'SIGTERM');
      return (await import('./lifecycle.js')).kill(root, id, signal, p.flags.has('all') || p.flags.has('a'));
    }
    case 'delete': {
      const p = parseArgs(rest, [], ['force', 'f'], 'delete');
      return (await import('./lifecycle.js')).remove(root, oneId(p, 'delete'), p.flags.has('force') || p.flags.has('f'), logTarget, io);
    }
    case 'ps': {
      const p = parseArgs(rest, ['format', 'f'], [], 'ps');
      const format = value(p, 'format') ?? value(p, 'f') ?? 'table';
      if (format !== 'table' && format !== 'json') throw new OciError(`ps: --format must be table or json, got ${JSON.stringify(format)}`);
      return (await import('./lifecycle.js')).ps(root, oneId(p, 'ps'), format === 'json', io);
    }
    case 'pause':
      return (await import('./lifecycle.js')).pauseContainer(root, oneId(parseArgs(rest, [], [], 'pause'), 'pause'));
    case 'resume':
      return (await import('./lifecycle.js')).resume(root, oneId(parseArgs(rest, [], [], 'resume'), 'resume'));
    case 'update': {
      const p = parseArgs(rest, ['resources', 'r'], [], 'update');
      const file = value(p, 'resources') ?? value(p, 'r');
      // `-` is the caller's stdin
      if (file === null) throw new OciError('update: --resources FILE|- is needed (the other runc update flags are not supported by skiff-oci)');
      return (await import('./update.js')).update(root, oneId(p, 'update'), file === '-' ? file : resolve(io.cwd, file));
    }
    case 'features':
      parseArgs(rest, [], [], 'features');
      return writeOut(`${JSON.stringify((await import('./features.js')).features(), null, 2)}\n`);
    case 'exec': {
      const p = parseArgs(rest, ['process', 'p', 'console-socket', 'pid-file', 'preserve-fds'], ['detach', 'd'], 'exec');
      const file = pathValue(p, io.cwd, 'process', 'p');
      if (file === null) throw new OciError('exec: --process FILE is needed (the process as JSON; the command-line form of runc exec is not supported by skiff-oci)');
      const preserve = value(p, 'preserve-fds') ?? '0';
      if (!/^\d+$/.test(preserve) || Number(preserve) > 1024) throw new OciError(`exec: --preserve-fds must be a number of fds from 0 to 1024, got ${JSON.stringify(preserve)}`);
      const { exec } = await import('./exec.js');
      return exec({
        root, id: oneId(p, 'exec'), processFile: file, consoleSocket: pathValue(p, io.cwd, 'console-socket'),
        detach: p.flags.has('detach') || p.flags.has('d'), pidFile: pathValue(p, io.cwd, 'pid-file'), preserveFds: Number(preserve),
      });
    }
    case 'checkpoint': case 'restore': case 'events': case 'list': case 'run': case 'spec':
      throw new OciError(`${command}: not supported by skiff-oci`);
    default:
      throw new OciError(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

/**
 * Calls that only their caller's own process can make: exec (the process it starts takes the
 * caller's fds and, without --detach, is waited for by it) and update (`--resources -` reads
 * the caller's stdin). The server hands these back to the Node command line.
 */
export function needsOwnProcess(argv: readonly string[]): boolean {
  try {
    const { command } = splitGlobals(argv);
    return command === 'exec' || command === 'update';
  } catch {
    return false; // bad global options: the call reports them wherever it runs
  }
}

/** Runs one call; returns the exit status (0, or 1 with the error logged). */
export async function main(argv: readonly string[], io: CallIo = localIo()): Promise<number> {
  const logIdx = argv.findIndex((a) => a === '--log' || a.startsWith('--log='));
  const fmtIdx = argv.findIndex((a) => a === '--log-format' || a.startsWith('--log-format='));
  const pick = (i: number, name: string): string | null => (i < 0 ? null : argv[i]!.startsWith(`${name}=`) ? argv[i]!.slice(name.length + 1) : argv[i + 1] ?? null);
  const format = pick(fmtIdx, '--log-format') ?? 'text';
  const logFile = pick(logIdx, '--log');
  const logTarget: LogTarget = { file: logFile === null ? null : resolve(io.cwd, logFile), format: format === 'json' ? 'json' : 'text', stderr: (text) => io.err(text) };
  try {
    if (format !== 'text' && format !== 'json') throw new OciError(`--log-format must be text or json, got ${JSON.stringify(format)}`);
    return (await run(argv, logTarget, io)) ?? 0;
  } catch (err) {
    log(logTarget, 'error', err instanceof OciError ? err.message : `internal error: ${(err as Error).stack ?? String(err)}`);
    return 1;
  }
}
