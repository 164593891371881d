// The image commands: pull, images, rmi, tag, load, save, login, logout. Each is one API call on skiffd's
// Docker-shaped /images paths; pull prints Docker's progress lines one per event.
import { createReadStream, renameSync, rmSync } from 'node:fs';
import { fileWriteStream } from '../sys/write-stream.js';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import { call, stream } from './client.js';
import { act, UsageError, type Declared, type Outcome } from './command.js';
import { formatTable } from './table.js';

const enc = encodeURIComponent;

interface ProgressLine { status?: string; id?: string; progress?: string; error?: string; errorDetail?: { message: string } }

/** Reads Docker's JSON lines; prints each status (a layer's Downloading lines only on a terminal). Returns the error, if any. */
async function follow(res: AsyncIterable<unknown>, quiet: boolean): Promise<string | null> {
  let rest = '';
  let error: string | null = null;
  const tty = process.stdout.isTTY;
  const handle = (text: string) => {
    if (text.trim() === '') return;
    const l = JSON.parse(text) as ProgressLine;
    if (l.error !== undefined) error = l.errorDetail?.message ?? l.error;
    else if (!quiet && l.status && (tty || l.status !== 'Downloading')) process.stdout.write(`${l.id ? `${l.id}: ` : ''}${l.status}${l.progress && tty ? ` ${l.progress}` : ''}\n`);
  };
  for await (const chunk of res) {
    rest += (chunk as Buffer).toString('utf8');
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const t of lines) handle(t);
  }
  handle(rest);
  return error;
}

function pull(o: Outcome): Declared {
  const cmd = new Command('pull')
    .argument('<REF>', 'an image reference: NAME[:TAG] or NAME@sha256:DIGEST (busybox is docker.io/library/busybox:latest)')
    .option('-q, --quiet', 'print only the image reference');
  act(cmd, o, async (ref: string, values: { quiet?: boolean }) => {
    const res = await stream('POST', `/images/create?fromImage=${enc(ref)}`);
    const error = await follow(res, values.quiet === true);
    if (error !== null) throw new Error(error);
    if (values.quiet) process.stdout.write(`${ref}\n`);
    return 0;
  });
  return { cmd, summary: 'pull an image from a registry into skiffd\'s image store', examples: ['skiff pull 127.0.0.1:5000/test/bb:1', 'skiff pull busybox'] };
}

interface Summary { Id: string; RepoTags: string[]; Created: number; Size: number; Containers: number }

function images(o: Outcome): Declared {
  const cmd = new Command('images').option('-q, --quiet', 'print only image ids').option('--json', 'print JSON instead of a table');
  act(cmd, o, async (values: { quiet?: boolean; json?: boolean }) => {
    const list = (await call('GET', '/images/json')).body as Summary[];
    if (values.json) {
      process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return 0;
    }
    if (values.quiet) {
      process.stdout.write(list.map((i) => `${i.Id.slice(7, 19)}\n`).join(''));
      return 0;
    }
    const rows = list.flatMap((i) => (i.RepoTags.length ? i.RepoTags : ['<none>:<none>']).map((t) => {
      const at = t.lastIndexOf(':');
      return [t.slice(0, at), t.slice(at + 1), i.Id.slice(7, 19), new Date(i.Created * 1000).toISOString().slice(0, 19).replace('T', ' '), `${(i.Size / 1e6).toFixed(1)}MB`];
    }));
    process.stdout.write(formatTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows));
    return 0;
  });
  return { cmd, summary: 'list stored images', examples: ['skiff images', 'skiff images -q'] };
}

function rmi(o: Outcome): Declared {
  const cmd = new Command('rmi').argument('<IMAGE...>', 'images by reference or id').option('-f, --force', 'remove even if a container uses it (its layers stay until the container goes)');
  act(cmd, o, async (names: string[], values: { force?: boolean }) => {
    for (const n of names) {
      const out = (await call('DELETE', `/images/${enc(n)}${values.force ? '?force=1' : ''}`)).body as Record<string, string>[];
      for (const e of out) process.stdout.write(`${Object.entries(e).map(([k, v]) => `${k}: ${v}`).join('')}\n`);
    }
    return 0;
  });
  return { cmd, summary: 'remove images (409 while a container uses one, unless -f)', examples: ['skiff rmi 127.0.0.1:5000/test/bb:1'] };
}

