// docker-py (Debian's python3-docker) against a real skiffd: each case is a small python
// script run with DOCKER_HOST pointing at the daemon's socket, printing what it saw as JSON.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { useDaemon } from '../support/daemon.js';
import { buildBusyboxRootfs } from '../support/rootfs.js';
import { TempDirs } from '../support/tmp.js';

/** Debian's interpreter and its python3-docker, not whatever python3 comes first on PATH. */
const PYTHON = '/usr/bin/python3';
const DOCKER_PY = '/usr/lib/python3/dist-packages/docker/__init__.py';

describe('docker-py against skiffd', function () {
  this.timeout(60_000);
  // Not about networks, and skiffd runs in the host's namespace: its Docker API creates that name
  // no network stay on none rather than join bridge (test/integration/networks.test.ts covers that).
  const d = useDaemon(['--docker-network', 'none']);
  const tmp = new TempDirs();
  let rootfs: string;
  let shared: string;

  before(() => {
    if (!existsSync(DOCKER_PY)) throw new Error(`${DOCKER_PY} is missing: install python3-docker (npm run test:deps does)`);
    rootfs = buildBusyboxRootfs(tmp.make('rootfs'));
    shared = tmp.make('shared');
    writeFileSync(join(shared, 'note'), 'from the host\n');
  });
  after(() => tmp.removeAll());

  /** Runs `body` after `import docker; c = docker.from_env()`; returns what it printed as JSON. */
  function py(body: string): Promise<unknown> {
    const script = `import docker, json, sys\nc = docker.from_env(version='1.41')\n${body}\n`;
    return new Promise((resolve, reject) => {
      const child = spawn(PYTHON, ['-c', script], { env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, PYTHONPATH: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
      child.on('close', (code) => {
        if (code !== 0) return reject(new Error(`python exited ${code}:\n${err}`));
        try {
          resolve(JSON.parse(out));
        } catch {
          reject(new Error(`python printed no JSON:\n${out}\n${err}`));
        }
      });
    });
  }

  it('containers.run returns the output; a failing command raises ContainerError with its exit status', async () => {
    const r = await py(`
out = c.containers.run('host', ['/bin/echo', 'hi'], remove=True)
try:
    c.containers.run('host', ['/bin/sh', '-c', 'exit 3'], remove=True)
    err = None
except docker.errors.ContainerError as e:
    err = e.exit_status
print(json.dumps({'out': out.decode(), 'err': err, 'left': [x.name for x in c.containers.list(all=True)]}))`);
    expect(r).to.deep.equal({ out: 'hi\n', err: 3, left: [] });
  });

  it('create, start, wait, logs, list with label and name filters, stop, restart, kill, remove', async () => {
    const r = await py(`
a = c.containers.create('host', ['/bin/sh', '-c', 'echo started; exec sleep 30'], name='py-a', labels={'team': 'red', 'tier': 'web'})
b = c.containers.create('host', ['/bin/sleep', '30'], name='py-b', labels={'team': 'blue'})
a.start(); b.start()
seen = {}
seen['label'] = sorted(x.name for x in c.containers.list(filters={'label': 'team=red'}))
seen['label_key'] = sorted(x.name for x in c.containers.list(filters={'label': 'team'}))
seen['name'] = sorted(x.name for x in c.containers.list(filters={'name': 'py-b'}))
seen['both'] = sorted(x.name for x in c.containers.list(filters={'label': ['team', 'tier=web']}))
a.reload()
seen['status'] = a.status
seen['log'] = a.attrs['HostConfig']['LogConfig']['Type']
a.stop(timeout=1)
seen['stopped'] = a.wait()['StatusCode']
a.restart(timeout=1)
a.reload()
seen['restarted'] = a.status
b.kill()
seen['killed'] = b.wait()['StatusCode']
seen['exited'] = sorted(x.name for x in c.containers.list(filters={'status': 'exited'}))
logs = a.logs().decode()
a.remove(force=True); b.remove()
seen['left'] = [x.name for x in c.containers.list(all=True)]
print(json.dumps({**seen, 'logs': logs}))`);
    expect({ ...(r as object), logs: undefined }).to.deep.equal({
      label: ['py-a'], label_key: ['py-a', 'py-b'], name: ['py-b'], both: ['py-a'], status: 'running', log: 'json-file',
      stopped: 137, restarted: 'running', killed: 137, exited: ['py-b'], left: [], logs: undefined,
    });
    // What a restart keeps of the earlier run's output is the console's business: at least this run's.
    expect((r as { logs: string }).logs).to.match(/^(started\n)+$/);
  });

  it('volumes: a bind on an image directory gets its mount point made; on the host root a missing one is a 400 at create', async () => {
    const r = await py(`
vol = {${JSON.stringify(shared)}: {'bind': '/d/e', 'mode': 'ro'}}
out = c.containers.run(${JSON.stringify(rootfs)}, ['/bin/sh', '-c', 'cat /d/e/note; touch /d/e/x 2>/dev/null || echo read-only'], volumes=vol, remove=True)
try:
    c.containers.create('host', ['/bin/true'], volumes={${JSON.stringify(shared)}: {'bind': '/no/such/dir', 'mode': 'ro'}}, name='py-host')
    err = None
except docker.errors.APIError as e:
    err = [e.status_code, e.explanation]
print(json.dumps({'out': out.decode(), 'err': err}))`);
    expect(r).to.deep.equal({
      out: 'from the host\nread-only\n',
      err: [400, 'HostConfig.Binds[0] `/no/such/dir` does not exist on the host\'s root, which a container sees read-only: skiff cannot make it for the bind mount '
        + '(use a directory under /tmp or /run, which are the container\'s own, an existing directory, or a rootfs directory or image)'],
    });
    // An absolute Image is an image directory: the mount point was made in the container's own layer, the image is untouched.
    expect(existsSync(join(rootfs, 'd')), 'the image directory unchanged').to.equal(false);
  });

  it('events with since and until: the window\'s events, then the stream ends', async () => {
    const r = await py(`
import time
t0 = time.time()
c.containers.run('host', ['/bin/true'], name='py-ev', labels={'ev': '1'}, remove=True)
t1 = time.time()
evs = [e for e in c.events(since=t0, until=t1, decode=True, filters={'label': 'ev=1'})]
mine = [e['Action'] for e in evs if e['Actor']['Attributes'].get('name') == 'py-ev']
other = [e for e in c.events(since=t0, until=t1, decode=True, filters={'label': 'ev=2'})]
print(json.dumps({'actions': mine, 'other': len(other)}))`);
    expect(r).to.deep.equal({ actions: ['create', 'start', 'die', 'destroy'], other: 0 });
  });
});
