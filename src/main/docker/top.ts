// GET /containers/{id}/top?ps_args=: Docker's answer, made as Docker makes it. skiffd runs the
// host's `ps` with the caller's arguments (default -ef) and keeps the rows whose PID column
// names one of the container's processes (lifecycle/processes.ts says which those are).
// `-q PIDS` is added so ps lists only those; some listings refuse it (the forest of `f`), and
// then ps runs again without it, as Docker does. A ps that fails is the caller's 500 with ps's
// first line of stderr; a row whose PID is not a number is one too (no guessing at columns).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Conflict, InvalidArgument } from '../lifecycle/errors.js';
import { containerPids } from '../lifecycle/processes.js';
import type { ContainerRecord } from '../lifecycle/record.js';

const run = promisify(execFile);

export interface TopBody { Titles: string[]; Processes: string[][] }

/** Docker's split: ASCII whitespace only, so a title or command with other spaces stays whole. */
function fields(line: string): string[] {
  return line.split(/[ \t\n\v\f\r]+/).filter((f) => f !== '');
}

/** As Docker refuses them: `-o user=PID` would rename another column PID and fool the filter. */
function checkPsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(/\s+(\S*)=\s*(PID\S*)/g)) {
    if (m[1] !== 'pid') throw new InvalidArgument(`ps_args: specifying "${m[1]}=${m[2]}" is not allowed`, 'ps_args');
  }
}

/** The rows of `ps` output whose PID is one of `pids`; the last column takes the rest of its line. */
export function parsePs(output: string, pids: ReadonlySet<number>): TopBody {
  const lines = output.split('\n');
  const titles = fields(lines[0] ?? '');
  const at = titles.indexOf('PID');
  if (at < 0) throw new Error(`ps: no PID column in its output (titles: ${titles.join(' ') || 'none'})`);
  const processes: string[][] = [];
  let lastKept = false;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const f = fields(line);
    const keep = (row: string[]) => processes.push([...row.slice(0, titles.length - 1), row.slice(titles.length - 1).join(' ')]);
    // A thread's line (ps -m) shows "-" as its PID: it belongs to the process listed above it.
    if (f[at] === '-') {
      if (lastKept) keep(f);
      continue;
    }
    const pid = Number(f[at]);
    if (!/^\d+$/.test(f[at] ?? '')) throw new Error(`ps: unexpected PID ${JSON.stringify(f[at] ?? '')} in the line ${JSON.stringify(line)}`);
    lastKept = pids.has(pid);
    if (lastKept) keep(f);
  }
  return { Titles: titles, Processes: processes };
}

async function ps(args: string[]): Promise<string> {
  const { stdout } = await run('ps', args, { maxBuffer: 64 << 20, encoding: 'utf8' });
  return stdout;
}

/** Docker's top of a running container; Conflict when it is not running. */
export async function containerTop(r: ContainerRecord, psArgs: string | null): Promise<TopBody> {
  const argsText = psArgs === null || psArgs === '' ? '-ef' : psArgs;
  checkPsArgs(argsText);
  if (r.status === 'restarting') throw new Conflict(`Container ${r.name} is restarting, wait until the container is running`);
  if (r.status !== 'running' || r.pid === null) throw new Conflict(`Container ${r.name} is not running`);
  const pids = containerPids(r.pid);
  const args = fields(argsText);
  let output: string;
  try {
    output = await ps([...args, '-q', pids.join(',')]);
  } catch {
    try {
      output = await ps(args);
    } catch (err) {
      const e = err as Error & { stderr?: string; code?: number | string };
      const first = (e.stderr ?? '').split('\n').find((l) => l.trim() !== '');
      throw new Error(`ps ${args.join(' ')}: ${first ?? (typeof e.code === 'number' ? `exit status ${e.code}` : e.message)}`, { cause: err });
    }
  }
  return parsePs(output, new Set(pids));
}