function tag(o: Outcome): Declared {
  const cmd = new Command('tag').argument('<SOURCE>', 'an image by reference or id').argument('<TARGET>', 'the new NAME[:TAG]');
  act(cmd, o, async (source: string, target: string) => {
    const slash = target.lastIndexOf('/');
    const colon = target.lastIndexOf(':');
    if (target.includes('@')) throw new UsageError(`TARGET ${JSON.stringify(target)} must be NAME[:TAG], not a digest`);
    const [repo, t] = colon > slash ? [target.slice(0, colon), target.slice(colon + 1)] : [target, 'latest'];
    await call('POST', `/images/${enc(source)}/tag?repo=${enc(repo)}&tag=${enc(t)}`);
    return 0;
  });
  return { cmd, summary: 'give an image another reference', examples: ['skiff tag busybox mybox:1'] };
}

function load(o: Outcome): Declared {
  const cmd = new Command('load').option('-i, --input <FILE>', 'a `docker save` archive or an OCI image layout, as a tar file (default: standard input)');
  act(cmd, o, async (values: { input?: string }) => {
    if (values.input === undefined && process.stdin.isTTY) throw new UsageError('give the archive with -i FILE or on standard input, not a terminal');
    const upload = values.input === undefined ? process.stdin : createReadStream(values.input);
    const res = await stream('POST', '/images/load', { upload, headers: { 'Content-Type': 'application/x-tar' } });
    for await (const chunk of res) {
      for (const line of (chunk as Buffer).toString('utf8').split('\n')) {
        if (line.trim()) process.stdout.write((JSON.parse(line) as { stream?: string }).stream ?? '');
      }
    }
    return 0;
  });
  return { cmd, summary: 'load images from a `docker save` archive or an OCI layout tar', examples: ['skiff load -i busybox.tar'] };
}

function save(o: Outcome): Declared {
  const cmd = new Command('save').argument('<IMAGE>', 'an image by reference or id').option('-o, --output <FILE>', 'where to write the archive (default: standard output, unless a terminal)');
  act(cmd, o, async (name: string, values: { output?: string }) => {
    if (values.output === undefined && process.stdout.isTTY) throw new UsageError('give a file with -o FILE or redirect standard output: an archive is no text for a terminal');
    const res = await stream('GET', `/images/${enc(name)}/get`);
    if (values.output === undefined) {
      await pipeline(res, process.stdout);
      return 0;
    }
    // Written beside the target and renamed: a failed save leaves no half archive under its name.
    const tmp = `${values.output}.part`;
    try {
      await pipeline(res, fileWriteStream(tmp, 0o666));
      renameSync(tmp, values.output);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    return 0;
  });
  return { cmd, summary: 'write an image as a `docker save` archive', examples: ['skiff save -o bb.tar 127.0.0.1:5000/test/bb:1'] };
}

/** All of standard input, less one trailing newline (`echo secret |` and files with one). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function login(o: Outcome): Declared {
  const cmd = new Command('login')
    .argument('[SERVER]', 'the registry (host[:port]); default Docker Hub')
    .option('-u, --username <USER>', 'the user name')
    .option('--password-stdin', 'read the password from standard input');
  act(cmd, o, async (server: string | undefined, values: { username?: string; passwordStdin?: boolean }) => {
    if (!values.username) throw new UsageError('give the user name with -u USER');
    // A password on the command line would show in ps and shell history: only standard input.
    if (!values.passwordStdin) throw new UsageError('give the password on standard input with --password-stdin');
    if (process.stdin.isTTY) throw new UsageError('--password-stdin reads a pipe or a file, not a terminal');
    const password = await readStdin();
    if (password === '') throw new UsageError('the password on standard input is empty');
    await call('POST', '/auth', { username: values.username, password, ...(server ? { serveraddress: server } : {}) });
    process.stdout.write('Login Succeeded\n');
    return 0;
  });
  return {
    cmd,
    summary: 'check a registry login and save it for skiffd\'s pulls (skiff pull, fleets)',
    examples: ['skiff login reg.lan:5000 -u alice --password-stdin < token.txt'],
  };
}

function logout(o: Outcome): Declared {
  const cmd = new Command('logout').argument('[SERVER]', 'the registry (host[:port]); default Docker Hub');
  act(cmd, o, async (server: string | undefined) => {
    const r = (await call('DELETE', `/auth/${enc(server ?? 'docker.io')}`)).body as { Status: string };
    process.stdout.write(`${r.Status}\n`);
    return 0;
  });
  return { cmd, summary: 'forget a saved registry login', examples: ['skiff logout reg.lan:5000'] };
}

export function imageCommands(o: Outcome): Declared[] {
  return [pull(o), images(o), rmi(o), tag(o), load(o), save(o), login(o), logout(o)];
}
