// `skiff save` writes a `docker save` archive that loads back with the same image id; an OCI
// image layout as a tar loads; a bad archive is refused with nothing stored.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { busyboxLayer } from '../support/busybox-layer.js';
import { useDaemon } from '../support/daemon.js';
import { TestRegistry, writeLayout } from '../support/registry.js';
import { makeTar } from '../support/tar.js';
import { TempDirs } from '../support/tmp.js';

function tarDir(dir: string, file: string): void {
  const r = spawnSync('tar', ['-C', dir, '-cf', file, '.'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar ${dir}: ${r.stderr}`);
}

describe('images: load and save', function () {
  this.timeout(120_000);
  const tmp = new TempDirs();
  const d = useDaemon();
  after(() => tmp.removeAll());

  it('loads an OCI image layout tar and runs it', async () => {
    const layout = tmp.make('layout');
    const { id } = await writeLayout(layout, { tag: 'oci.test/bb:layout', layers: [busyboxLayer([{ name: 'etc/from', body: 'layout\n' }])] });
    const file = `${tmp.make('tar')}/layout.tar`;
    tarDir(layout, file);
    const r = await d.cli(['load', '-i', file]);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('Loaded image: oci.test/bb:layout\n');
    const run = await d.cli(['run', '--rm', 'oci.test/bb:layout', 'cat', '/etc/from']);
    expect(run.stdout).to.equal('layout\n');
    const ins = await d.api('GET', '/images/oci.test/bb:layout/json');
    expect((ins.body as { Id: string }).Id).to.equal(id);
  });

  it('a pulled image saved with skiff save loads back with the same id', async () => {
    const registry = new TestRegistry(tmp.make('registry'));
    await registry.start();
    try {
      const layout = tmp.make('layout');
      const { id } = await writeLayout(layout, { tag: '1', layers: [busyboxLayer(), [{ name: 'etc/top', body: 'top\n' }]] });
      registry.push(layout, '1', 'test/saved:1');
      const ref = `${registry.host}/test/saved:1`;
      expect((await d.cli(['pull', '-q', ref])).code).to.equal(0);
      const file = `${tmp.make('save')}/saved.tar`;
      const saved = await d.cli(['save', '-o', file, ref]);
      expect(saved.code, saved.stderr).to.equal(0);
      const listing = spawnSync('tar', ['-tf', file], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();
      expect(listing).to.include.members(['manifest.json', 'repositories', `${id.slice(7)}.json`]);
      expect((await d.cli(['rmi', ref])).code).to.equal(0);
      const loaded = await d.cli(['load', '-i', file]);
      expect(loaded.stdout).to.equal(`Loaded image: ${ref}\n`);
      const ins = await d.api('GET', `/images/${encodeURIComponent(ref)}/json`);
      expect((ins.body as { Id: string }).Id).to.equal(id);
      const run = await d.cli(['run', '--rm', ref, 'cat', '/etc/top']);
      expect(run.stdout).to.equal('top\n');
    } finally {
      await registry.stop();
    }
  });

  it('refuses an archive that is neither, and one whose layer digest is wrong, keeping nothing', async () => {
    const before = readdirSync(`${d.stateDir}/.skiffd/images/blobs/sha256`).sort();
    const junk = `${tmp.make('junk')}/junk.tar`;
    writeFileSync(junk, await makeTar([{ name: 'hello.txt', body: 'hi' }]));
    const r = await d.cli(['load', '-i', junk]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal('skiff: archive: neither a `docker save` archive (manifest.json) nor an OCI image layout (index.json)\n');
    const layout = tmp.make('layout');
    await writeLayout(layout, { tag: 'x.test/bad:1', layers: [busyboxLayer([{ name: 'bad', body: 'x' }])] });
    const bad = await makeTar([
      { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', body: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 }] }) },
      { name: `blobs/sha256/${'0'.repeat(64)}`, body: '{}' },
    ]);
    const badFile = `${tmp.make('bad')}/bad.tar`;
    writeFileSync(badFile, bad);
    const r2 = await d.cli(['load', '-i', badFile]);
    expect(r2.code).to.equal(1);
    expect(r2.stderr).to.match(/^skiff: archive: manifest sha256:0{64}: digest mismatch: the file's is sha256:[0-9a-f]{64}\n$/);
    expect(readdirSync(`${d.stateDir}/.skiffd/images/blobs/sha256`).sort()).to.deep.equal(before);
    expect(readdirSync(`${d.stateDir}/.skiffd/images/tmp`)).to.deep.equal([]);
  });
});
