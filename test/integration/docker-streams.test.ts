// A container without a TTY has three pipes, as Docker gives it: stdout and stderr apart all
// the way to the client, stdin a pipe whose end reaches the container. Driven through the
// docker CLI (28), docker-py and dockerode, and the API where a client hides the detail.
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import Docker from 'dockerode';
import { open, readAll, upgrade } from '../../src/api/http-client.js';
import { requireDocker, until, useDaemon } from '../support/daemon.js';

interface Ran { code: number | null; stdout: string; stderr: string }

/** Docker's 8-byte frames → [stream, text] pairs. */
function frames(buf: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (let off = 0; off + 8 <= buf.length;) {
    const size = buf.readUInt32BE(off + 4);
    out.push([buf[off]!, buf.subarray(off + 8, off + 8 + size).toString('utf8')]);
    off += 8 + size;
  }
  return out;
}

function joined(fs: Array<[number, string]>, stream: number): string {
  return fs.filter(([s]) => s === stream).map(([, t]) => t).join('');
}

describe('container stdio without a TTY: three pipes, as Docker gives', function () {
  this.timeout(60_000);
  before(requireDocker);
  const d = useDaemon();

  /** The docker CLI with `input` on its stdin (then closed), or with stdin held open when input is null. */
  function docker(args: string[], input: string | null): { done: Promise<Ran>; pid: number } {
    const child = spawn('docker', args, { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    if (input !== null) child.stdin.end(input);
    const done = new Promise<Ran>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
    return { done, pid: child.pid! };
  }

  const logs = async (name: string, query: string): Promise<Buffer> => {
    // The bytes as sent: frame headers are binary, not text.
    const res = await open(d.socket, 'GET', `/containers/${name}/logs?${query}`);
    const body = await readAll(res);
    expect(res.statusCode, body.toString()).to.equal(200);
    return body;
  };

  it('docker run: stdout on stdout only, stderr on stderr only', async () => {
    const r = await docker(['run', '--rm', 'host', 'sh', '-c', 'echo out; echo err >&2'], '').done;
    expect(r).to.deep.equal({ code: 0, stdout: 'out\n', stderr: 'err\n' });
    // the exit code still comes through, with stderr apart
    const bad = await docker(['run', '--rm', 'host', 'sh', '-c', 'echo oops >&2; exit 3'], '').done;
    expect(bad).to.deep.equal({ code: 3, stdout: '', stderr: 'oops\n' });
  });

  it('docker run -i: the end of input reaches the container (wc -c, sort -r, cat)', async () => {
    expect(await docker(['run', '--rm', '-i', 'host', 'wc', '-c'], 'hello\n').done).to.deep.equal({ code: 0, stdout: '6\n', stderr: '' });
    expect(await docker(['run', '--rm', '-i', 'host', 'sort', '-r'], 'a\nb\n').done).to.deep.equal({ code: 0, stdout: 'b\na\n', stderr: '' });
    expect(await docker(['run', '-i', '--name', 'cat-x', 'host', 'cat'], 'x\n').done).to.deep.equal({ code: 0, stdout: 'x\n', stderr: '' });
    // without -i, stdin is /dev/null: a reader sees its end at once
    const inspect = await d.api('GET', '/containers/cat-x/json');
    expect((inspect.body as { Config: { OpenStdin: boolean; StdinOnce: boolean } }).Config).to.include({ OpenStdin: true, StdinOnce: true });
    await d.docker(['rm', 'cat-x']);
    expect(await docker(['run', '--rm', 'host', 'sh', '-c', 'wc -c; ls -l /proc/self/fd/0'], 'ignored\n').done)
      .to.satisfy((r: Ran) => r.code === 0 && r.stdout.startsWith('0\n') && r.stdout.includes('/dev/null'));
  });

  it('a killed docker run -i ends the container\'s input: it does not keep running', async () => {
    const run = docker(['run', '-i', '--name', 'orphan', 'host', 'cat'], null);
    await until(async () => ((await d.api('GET', '/containers/orphan/json')).body as { State?: { Running: boolean } }).State?.Running, 'orphan running');
    process.kill(run.pid, 'SIGKILL');
    await run.done;
    const waited = await d.api('POST', '/containers/orphan/wait');
    expect(waited.body).to.deep.include({ StatusCode: 0 });
    await d.api('DELETE', '/containers/orphan');
  });

  it('a flood on one stream never stalls the container; the ring keeps the last bytes of both streams', async () => {
    for (const [flood, other] of [['>&2', ''], ['', '>&2']] as const) {
      const name = `flood${flood ? '-err' : '-out'}`;
      // 16 MiB on one stream with nobody attached, then two lines on each, alternating.
      const script = `head -c 16777216 /dev/zero ${flood}; echo A1 ${flood}; echo B1 ${other}; echo A2 ${flood}; echo B2 ${other}`;
      const created = await d.api('POST', `/containers/create?name=${name}`, { Image: 'host', Cmd: ['sh', '-c', script], HostConfig: { NetworkMode: 'none' } });
      expect(created.status, created.text).to.equal(201);
      expect((await d.api('POST', `/containers/${name}/start`)).status).to.equal(204);
      // A generous bound, not a budget: a container that stalls on a full pipe never finishes.
      const waited = await d.api('POST', `/containers/${name}/wait`);
      expect(waited.body).to.deep.include({ StatusCode: 0 });
      const fs = frames(await logs(name, 'stdout=1&stderr=1'));
      const floodStream = flood ? 2 : 1;
      const otherStream = flood ? 1 : 2;
      expect(joined(fs, floodStream).endsWith('\0A1\nA2\n'), 'the flooded stream ends with its last lines').to.equal(true);
      expect(joined(fs, otherStream)).to.equal('B1\nB2\n');
      expect(fs.every(([s]) => s === 1 || s === 2)).to.equal(true);
      await d.api('DELETE', `/containers/${name}`);
    }
  });

  it('docker logs --timestamps, --since, --until, and the stdout/stderr filters', async () => {
    const created = await d.api('POST', '/containers/create?name=stamps', { Image: 'host', Cmd: ['sh', '-c', 'echo o1; echo e1 >&2; read go; echo o2; echo e2 >&2'], OpenStdin: true, Skiff: { Console: { log: true } } });
    expect(created.status, created.text).to.equal(201);
    await d.api('POST', '/containers/stamps/start');
    await until(async () => (await logs('stamps', 'stdout=1&stderr=1')).includes('e1'), 'the first lines');
    // The second lines only after the first are in the ring: their times differ.
    const att = await upgrade(d.socket, '/containers/stamps/attach?stream=1&stdin=1');
    if (att.refused) throw new Error(att.refused.text);
    att.socket.write('go\n');
    expect((await d.api('POST', '/containers/stamps/wait')).body).to.deep.include({ StatusCode: 0 });
    att.socket.destroy();

    const stamped = await docker(['logs', '--timestamps', 'stamps'], '').done;
    const line = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (\S+)$/;
    const out = stamped.stdout.trim().split('\n').map((l) => line.exec(l));
    const err = stamped.stderr.trim().split('\n').map((l) => line.exec(l));
    expect(out.map((m) => m?.[2])).to.deep.equal(['o1', 'o2']);
    expect(err.map((m) => m?.[2])).to.deep.equal(['e1', 'e2']);
    const t1 = Date.parse(out[0]![1]!);
    const t2 = Date.parse(out[1]![1]!);
    expect(t2).to.be.greaterThan(t1);
    // A time between the two runs of output, as unix seconds with a fraction and as RFC 3339.
    const mid = (Date.parse(err[0]![1]!) + t2) / 2;
    const unix = (mid / 1000).toFixed(6);
    const rfc = new Date(mid).toISOString();
    for (const since of [unix, rfc]) {
      expect(await docker(['logs', '--since', since, 'stamps'], '').done).to.deep.include({ code: 0, stdout: 'o2\n', stderr: 'e2\n' });
      expect(await docker(['logs', '--until', since, 'stamps'], '').done).to.deep.include({ code: 0, stdout: 'o1\n', stderr: 'e1\n' });
    }
    expect(frames(await logs('stamps', 'stdout=1&stderr=0'))).to.deep.equal([[1, 'o1\n'], [1, 'o2\n']]);
    expect(frames(await logs('stamps', 'stdout=0&stderr=1'))).to.deep.equal([[2, 'e1\n'], [2, 'e2\n']]);
    const neither = await d.api('GET', '/containers/stamps/logs?stdout=0&stderr=0');
    expect(neither.status).to.equal(400);
    expect(neither.text).to.include('you must choose at least one stream');
    const badSince = await d.api('GET', '/containers/stamps/logs?stdout=1&since=yesterday');
    expect(badSince.status).to.equal(400);
    expect((badSince.body as { message: string }).message).to.include('invalid since "yesterday"');
    // the log file keeps the streams apart too (skiff's source=file)
    expect(frames(await logs('stamps', 'stdout=1&stderr=1&source=file')).map(([s, t]) => `${s}${t}`).sort()).to.deep.equal(['1o1\n', '1o2\n', '2e1\n', '2e2\n']);
    await d.api('DELETE', '/containers/stamps');
  });

  it('skiff run and skiff logs: each stream to its own fd; skiff run -i ends the container\'s input at its own', async () => {
    expect(await d.cli(['run', '--name', 'sk', 'host', 'sh', '-c', 'echo out; echo err >&2; exit 5'])).to.deep.equal({ code: 5, stdout: 'out\n', stderr: 'err\n' });
    expect(await d.cli(['logs', 'sk'])).to.deep.equal({ code: 0, stdout: 'out\n', stderr: 'err\n' });
    const stamped = await d.cli(['logs', '--timestamps', 'sk']);
    expect(stamped.stdout).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out\n$/);
    await d.cli(['rm', 'sk']);
    expect(await d.cli(['run', '--rm', '-i', 'host', 'wc', '-c'], { input: 'hello\n' })).to.deep.equal({ code: 0, stdout: '6\n', stderr: '' });
  });

  it('docker-py: run with stdout/stderr chosen, ContainerError.stderr', async () => {
    const script = [
      'import docker, json',
      "c = docker.from_env(version='1.41')",
      "out = c.containers.run('host', ['sh', '-c', 'echo out; echo err >&2'], stdout=True, stderr=False, remove=True)",
      "err = c.containers.run('host', ['sh', '-c', 'echo out; echo err >&2'], stdout=False, stderr=True, remove=True)",
      'try:',
      "    c.containers.run('host', ['sh', '-c', 'echo fine; echo broken >&2; exit 4'], remove=True)",
      '    failed = None',
      'except docker.errors.ContainerError as e:',
      '    failed = [e.exit_status, e.stderr.decode()]',
      "print(json.dumps([out.decode(), err.decode(), failed]))",
    ].join('\n');
    const r = await new Promise<Ran>((resolve) => {
      const child = spawn('/usr/bin/python3', ['-c', script], { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, PYTHONPATH: '' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal(['out\n', 'err\n', [4, 'broken\n']]);
  });

  it('dockerode: attach before start, demuxStream splits the streams, stdin ends with the connection\'s write side', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const c = await docker.createContainer({ name: 'dode', Image: 'host', Cmd: ['sh', '-c', 'tr a-z A-Z; echo done >&2'], OpenStdin: true, StdinOnce: true, AttachStdin: true });
    const stream = await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const o = new PassThrough().on('data', (b: Buffer) => out.push(b));
    const e = new PassThrough().on('data', (b: Buffer) => err.push(b));
    docker.modem.demuxStream(stream, o, e);
    const ended = new Promise((resolve) => stream.on('end', resolve));
    await c.start();
    stream.end('shout\n'); // half-close: the container's stdin ends, tr finishes
    await ended;
    expect((await c.wait()) as { StatusCode: number }).to.deep.include({ StatusCode: 0 });
    expect(Buffer.concat(out).toString()).to.equal('SHOUT\n');
    expect(Buffer.concat(err).toString()).to.equal('done\n');
    await c.remove();
  });

  it('attach detachKeys (TTY): the sequence ends the stream, the container runs on; a bad one is refused by name', async () => {
    const created = await d.api('POST', '/containers/create?name=keys', { Image: 'host', Cmd: ['cat'], Tty: true, OpenStdin: true });
    expect(created.status, created.text).to.equal(201);
    await d.api('POST', '/containers/keys/start');
    const bad = await upgrade(d.socket, '/containers/keys/attach?stream=1&stdin=1&detachKeys=ctrl-%C3%A9');
    expect(bad.refused?.status).to.equal(400);
    expect(bad.refused?.text).to.include('detachKeys').and.include('invalid detach key');
    const att = await upgrade(d.socket, '/containers/keys/attach?stream=1&stdin=1&stdout=1&logs=0&detachKeys=ctrl-x,q');
    if (att.refused) throw new Error(att.refused.text);
    let seen = '';
    att.socket.on('data', (b: Buffer) => { seen += b.toString('latin1'); });
    const ended = new Promise((resolve) => att.socket.on('close', resolve));
    att.socket.write('hi\n');
    await until(() => seen.includes('hi'), 'the echo of the first line');
    att.socket.write(Buffer.from([0x18, 0x71])); // ctrl-x, q
    await ended;
    const state = (await d.api('GET', '/containers/keys/json')).body as { State: { Running: boolean } };
    expect(state.State.Running).to.equal(true);
    await d.api('DELETE', '/containers/keys?force=1');
  });
});
