// The image store on a real directory: a restart empties tmp/, concurrent writes of one blob
// share one download, and a blob that does not match its digest leaves nothing.
import { expect } from 'chai';
import { pbkdf2 } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { sha256 } from '../../src/main/images/digest.js';
import { ImageStore } from '../../src/main/images/store.js';
import { TempDirs } from '../support/tmp.js';

describe('images: the store', () => {
  const tmp = new TempDirs();
  after(() => tmp.removeAll());

  it('open() throws away what a previous run left half written under tmp/', () => {
    const root = tmp.make('store');
    new ImageStore(root).open();
    writeFileSync(`${root}/tmp/blob-abc`, 'half');
    mkdirSync(`${root}/tmp/layer-def/etc`, { recursive: true });
    new ImageStore(root).open();
    expect(readdirSync(`${root}/tmp`)).to.deep.equal([]);
  });

  it('two writes of the same blob at once share one download', async () => {
    const store = new ImageStore(tmp.make('store')).open();
    const data = Buffer.alloc(1 << 20, 7);
    const digest = sha256(data);
    let opened = 0;
    const open = () => {
      opened++;
      return Promise.resolve(Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
    };
    await Promise.all([store.putBlob(digest, open, data.length, 'a'), store.putBlob(digest, open, data.length, 'b')]);
    expect(opened).to.equal(1);
    expect(store.hasBlob(digest)).to.equal(true);
  });

  it('a blob that does not match its digest or size is not stored, and no temp file stays', async () => {
    const root = tmp.make('store');
    const store = new ImageStore(root).open();
    const digest = sha256('expected');
    const err = await store.putBlob(digest, () => Promise.resolve(Readable.from([Buffer.from('other!!!')])), 8, 'layer x').then(() => null, (e: Error) => e);
    expect(err?.message).to.equal(`layer x: digest mismatch: expected ${digest}, got ${sha256('other!!!')} (8 bytes)`);
    const long = await store.putBlob(digest, () => Promise.resolve(Readable.from([Buffer.from('far too long')])), 8, 'layer y').then(() => null, (e: Error) => e);
    expect(long?.message).to.equal('layer y: more than the 8 bytes expected');
    expect(existsSync(store.blobPath(digest))).to.equal(false);
    expect(readdirSync(`${root}/tmp`)).to.deep.equal([]);
    expect(readdirSync(`${root}/blobs/sha256`)).to.deep.equal([]);
  });

  it('a blob refused before its temp file could be opened leaves no temp file once the open would have come (a busy thread pool)', async () => {
    const root = tmp.make('store');
    const store = new ImageStore(root).open();
    const digest = sha256('expected');
    // Every thread of libuv's pool busy for a while: an open made on the pool waits behind them,
    // so the refusal of the first chunk comes before it, as it did on a loaded CI machine.
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const busy = Array.from({ length: threads }, () => promisify(pbkdf2)('busy', 'pool', 100_000, 32, 'sha256'));
    const err = await store.putBlob(digest, () => Promise.resolve(Readable.from([Buffer.from('far too long')])), 8, 'layer z').then(() => null, (e: Error) => e);
    expect(err?.message).to.equal('layer z: more than the 8 bytes expected');
    await Promise.all(busy);
    // Whatever was queued behind the busy work has run by the time a few more pool calls have.
    for (let i = 0; i < threads * 2; i++) await stat(root);
    expect(readdirSync(`${root}/tmp`)).to.deep.equal([]);
  });
});

describe('images: references', () => {
  it('normalises as Docker does', async () => {
    const { parseReference, formatReference } = await import('../../src/spec/image-reference.js');
    const f = (s: string) => formatReference(parseReference(s));
    expect(f('busybox')).to.equal('docker.io/library/busybox:latest');
    expect(f('user/app:1.2')).to.equal('docker.io/user/app:1.2');
    expect(f('localhost/app')).to.equal('localhost/app:latest');
    expect(f('127.0.0.1:5000/test/bb:1')).to.equal('127.0.0.1:5000/test/bb:1');
    expect(f(`quay.io/a/b@sha256:${'a'.repeat(64)}`)).to.equal(`quay.io/a/b@sha256:${'a'.repeat(64)}`);
    expect(() => parseReference('a:b:c')).to.throw('invalid reference format "a:b:c": path component "a:b" must be lowercase letters, digits and single separators (. _ __ -)');
    expect(() => parseReference('app:')).to.throw('invalid reference format "app:": tag "" must be 1 to 128 of [A-Za-z0-9_.-], not starting with . or -');
  });
});

describe('images: deletion keeps what containers use', () => {
  const tmp = new TempDirs();
  after(() => tmp.removeAll());

  it('a layer a container uses outlives its image; a sweep deletes it once the container is gone', () => {
    const root = tmp.make('store');
    const containers = new Set<string>();
    const store = new ImageStore(root, () => ({ images: new Set(), layerDirs: containers })).open();
    const config = store.putBytes(Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}'));
    const chainId = sha256('layer');
    mkdirSync(store.layerDir(chainId));
    store.add({ id: config, manifest: null, repoDigests: [], layers: [{ digest: chainId, mediaType: 'x', size: 0, diffId: chainId, chainId }], stored: '' }, ['docker.io/library/x:1']);
    containers.add(store.layerDir(chainId));
    store.deleteImage(config);
    expect(existsSync(store.layerDir(chainId))).to.equal(true);
    containers.clear();
    expect(store.sweep()).to.deep.equal([chainId]);
    expect(readdirSync(`${root}/layers`)).to.deep.equal([]);
    expect(readdirSync(`${root}/tmp`)).to.deep.equal([]);
  });
});
