// Bad inputs to a pull, each from a real registry: a clear error naming what was wrong, and
// nothing stored (no blob, no layer, no temp file, no image).
import { expect } from 'chai';
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { parseManifest } from '../../src/main/images/manifest.js';
import { parseReference } from '../../src/spec/image-reference.js';
import { busyboxLayer } from '../support/busybox-layer.js';
import { useDaemon } from '../support/daemon.js';
import { useRegistry, writeLayout } from '../support/registry.js';
import type { TarEntry } from '../support/tar.js';
import { TempDirs } from '../support/tmp.js';

describe('images: refused pulls', function () {
  this.timeout(120_000);
  const tmp = new TempDirs();
  const d = useDaemon();
  const served = useRegistry(tmp);
  after(() => tmp.removeAll());

  const store = () => `${d.stateDir}/.skiffd/images`;
  function nothingStored(): void {
    expect(readdirSync(`${store()}/blobs/sha256`)).to.deep.equal([]);
    expect(readdirSync(`${store()}/layers`)).to.deep.equal([]);
    expect(readdirSync(`${store()}/tmp`)).to.deep.equal([]);
  }

  async function push(name: string, layers: TarEntry[][], config: Record<string, unknown> = {}): Promise<{ id: string; manifest: string; layout: string }> {
    const layout = tmp.make('layout');
    const r = await writeLayout(layout, { tag: '1', layers, config });
    served.registry.push(layout, '1', `${name}:1`);
    return { ...r, layout };
  }

  /** The registry's file for a blob (Distribution's filesystem driver layout). */
  const registryBlob = (digest: string) => `${served.dir}/storage/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

  function layerDigest(layout: string, manifest: string): string {
    const m = JSON.parse(readFileSync(`${layout}/blobs/sha256/${manifest.slice(7)}`, 'utf8')) as { layers: { digest: string }[] };
    return m.layers[0]!.digest;
  }

  it('a bad reference', async () => {
    const r = await d.cli(['pull', 'UPPER/case']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal('skiff: invalid reference format "UPPER/case": repository name "UPPER" must be lowercase\n');
    expect(() => parseReference('a@sha256:12')).to.throw('invalid reference format "a@sha256:12": digest "sha256:12" is not sha256:<64 lowercase hex digits>');
  });

  it('a repository the registry does not have (404)', async () => {
    const r = await d.cli(['pull', `${served.registry.host}/test/missing:1`]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal(`skiff: ${served.registry.host}/test/missing: http://${served.registry.host}/v2/test/missing/manifests/1 answered 404 Not Found: MANIFEST_UNKNOWN manifest unknown\n`);
    nothingStored();
  });

  it('a layer whose bytes do not match its digest', async () => {
    // A layer of its own: the registry shares blobs between repositories.
    const { layout, manifest } = await push('test/corrupt', [busyboxLayer([{ name: 'corrupt', body: 'me' }])]);
    const file = registryBlob(layerDigest(layout, manifest));
    const bytes = readFileSync(file);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 100) ^ 0xff, bytes.length - 100);
    writeFileSync(file, bytes);
    const r = await d.cli(['pull', `${served.registry.host}/test/corrupt:1`]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/^skiff: layer sha256:[0-9a-f]{64} of .*test\/corrupt:1: digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64} \(\d+ bytes\)\n$/);
    nothingStored();
  });

  it('a truncated layer', async () => {
    const { layout, manifest } = await push('test/short', [busyboxLayer([{ name: 'x', body: 'short' }])]);
    truncateSync(registryBlob(layerDigest(layout, manifest)), 1000);
    const r = await d.cli(['pull', `${served.registry.host}/test/short:1`]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/^skiff: layer sha256:[0-9a-f]{64} of .*test\/short:1: got 1000 bytes, expected \d+ \(truncated\?\)\n$/);
    nothingStored();
  });

  it('an index without linux/amd64', async () => {
    const { manifest, layout } = await push('test/arm', [busyboxLayer()]);
    const size = readFileSync(`${layout}/blobs/sha256/${manifest.slice(7)}`).length;
    const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest, size, platform: { os: 'linux', architecture: 'arm64' } }] });
    const put = await fetch(`http://${served.registry.host}/v2/test/arm/manifests/multi`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: index });
    expect(put.status).to.equal(201);
    const r = await d.cli(['pull', `${served.registry.host}/test/arm:multi`]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal(`skiff: manifest of ${served.registry.host}/test/arm:multi: no manifest for linux/amd64 in the index (it has: linux/arm64)\n`);
    nothingStored();
  });

  it('an unknown manifest media type', () => {
    expect(() => parseManifest(Buffer.from('{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}'), '', 'manifest of x'))
      .to.throw('manifest of x: unknown manifest media type "application/vnd.docker.distribution.manifest.v1+prettyjws" (skiff reads OCI and Docker v2 schema 2 manifests and indexes)');
  });

  for (const [label, entries, message] of [
    ['../etc/x', [{ name: '../etc/x', body: 'pwned' }], 'layer entry "../etc/x": has a ".." component (a layer may only name paths inside itself)'],
    ['/etc/x', [{ name: '/etc/x', body: 'pwned' }], 'layer entry "/etc/x": is an absolute path (a layer may only name paths inside itself)'],
    ['a symlink, then a write through it', [{ name: 'esc', type: 'symlink', linkname: '/etc' }, { name: 'esc/x', body: 'pwned' }], 'layer entry "esc/x": its parent `esc` is a symlink in this layer: refused (it could lead outside the layer)'],
  ] as [string, TarEntry[], string][]) {
    it(`a layer with ${label}`, async () => {
      const name = `test/evil${label.length}`;
      await push(name, [busyboxLayer(), entries]);
      const r = await d.cli(['pull', `${served.registry.host}/${name}:1`]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr.replace(/sha256:[0-9a-f]{64}/, 'sha256:…')).to.equal(`skiff: layer sha256:…: ${message}\n`);
      nothingStored();
      const images = await d.api('GET', '/images/json');
      expect(images.body).to.deep.equal([]);
    });
  }
});
