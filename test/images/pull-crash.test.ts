// skiffd killed with SIGKILL in the middle of a pull: one layer stored and verified, another
// half downloaded (held there by a registry front the test controls, so the moment is known,
// not timed). After a restart the image is not listed, the store holds nothing of it (no
// partial blob or layer, no orphaned whole blob), and the same pull succeeds.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { busyboxLayer } from '../support/busybox-layer.js';
import { useDaemon, until } from '../support/daemon.js';
import { RegistryFront } from '../support/registry-front.js';
import { useRegistry, writeLayout } from '../support/registry.js';
import { TempDirs } from '../support/tmp.js';

describe('images: skiffd killed during a pull', function () {
  this.timeout(120_000);
  const tmp = new TempDirs();
  const d = useDaemon();
  const served = useRegistry(tmp);
  const front = new RegistryFront(() => served.registry.host);
  let layers: string[] = [];

  before(async () => {
    const layout = tmp.make('layout');
    // The second layer is random bytes (gzip cannot shrink it): half of it is a real partial download.
    ({ layers } = await writeLayout(layout, { tag: '1', layers: [busyboxLayer(), [{ name: 'big', body: randomBytes(4 << 20) }]] }));
    served.registry.push(layout, '1', 'test/crash:1');
    await front.start();
  });
  after(async () => {
    await front.stop();
    tmp.removeAll();
  });

  const store = () => `${d.stateDir}/.skiffd/images`;
  const partials = () => readdirSync(`${store()}/tmp`).filter((f) => f.startsWith('blob-')).map((f) => statSync(`${store()}/tmp/${f}`, { throwIfNoEntry: false })?.size ?? 0);

  it('after a restart the image is not listed, nothing of it is stored, and the pull succeeds', async () => {
    const ref = `${front.host}/test/crash:1`;
    const held = front.hold(layers[1]!);
    const pulling = d.cli(['pull', ref]);
    await held.halfSent;
    // skiffd has written part of the held layer, and stored the other whole (verified).
    await until(() => partials().some((n) => n > 0), 'part of the held layer in tmp/');
    await until(() => readdirSync(`${store()}/blobs/sha256`).includes(layers[0]!.slice(7)), 'the first layer stored');
    await d.stop('SIGKILL');
    const cut = await pulling;
    expect(cut.code).to.equal(1);
    held.release();

    await d.start();
    const listed = await d.cli(['images']);
    expect(listed.stdout).to.equal('REPOSITORY   TAG   IMAGE ID   CREATED   SIZE\n');
    expect((await d.api('GET', '/images/json')).body).to.deep.equal([]);
    expect(readdirSync(`${store()}/tmp`)).to.deep.equal([]);
    expect(readdirSync(`${store()}/blobs/sha256`)).to.deep.equal([]);
    expect(readdirSync(`${store()}/layers`)).to.deep.equal([]);

    const again = await d.cli(['pull', ref]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.contain(`Status: Downloaded newer image for ${ref}`);
    const run = await d.cli(['run', '--rm', ref, 'sh', '-c', 'test -s /big && echo whole']);
    expect(run.stdout).to.equal('whole\n');
  });
});
