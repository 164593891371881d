// The docker command line and docker-py pulling, listing, running and removing images
// through skiffd, from a real registry on 127.0.0.1.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { busyboxLayer } from '../support/busybox-layer.js';
import { requireDocker, useDaemon } from '../support/daemon.js';
import { useRegistry, writeLayout } from '../support/registry.js';
import { TempDirs } from '../support/tmp.js';

describe('images: the docker command line and docker-py', function () {
  this.timeout(120_000);
  const tmp = new TempDirs();
  // Not about networks, and skiffd runs in the host's namespace: its Docker API creates that name
  // no network stay on none rather than join bridge (test/integration/networks.test.ts covers that).
  const d = useDaemon(['--docker-network', 'none']);
  const served = useRegistry(tmp);
  let id = '';

  before(async () => {
    requireDocker();
    const layout = tmp.make('layout');
    ({ id } = await writeLayout(layout, { tag: '1', layers: [busyboxLayer([{ name: 'etc/hello', body: 'hello from the image\n' }])], config: { Cmd: ['cat', '/etc/hello'] } }));
    served.registry.push(layout, '1', 'test/dk:1');
    served.registry.push(layout, '1', 'test/py:1');
  });
  after(() => tmp.removeAll());

  it('docker pull, docker images, docker run IMAGE, docker rmi', async () => {
    const ref = `${served.registry.host}/test/dk:1`;
    const pulled = await d.docker(['pull', ref], { timeoutMs: 60_000 });
    expect(pulled.code, pulled.stderr).to.equal(0);
    expect(pulled.stdout).to.contain(`Status: Downloaded newer image for ${ref}`);
    const images = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    expect(images.stdout).to.contain(`${served.registry.host}/test/dk:1 ${id.slice(7, 19)}`);
    const run = await d.docker(['run', '--rm', ref]);
    expect(run.stdout).to.equal('hello from the image\n');
    const rmi = await d.docker(['rmi', ref]);
    expect(rmi.code, rmi.stderr).to.equal(0);
    expect(rmi.stdout).to.contain(`Deleted: ${id}`);
  });

  it('docker-py: images.pull, list, get, remove', async () => {
    const repo = `${served.registry.host}/test/py`;
    const script = `import docker, json
c = docker.from_env(version='1.41')
im = c.images.pull('${repo}', tag='1')
listed = [t for i in c.images.list() for t in i.tags]
got = c.images.get('${repo}:1')
out = c.containers.run('${repo}:1', remove=True).decode()
c.images.remove('${repo}:1')
try:
    c.images.get('${repo}:1')
    gone = False
except docker.errors.ImageNotFound:
    gone = True
print(json.dumps({'id': im.id, 'listed': listed, 'got': got.id, 'out': out, 'gone': gone}))
`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('/usr/bin/python3', ['-c', script], { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, PYTHONPATH: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let o = '';
      let e = '';
      child.stdout.on('data', (b: Buffer) => { o += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { e += b.toString(); });
      child.on('close', (code) => (code === 0 ? resolve(o) : reject(new Error(`python exited ${code}:\n${e}`))));
    });
    expect(JSON.parse(out)).to.deep.equal({ id, listed: [`${repo}:1`], got: id, out: 'hello from the image\n', gone: true });
  });
});
