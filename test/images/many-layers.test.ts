// An image of 64 layers, pulled from a real registry and run: more lowerdirs than mount(2)'s
// one page of overlay options holds, so the root is mounted through the new mount API (one
// "lowerdir+" per layer). The container sees every layer in order: the top one wins, a
// whiteout in a middle layer hides a file from a lower one.
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { busyboxLayer } from '../support/busybox-layer.js';
import { useDaemon } from '../support/daemon.js';
import { useRegistry, writeLayout } from '../support/registry.js';
import type { TarEntry } from '../support/tar.js';
import { TempDirs } from '../support/tmp.js';

const LAYERS = 64;

describe('images: an image of 64 layers', function () {
  this.timeout(300_000);
  const tmp = new TempDirs();
  const d = useDaemon();
  const served = useRegistry(tmp);
  after(() => tmp.removeAll());

  it('pulls and runs with every layer stacked, in order', async () => {
    const layers: TarEntry[][] = [busyboxLayer([{ name: 'layers/', type: 'directory' }, { name: 'layers/0', body: 'bottom\n' }])];
    for (let i = 1; i < LAYERS; i++) {
      const entries: TarEntry[] = [{ name: `layers/${i}`, body: `${i}\n` }];
      if (i === 40) entries.push({ name: 'layers/.wh.3', body: '' });
      if (i === LAYERS - 1) entries.push({ name: 'layers/0', body: 'top\n' });
      layers.push(entries);
    }
    const layout = tmp.make('layout');
    await writeLayout(layout, { tag: '1', layers });
    await served.registry.pushHttp(layout, 'test/tall:1');
    const ref = `${served.registry.host}/test/tall:1`;

    const pulled = await d.cli(['pull', ref], { timeoutMs: 240_000 });
    expect(pulled.code, pulled.stderr).to.equal(0);
    expect(readdirSync(`${d.stateDir}/.skiffd/images/layers`)).to.have.length(LAYERS);
    // Far past a page: the plan cannot use mount(2) here.
    const paths = readdirSync(`${d.stateDir}/.skiffd/images/layers`).map((l) => `${d.stateDir}/.skiffd/images/layers/${l}`).join(':');
    expect(paths.length).to.be.greaterThan(4096);

    const r = await d.cli(['run', '--rm', ref, 'sh', '-c', 'set -- /layers/*; echo $#; cat /layers/0 /layers/1 /layers/63; test -e /layers/3 || echo 3 hidden; cat /proc/self/mountinfo']);
    expect(r.stderr).to.equal('');
    const [count, ...rest] = r.stdout.split('\n');
    expect(count).to.equal(String(LAYERS - 1));
    expect(rest.slice(0, 4)).to.deep.equal(['top', '1', '63', '3 hidden']);
    // The root is one overlay, nodev, with all 64 lower layers, each given by its own lowerdir+.
    const root = rest.slice(4).find((l) => l.split(' ')[4] === '/');
    expect(root).to.match(/ - overlay overlay /);
    expect(root!.split(' ')[5]).to.include('nodev');
    expect(root!.split(',').filter((o) => o.startsWith('lowerdir+='))).to.have.length(LAYERS);
    expect(r.code).to.equal(0);
  });
});
