// Pull from a real registry (docker-registry on 127.0.0.1) and run the image: the layers stack
// as overlayfs lowerdirs (whiteout, opaque dir, hard link, setuid bit), the config applies.
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { busyboxLayer } from '../support/busybox-layer.js';
import { useDaemon } from '../support/daemon.js';
import { useRegistry, writeLayout } from '../support/registry.js';
import { TempDirs } from '../support/tmp.js';

describe('images: pull and run', function () {
  this.timeout(120_000);
  const tmp = new TempDirs();
  const d = useDaemon();
  const served = useRegistry(tmp);
  let ref = '';
  let id = '';

  before(async () => {
    const layout = tmp.make('layout');
    ({ id } = await writeLayout(layout, {
      tag: '1',
      layers: [
        busyboxLayer([
          { name: 'etc/layer', body: 'one\n' },
          { name: 'etc/lower-only', body: 'lower\n' },
          { name: 'opt/a', body: 'a\n' },
          { name: 'etc/disk', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o666 },
        ]),
        [
          { name: 'etc/layer', body: 'two\n' },
          { name: 'etc/.wh.lower-only', body: '' },
          { name: 'opt/.wh..wh..opq', body: '' },
          { name: 'opt/b', body: 'b\n' },
          { name: 'bin/su', body: 'not really su\n', mode: 0o4755 },
          { name: 'bin/su2', type: 'link', linkname: 'bin/su' },
        ],
      ],
      config: { User: 'app', Env: ['FROM_IMAGE=yes', 'PATH=/bin'], WorkingDir: '/work/dir', Cmd: ['sh', '-c', 'echo default command'], Labels: { 'org.test': 'bb' } },
    }));
    served.registry.push(layout, '1', 'test/bb:1');
    ref = `${served.registry.host}/test/bb:1`;
  });

  after(() => tmp.removeAll());

  it('pulls, then runs with the top layer, whiteout, opaque dir, hard link, setuid bit and config', async () => {
    const pulled = await d.cli(['pull', ref]);
    expect(pulled.stderr).to.equal('');
    expect(pulled.code).to.equal(0);
    expect(pulled.stdout).to.contain(`Status: Downloaded newer image for ${ref}`);
    const r = await d.cli(['run', '--rm', ref, 'sh', '-c', 'cat /etc/layer; test -e /etc/lower-only || echo lower hidden; ls /opt; stat -c %i /bin/su /bin/su2 | uniq | wc -l; stat -c %a /bin/su; pwd; echo $FROM_IMAGE; id; cat /etc/disk 2>&1 >/dev/null | grep -c denied']);
    expect(r.stderr).to.equal('');
    expect(r.stdout.split('\n')).to.deep.equal(['two', 'lower hidden', 'b', '1', '4755', '/work/dir', 'yes', 'uid=1000(app) gid=1000(app) groups=1000(app)', '1', '']);
    expect(r.code).to.equal(0);
  });

  it('runs the image\'s own command when none is given, and lists and inspects the image', async () => {
    const r = await d.cli(['run', '--rm', ref]);
    expect(r.stdout).to.equal('default command\n');
    const list = await d.api('GET', '/images/json');
    const entry = (list.body as { Id: string; RepoTags: string[]; Labels: Record<string, string> }[]).find((i) => i.Id === id);
    expect(entry?.RepoTags).to.deep.equal([ref]);
    expect(entry?.Labels).to.deep.equal({ 'org.test': 'bb' });
    const ins = await d.api('GET', `/images/${encodeURIComponent(ref)}/json`);
    expect((ins.body as { Id: string; RootFS: { Layers: string[] } }).RootFS.Layers).to.have.length(2);
  });

  it('--user overrides the image\'s User; a user the image does not have is refused by name', async () => {
    const root = await d.cli(['run', '--rm', '--user', '0', ref, 'sh', '-c', 'id; cat /proc/self/status | grep CapEff']);
    // Root keeps skiff's default capability set; any other uid holds none, as in Docker.
    expect(root.stdout).to.match(/^uid=0\(root\) gid=0\(root\)\nCapEff:\t0*[1-9a-f][0-9a-f]*\n$/);
    const numeric = await d.cli(['run', '--rm', '--user', '4321:99', ref, 'sh', '-c', 'id; grep CapEff /proc/self/status']);
    expect(numeric.stdout).to.equal('uid=4321 gid=99 groups=99\nCapEff:\t0000000000000000\n');
    const missing = await d.cli(['run', '--rm', '--user', 'nobody', ref, 'id']);
    expect(missing.code).to.equal(125);
    expect(missing.stderr).to.equal('skiff: unable to find user nobody: no matching entries in passwd file\n');
  });

  it('a second pull downloads nothing and says the image is up to date', async () => {
    const again = await d.cli(['pull', ref]);
    expect(again.code).to.equal(0);
    expect(again.stdout).to.contain('Already exists');
    expect(again.stdout).to.contain(`Status: Image is up to date for ${ref}`);
  });

  it('rmi refuses while a container uses the image; with -f the container keeps its layers', async () => {
    const c = await d.cli(['run', '-d', '--name', 'uses-bb', ref, 'sleep', '300']);
    expect(c.code, c.stderr).to.equal(0);
    const refused = await d.cli(['rmi', ref]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.match(/^skiff: conflict: unable to remove repository reference ".*" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}\n$/);
    const forced = await d.cli(['rmi', '-f', ref]);
    expect(forced.code, forced.stderr).to.equal(0);
    expect(forced.stdout).to.contain(`Deleted: ${id}`);
    const layers = readdirSync(`${d.stateDir}/.skiffd/images/layers`);
    expect(layers).to.have.length(2);
    const alive = await d.cli(['rm', '-f', 'uses-bb']);
    expect(alive.code).to.equal(0);
  });
});
