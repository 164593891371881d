// dockerode (4.x) against a real skiffd: the calls a Node program makes, with the bodies
// dockerode sends (its `name` in the create body, `VolumesFrom` and the rest of docker.run's).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import Docker from 'dockerode';
import { useDaemon } from '../support/daemon.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';
import { TempDirs } from '../support/tmp.js';

/** A writable stream that keeps what it is given, as text. */
/** @types/dockerode leaves wait()'s answer and the modem untyped: the two things these tests read of them. */
async function waitFor(c: Docker.Container): Promise<{ StatusCode: number }> {
  return (await c.wait()) as { StatusCode: number };
}

function demux(c: Docker.Container, stream: NodeJS.ReadableStream, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void {
  (c.modem as { demuxStream(s: NodeJS.ReadableStream, o: NodeJS.WritableStream, e: NodeJS.WritableStream): void }).demuxStream(stream, out, err);
}

function sink(): PassThrough & { text: () => string } {
  const chunks: Buffer[] = [];
  const s = new PassThrough();
  s.on('data', (b: Buffer) => chunks.push(b));
  return Object.assign(s, { text: () => Buffer.concat(chunks).toString('utf8') });
}

/** Reads a stream to its end. */
function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (b: Buffer) => chunks.push(b));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

describe('dockerode against skiffd', function () {
  this.timeout(60_000);
  // Not about networks, and skiffd runs in the host's namespace: its Docker API creates that name
  // no network stay on none rather than join bridge (test/integration/networks.test.ts covers that).
  const d = useDaemon(['--docker-network', 'none']);
  const tmp = new TempDirs();
  let docker: Docker;
  let rootfs: string;
  let shared: string;

  before(() => {
    docker = new Docker({ socketPath: d.socket });
    rootfs = buildBusyboxRootfs(tmp.make('rootfs'));
    shared = tmp.make('shared');
    writeFileSync(join(shared, 'note'), 'shared\n');
  });
  after(() => tmp.removeAll());

  it('createContainer (name in the body too), start, logs demuxed, inspect, remove', async () => {
    const c = await docker.createContainer({ name: 'dd-a', Image: 'host', Cmd: ['/bin/echo', 'hello'], Labels: { app: 'dd' } });
    await c.start();
    expect((await waitFor(c)).StatusCode).to.equal(0);
    const logs = await c.logs({ stdout: true, stderr: true, follow: false });
    const out = sink();
    const err = sink();
    const framed = new PassThrough();
    docker.modem.demuxStream(framed, out, err);
    framed.end(logs);
    await new Promise((r) => framed.on('end', r));
    // Everything is on stdout for now (one pty per container).
    expect([out.text(), err.text()]).to.deep.equal(['hello\n', '']);
    const info = await c.inspect();
    expect(info.Name).to.equal('/dd-a');
    expect(info.State).to.include({ Status: 'exited', Running: false, ExitCode: 0 });
    expect(info.HostConfig.LogConfig).to.deep.equal({ Type: 'json-file', Config: { 'skiff-ring-bytes': '1048576' } });
    expect(info.Config.Labels).to.deep.equal({ app: 'dd' });
    await c.remove();
  });

  it('docker.run: attach before start, the output through demuxStream, the exit status', async () => {
    const out = sink();
    const err = sink();
    const [result, container] = await docker.run('host', ['/bin/sh', '-c', 'echo one; echo two; exit 5'], [out, err], { Tty: false }) as [{ StatusCode: number }, Docker.Container];
    expect(result.StatusCode).to.equal(5);
    expect(out.text()).to.equal('one\ntwo\n');
    await container.remove();
  });

  it('container.attach streams a running container\'s output', async () => {
    const c = await docker.createContainer({ name: 'dd-att', Image: 'host', Cmd: ['/bin/sh', '-c', 'for i in 1 2 3; do echo line$i; done'] });
    const stream = await c.attach({ stream: true, stdout: true, stderr: true });
    const out = sink();
    demux(c, stream, out, sink());
    const ended = new Promise((r) => stream.on('end', r));
    await c.start();
    await c.wait();
    await ended;
    expect(out.text()).to.equal('line1\nline2\nline3\n');
    await c.remove();
  });

  it('listContainers with label and name filters; restart; kill', async () => {
    const a = await docker.createContainer({ name: 'dd-red', Image: 'host', Cmd: ['/bin/sleep', '30'], Labels: { color: 'red' } });
    const b = await docker.createContainer({ name: 'dd-blue', Image: 'host', Cmd: ['/bin/sleep', '30'], Labels: { color: 'blue' } });
    await a.start();
    await b.start();
    const names = (l: Docker.ContainerInfo[]) => l.map((c) => c.Names[0]).sort();
    expect(names(await docker.listContainers({ filters: { label: ['color=red'] } }))).to.deep.equal(['/dd-red']);
    expect(names(await docker.listContainers({ filters: { label: ['color'] } }))).to.deep.equal(['/dd-blue', '/dd-red']);
    expect(names(await docker.listContainers({ filters: { name: ['dd-bl'] } }))).to.deep.equal(['/dd-blue']);
    expect(names(await docker.listContainers({ filters: JSON.stringify({ name: ['^/dd-red$'] }) }))).to.deep.equal(['/dd-red']);
    const before = (await a.inspect()).State.Pid;
    await a.restart({ t: 1 });
    const after = await a.inspect();
    expect(after.State.Running).to.equal(true);
    expect(after.State.Pid).to.not.equal(before);
    await b.kill();
    expect((await waitFor(b)).StatusCode).to.equal(137);
    expect(names(await docker.listContainers({ all: true, filters: { status: ['exited'] } }))).to.deep.equal(['/dd-blue']);
    await a.remove({ force: true });
    await b.remove();
  });

  it('a rootfs directory (Skiff.Rootfs): a missing bind target and workdir are made, as Docker makes them', async () => {
    const c = await docker.createContainer({
      name: 'dd-dir', Image: 'host', Cmd: ['/bin/sh', '-c', 'pwd; cat /mnt/deep/note'], WorkingDir: '/srv/work',
      HostConfig: { Binds: [`${shared}:/mnt/deep:ro`], VolumesFrom: null, Memory: 0, PortBindings: {} },
      Skiff: { Rootfs: rootfs },
    } as Docker.ContainerCreateOptions);
    const stream = await c.attach({ stream: true, stdout: true, stderr: true });
    const out = sink();
    demux(c, stream, out, sink());
    const ended = new Promise((r) => stream.on('end', r));
    await c.start();
    expect((await waitFor(c)).StatusCode).to.equal(0);
    await ended;
    expect(out.text()).to.equal('/srv/work\nshared\n');
    expect(existsSync(join(rootfs, 'mnt/deep')) && existsSync(join(rootfs, 'srv/work'))).to.equal(true);
    await c.remove();
  });

  it('known fields skiff cannot honour: 400 naming the field and the value', async () => {
    const refused = async (HostConfig: object): Promise<string> => {
      const e = await docker.createContainer({ Image: 'host', Cmd: ['/bin/true'], HostConfig }).then(() => null, (err: { statusCode: number; json: { message: string } }) => err);
      expect(e?.statusCode).to.equal(400);
      return e!.json.message;
    };
    expect(await refused({ VolumesFrom: ['other'] })).to.equal('HostConfig.VolumesFrom ["other"] is not supported by skiff: skiff has no volumes to share between containers (bind a host directory: Binds)');
    expect(await refused({ BlkioWeight: 300 })).to.equal('HostConfig.BlkioWeight 300 is not supported by skiff: skiff sets memory, CPU, cpuset and pids limits only (no block I/O, realtime, kernel memory, swappiness or ulimits)');
    expect(await refused({ Memory: 1024 })).to.equal('HostConfig.Memory must be a number of bytes of at least 6291456 (6m), got 1024');
    expect(await docker.listContainers({ all: true })).to.deep.equal([]);
  });

  it('getEvents: since/until and filters by container and event', async () => {
    const since = Date.now() / 1000;
    const c = await docker.createContainer({ name: 'dd-ev', Image: 'host', Cmd: ['/bin/true'] });
    await c.start();
    await c.wait();
    await c.remove();
    const until = Date.now() / 1000;
    const stream = await docker.getEvents({ since: since.toFixed(3) as unknown as number, until: until.toFixed(3) as unknown as number, filters: { container: ['dd-ev'], event: ['start', 'destroy'] } });
    const events = (await readAll(stream)).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { Action: string; Actor: { Attributes: { name: string } } });
    expect(events.map((e) => [e.Action, e.Actor.Attributes.name])).to.deep.equal([['start', 'dd-ev'], ['destroy', 'dd-ev']]);
  });
});
