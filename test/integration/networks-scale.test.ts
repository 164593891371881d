// Bridge networks at size, in a network namespace of the test's own (test/support/netns.ts):
// 500 running containers on one network, every one reached by name from one client container,
// then all removed with nothing left behind; and the bridge's port limit (1023) refused at create
// with a message that says why. Real skiffd, bridges, veths, nft, busybox ping. No packet leaves
// the namespace: the client pings container addresses on the bridge.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { until, useDaemonInNetns } from '../support/daemon.js';

const BB = '/bin/busybox';

/** Runs `job` over `items` with at most `width` in flight. */
async function pool<T>(items: readonly T[], width: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await job(items[next++]!);
  }));
}

describe('bridge networks at size', function () {
  this.timeout(900_000);
  const net = useDaemonInNetns();

  const ok = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await net.d.api(method, path, body);
    expect(r.status, `${method} ${path}: ${r.text}`).to.be.oneOf([200, 201, 204]);
    return r.body;
  };
  const create = (name: string, network: string, cmd: string[]) =>
    net.d.api('POST', `/containers/create?name=${name}`, { Image: 'host', Cmd: cmd, HostConfig: { NetworkMode: network } });
  /** The host ends of veths on a bridge, as the kernel lists them. */
  const ports = (bridge: string): string[] => net.ns.run('ip', ['-o', 'link', 'show', 'master', bridge]).stdout.split('\n').filter(Boolean);
  const addresses = (): string => net.ns.run('ip', ['-o', '-4', 'addr']).stdout;
  const networkFile = (name: string): { endpoints: Record<string, unknown> } =>
    JSON.parse(readFileSync(join(net.d.stateDir, '.skiffd/networks', `${name}.json`), 'utf8')) as { endpoints: Record<string, unknown> };

  it('500 containers on one network: all reachable by name from one client; after removal no veth, rule or address is left', async () => {
    await ok('POST', '/networks/create', { Name: 'big', IPAM: { Config: [{ Subnet: '198.18.8.0/22' }] } });
    const bridge = ((await ok('GET', '/networks/big')) as { Options: Record<string, string> }).Options['com.skiff.bridge']!;
    const before = { links: net.ns.links(), table: net.ns.nftTable(), addresses: addresses(), view: await net.d.settledView() };

    const names = Array.from({ length: 500 }, (_, i) => `n${i}`);
    await pool(names, 8, async (name) => {
      const c = await create(name, 'big', [BB, 'sleep', '100000']);
      expect(c.status, `create ${name}: ${c.text}`).to.equal(201);
      const s = await net.d.api('POST', `/containers/${name}/start`);
      expect(s.status, `start ${name}: ${s.text}`).to.equal(204);
    });
    expect(ports(bridge)).to.have.length(500);

    // One client, every name: a DNS answer from skiffd and an echo reply over the bridge.
    const script = `for n in ${names.join(' ')}; do o=$(${BB} ping -c 1 -W 5 $n 2>&1) || echo "unreachable $n: $o"; done; echo done`;
    const client = await net.d.cli(['run', '--rm', '--network', 'big', 'host', BB, 'sh', '-c', script], { timeoutMs: 600_000 });
    expect(client.code, client.stderr).to.equal(0);
    expect(client.stdout.trim()).to.equal('done');

    await pool(names, 8, async (name) => { await ok('DELETE', `/containers/${name}?force=1`); });
    // A veth goes with its container's namespace, which the kernel frees a little after PID 1 exits.
    await until(() => ports(bridge).length === 0, 'every veth to leave the bridge', 120_000);
    expect({ links: net.ns.links(), table: net.ns.nftTable(), addresses: addresses(), view: await net.d.settledView() }).to.deep.equal(before);
    expect(((await ok('GET', '/networks/big')) as { Containers: object }).Containers).to.deep.equal({});
    expect(networkFile('big').endpoints).to.deep.equal({});
    // Every address went back: the next container gets the first one again.
    expect((await create('again', 'big', [BB, 'true'])).status).to.equal(201);
    const held = ((await ok('GET', '/networks/big')) as { Containers: Record<string, { IPv4Address: string }> }).Containers;
    expect(Object.values(held).map((c) => c.IPv4Address)).to.deep.equal(['198.18.8.2/22']);
    await ok('DELETE', '/containers/again');
    await ok('DELETE', '/networks/big');
  });

  it('a network holds at most 1023 containers (a bridge\'s ports): the 1024th is refused at create, naming why, and leaves nothing', async () => {
    await ok('POST', '/networks/create', { Name: 'full', IPAM: { Config: [{ Subnet: '198.18.16.0/21' }] } });
    const names = Array.from({ length: 1023 }, (_, i) => `f${i}`);
    await pool(names, 8, async (name) => {
      const c = await create(name, 'full', [BB, 'true']);
      expect(c.status, `create ${name}: ${c.text}`).to.equal(201);
    });
    const before = { links: net.ns.links(), table: net.ns.nftTable(), file: networkFile('full') };
    const over = await create('over', 'full', [BB, 'true']);
    expect([over.status, (over.body as { message: string }).message]).to.deep.equal([409,
      'network full already has 1023 containers, the most one Linux bridge takes (1023 ports): put container over on another network']);
    expect((await net.d.api('GET', '/containers/over/json')).status).to.equal(404);
    expect({ links: net.ns.links(), table: net.ns.nftTable(), file: networkFile('full') }).to.deep.equal(before);
    // The count is of containers held now: one removed, one more fits.
    await ok('DELETE', '/containers/f0');
    expect((await create('over', 'full', [BB, 'true'])).status).to.equal(201);
    await pool([...names.slice(1), 'over'], 8, async (name) => { await ok('DELETE', `/containers/${name}`); });
    expect(networkFile('full').endpoints).to.deep.equal({});
    await ok('DELETE', '/networks/full');
  });
});
