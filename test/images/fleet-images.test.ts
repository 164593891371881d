// Fleets that name a registry image (Compose's `image:` and `pull_policy`), against a real
// registry behind a front that counts what reaches it, and real containers: 200 replicas of
// one image pull it once, share its layers (the store is the same with or without the fleet),
// and each replica's writes land in its own upper dir.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxLayer } from '../support/busybox-layer.js';
import { useDaemon } from '../support/daemon.js';
import { RegistryFront } from '../support/registry-front.js';
import { useRegistry, writeLayout } from '../support/registry.js';
import { TempDirs } from '../support/tmp.js';

/** Every file and directory under `dir` with its size (directories as -1), sorted: what the store holds. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p, { throwIfNoEntry: false });
      out.push(`${rel}${e.name} ${e.isDirectory() ? -1 : st?.size ?? '?'}`);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('images: fleets of registry images', function () {
  this.timeout(600_000);
  const tmp = new TempDirs();
  const d = useDaemon();
  const served = useRegistry(tmp);
  const front = new RegistryFront(() => served.registry.host);
  let layers: string[] = [];
  let config = '';

  before(async () => {
    const layout = tmp.make('layout');
    const { id, layers: digests } = await writeLayout(layout, {
      tag: '1',
      layers: [busyboxLayer(), [{ name: 'srv/', type: 'directory' }, { name: 'srv/from-image', body: 'image\n' }]],
      config: { User: 'app', Env: ['FROM_IMAGE=yes', 'PATH=/bin'], WorkingDir: '/work/dir', Cmd: ['sh', '-c', 'echo image command'] },
    });
    config = id;
    layers = digests;
    served.registry.push(layout, '1', 'test/app:1');
    await front.start();
  });
  after(async () => {
    await front.stop();
    tmp.removeAll();
  });

  const store = () => `${d.stateDir}/.skiffd/images`;
  const fleetFile = (name: string, body: string): string => {
    const file = join(tmp.make('fleet'), `${name}.yaml`);
    writeFileSync(file, body);
    return file;
  };

  it('200 replicas of one image: one pull, layers shared, each replica\'s writes in its own upper dir', async () => {
    const ref = `${front.host}/test/app:1`;
    const file = fleetFile('many', `services:
  web:
    image: ${ref}
    command: ["sh", "-c", "echo \\"$SKIFF_SERVICE-$SKIFF_REPLICA $(id -u) $(pwd) $FROM_IMAGE\\" > /tmp/who"]
    deploy: { replicas: 150 }
    x-skiff: { job: true }
  worker:
    image: ${ref}
    command: ["sh", "-c", "echo \\"$SKIFF_SERVICE-$SKIFF_REPLICA $(id -u) $(pwd) $FROM_IMAGE\\" > /tmp/who"]
    scale: 50
    x-skiff: { job: true }
`);
    const up = await d.cli(['fleet', 'up', '--wait', file], { timeoutMs: 540_000 });
    expect(up.code, up.stderr + up.stdout).to.equal(0);
    // One pull for both services: each blob reached the registry once.
    for (const l of layers) expect(front.blobGets(l), l).to.equal(1);
    expect(front.blobGets(config)).to.equal(1);
    expect(front.requests.filter((r) => r === 'GET /v2/test/app/manifests/1')).to.have.length(1);

    // Shared: the store holds the image's 4 blobs and 2 layer directories, nothing more.
    expect(readdirSync(`${store()}/blobs/sha256`)).to.have.length(4);
    expect(readdirSync(`${store()}/layers`)).to.have.length(2);
    const withFleet = listing(store());

    // Each replica's writes are in its own upper dir, with the image's config applied (User,
    // WorkingDir, Env) under the service's command; no layer directory has any of them.
    for (const [service, n] of [['web', 150], ['worker', 50]] as const) {
      for (let i = 1; i <= n; i++) {
        const who = readFileSync(`${d.stateDir}/many-${service}-${i}/layer/upper/tmp/who`, 'utf8');
        expect(who).to.equal(`${service}-${i} 1000 /work/dir yes\n`);
      }
    }
    expect(withFleet.filter((p) => p.includes('who'))).to.deep.equal([]);

    // The store is the same without the fleet, and the same as a plain pull makes it.
    const down = await d.cli(['fleet', 'down', file], { timeoutMs: 300_000 });
    expect(down.code, down.stderr).to.equal(0);
    expect(listing(store())).to.deep.equal(withFleet);
    expect((await d.cli(['rmi', ref])).code).to.equal(0);
    expect(readdirSync(`${store()}/layers`)).to.deep.equal([]);
    expect((await d.cli(['pull', ref])).code).to.equal(0);
    expect(listing(store())).to.deep.equal(withFleet);
  });

  it('the image\'s own command and config; pull_policy missing pulls nothing already stored', async () => {
    const ref = `${front.host}/test/app:1`;
    const before = front.requests.length;
    const file = fleetFile('own', `services:\n  app:\n    image: ${ref}\n    x-skiff: { job: true }\n`);
    const up = await d.cli(['fleet', 'up', '--wait', file]);
    expect(up.code, up.stderr + up.stdout).to.equal(0);
    expect(front.requests.slice(before)).to.deep.equal([]);
    const logs = await d.cli(['logs', 'own-app-1']);
    expect(logs.stdout).to.equal('image command\n');
    const ins = await d.inspect<{ Config: { Image: string; User: string } }>('own-app-1');
    expect(ins.Config.Image).to.equal(ref);
    expect((await d.cli(['fleet', 'down', file])).code).to.equal(0);
  });

  it('pull_policy always pulls again; a newer image under the tag replaces the replicas', async () => {
    const ref = `${front.host}/test/app:1`;
    const file = fleetFile('always', `services:\n  app:\n    image: ${ref}\n    pull_policy: always\n    command: ["sleep", "300"]\n`);
    const up = await d.cli(['fleet', 'up', file]);
    expect(up.code, up.stderr + up.stdout).to.equal(0);
    const first = await d.inspect<{ Id: string; Image: string }>('always-app-1');
    const manifests = () => front.requests.filter((r) => r === 'GET /v2/test/app/manifests/1').length;
    const m0 = manifests();
    // Same image: pulled again (the manifest is fetched), nothing to replace.
    const again = await d.cli(['fleet', 'up', '--json', file]);
    expect(again.code, again.stderr).to.equal(0);
    expect(manifests()).to.equal(m0 + 1);
    expect((JSON.parse(again.stdout) as { plan: { keep: number } }).plan.keep).to.equal(1);
    // A newer image under the same tag: the replica is replaced by one of the new image.
    const layout = tmp.make('layout2');
    await writeLayout(layout, { tag: '1', layers: [busyboxLayer([{ name: 'v2', body: '2\n' }])] });
    served.registry.push(layout, '1', 'test/app:1');
    const third = await d.cli(['fleet', 'up', '--json', file]);
    expect(third.code, third.stderr).to.equal(0);
    expect((JSON.parse(third.stdout) as { plan: { replace: number } }).plan.replace).to.equal(1);
    const replaced = await d.inspect<{ Id: string; Image: string }>('always-app-1');
    expect(replaced.Id).to.not.equal(first.Id);
    expect(replaced.Image).to.not.equal(first.Image);
    expect((await d.cli(['fleet', 'down', file])).code).to.equal(0);
  });

  it('refuses pull_policy build, a bad reference and a policy on host by file:line:column; never fails naming the image, creating nothing', async () => {
    const build = fleetFile('b', 'services:\n  app:\n    image: busybox\n    pull_policy: build\n');
    const r1 = await d.cli(['fleet', 'up', build]);
    expect(r1.code).to.equal(2);
    expect(r1.stderr).to.equal(`skiff: ${build}:4:18 services.app.pull_policy: build is not supported: skiff builds no images (use always, missing or never, and push the image to a registry)\n`);
    const bad = fleetFile('c', 'services:\n  app:\n    image: UPPER/case\n    command: ["true"]\n');
    const r2 = await d.cli(['fleet', 'up', bad]);
    expect(r2.code).to.equal(2);
    expect(r2.stderr).to.equal(`skiff: ${bad}:3:12 services.app.image: invalid reference format "UPPER/case": repository name "UPPER" must be lowercase (image is host, an image directory such as ./rootfs, or a registry image)\n`);
    const host = fleetFile('h', 'services:\n  app:\n    image: host\n    pull_policy: always\n    command: ["true"]\n');
    const r3 = await d.cli(['fleet', 'up', host]);
    expect(r3.code).to.equal(2);
    expect(r3.stderr).to.equal(`skiff: ${host}:4:18 services.app.pull_policy: applies to a registry image; image: host is not pulled\n`);
    const never = fleetFile('n', `services:\n  app:\n    image: ${front.host}/test/absent:1\n    pull_policy: never\n    command: ["true"]\n`);
    const before = front.requests.length;
    const r4 = await d.cli(['fleet', 'up', never]);
    expect(r4.code).to.equal(1);
    expect(r4.stderr).to.equal(`skiff: services[0].image: ${front.host}/test/absent:1: image ${front.host}/test/absent:1 is not stored and its pull_policy is never: pull it first (skiff pull ${front.host}/test/absent:1)\n`);
    expect(front.requests.length).to.equal(before);
    const missing = fleetFile('m', `services:\n  app:\n    image: ${front.host}/test/absent:1\n    command: ["true"]\n`);
    const r5 = await d.cli(['fleet', 'up', missing]);
    expect(r5.code).to.equal(1);
    expect(r5.stderr).to.equal(`skiff: services[0].image: ${front.host}/test/absent:1: ${front.host}/test/absent: http://${front.host}/v2/test/absent/manifests/1 answered 404 Not Found: MANIFEST_UNKNOWN manifest unknown\n`);
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
    expect(readdirSync(`${store()}/tmp`)).to.deep.equal([]);
  });
});
