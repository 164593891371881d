// Docker's clients exec'ing into a container of a real skiffd: the docker command line (with
// -i, and -it through a real pty from `script`), docker-py's exec_run, dockerode's exec + start
// with demuxStream. Each reads the exit code back the way it does against Docker.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import Docker from 'dockerode';
import { requireDocker, until, useDaemon } from '../support/daemon.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';
import { TempDirs } from '../support/tmp.js';

const PYTHON = '/usr/bin/python3';
const DOCKER_PY = '/usr/lib/python3/dist-packages/docker/__init__.py';

function sink(): PassThrough & { text: () => string } {
  const chunks: Buffer[] = [];
  const s = new PassThrough();
  s.on('data', (b: Buffer) => chunks.push(b));
  return Object.assign(s, { text: () => Buffer.concat(chunks).toString('utf8') });
}

describe('docker exec, docker-py exec_run and dockerode exec against skiffd', function () {
  this.timeout(60_000);
  before(requireDocker);
  // Not about networks, and skiffd runs in the host's namespace: its Docker API creates that name
  // no network stay on none rather than join bridge (test/integration/networks.test.ts covers that).
  const d = useDaemon(['--docker-network', 'none']);
  const tmp = new TempDirs();
  let image = '';

  before(async () => {
    if (!existsSync(DOCKER_PY)) throw new Error(`${DOCKER_PY} is missing: install python3-docker (npm run test:deps does)`);
    image = buildBusyboxRootfs(tmp.make('image'));
    writeFileSync(join(image, 'etc/hostname'), 'web-image\n');
    await container('web', ['/bin/sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']);
  });
  /** A container of the busybox image directory (the docker CLI takes no path for an image). */
  const container = async (name: string, cmd: string[]): Promise<void> => {
    const r = await d.api('POST', `/containers/create?name=${name}`, { Image: image, Cmd: cmd });
    expect(r.status, r.text).to.equal(201);
    expect((await d.api('POST', `/containers/${name}/start`)).status).to.equal(204);
  };
  after(() => tmp.removeAll());

  it('docker exec web cat /etc/hostname, exit codes 0/3/126/127, and ExecIDs in docker inspect', async () => {
    const cat = await d.docker(['exec', 'web', 'cat', '/etc/hostname']);
    expect(cat).to.deep.equal({ code: 0, stdout: 'web-image\n', stderr: '' });
    for (const [cmd, code] of [[['true'], 0], [['sh', '-c', 'echo gone >&2; exit 3'], 3], [['/etc/passwd'], 126], [['nosuch'], 127]] as const) {
      const r = await d.docker(['exec', 'web', ...cmd]);
      expect(r.code, `docker exec web ${cmd.join(' ')}: ${r.stderr}`).to.equal(code);
    }
    const ids = await d.docker(['inspect', '-f', '{{len .ExecIDs}}', 'web']);
    expect(Number(ids.stdout.trim())).to.be.at.least(5);
  });

  it('echo x | docker exec -i web cat ends at the end of its input', async () => {
    const child = spawn('docker', ['exec', '-i', 'web', 'cat'], { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    const code = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.end('x\n');
    expect(await code).to.equal(0);
    expect(out).to.equal('x\n');
  });

  it('docker exec -it web sh driven through a real pty: a terminal, its size, the exit code', async () => {
    const child = spawn('script', ['-qec', 'stty rows 29 cols 83; docker exec -it web sh', '/dev/null'], {
      env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    const code = new Promise<number | null>((resolve) => child.on('close', resolve));
    await until(() => out.includes('# '), 'the shell\'s prompt');
    child.stdin.write('stty size; test -t 0 && echo on-a-tty; echo $((6*7)); exit 4\n');
    expect(await code, out).to.equal(4);
    expect(out).to.match(/\n29 83\r+\n/);
    expect(out).to.match(/\non-a-tty\r+\n/);
    expect(out).to.match(/\n42\r+\n/);
  });

  it('docker-py exec_run: (0, b\'hi\\n\'), an exit code, demux and a user', async () => {
    const script = `import docker, json
c = docker.from_env(version='1.41').containers.get('web')
code, out = c.exec_run(['echo', 'hi'])
code3, _ = c.exec_run(['sh', '-c', 'exit 3'])
codeu, outu = c.exec_run('id -u', user='4242')
coded, (o, e) = c.exec_run(['sh', '-c', 'echo out; echo err >&2'], demux=True)
print(json.dumps({'hi': [code, out.decode()], 'three': code3, 'user': [codeu, outu.decode()], 'demux': [coded, o.decode(), e.decode()]}))`;
    const r = await new Promise<string>((resolve, reject) => {
      const child = spawn(PYTHON, ['-c', script], { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, PYTHONPATH: '' } });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`python exited ${code}:\n${err}`))));
    });
    expect(JSON.parse(r)).to.deep.equal({ hi: [0, 'hi\n'], three: 3, user: [0, '4242\n'], demux: [0, 'out\n', 'err\n'] });
  });

  it('dockerode exec + start with demuxStream: stdout and stderr apart, then ExitCode from inspect', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const exec = await docker.getContainer('web').exec({ Cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; exit 6'], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out = sink();
    const err = sink();
    docker.modem.demuxStream(stream, out, err);
    await new Promise<void>((resolve, reject) => {
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    expect(out.text()).to.equal('to-out\n');
    expect(err.text()).to.equal('to-err\n');
    const info = await exec.inspect();
    expect(info.ExitCode).to.equal(6);
    expect(info.Running).to.equal(false);
    expect(info.ProcessConfig.entrypoint).to.equal('sh');
  });

  it('docker exec into a stopped container is refused (409), naming it', async () => {
    await container('done', ['/bin/true']);
    await d.api('POST', '/containers/done/wait');
    const r = await d.docker(['exec', 'done', 'true']);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.include('Container done is not running');
  });
});
