// `docker network connect` and `disconnect` (POST /networks/{id}/connect|disconnect) against a
// real skiffd in a network namespace of the test's own: a running container gets eth1 with an
// address on the other network, its name in that network's DNS, and can reach that network's
// containers by name; disconnect takes all of it away and leaves nothing on the host. A created
// container gets the interface at its start. No packet leaves the namespace.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireDocker, until, useDaemonInNetns } from '../support/daemon.js';

const BB = '/bin/busybox';

describe('network connect and disconnect', function () {
  this.timeout(180_000);
  before(requireDocker);
  const net = useDaemonInNetns();

  const docker = async (args: string[]): Promise<string> => {
    const r = await net.d.docker(args, { timeoutMs: 60_000 });
    expect(r.code, `docker ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout.trim();
  };
  const dockerFails = async (args: string[]): Promise<string> => {
    const r = await net.d.docker(args, { timeoutMs: 60_000 });
    expect(r.code, `docker ${args.join(' ')} succeeded: ${r.stdout}`).to.not.equal(0);
    return r.stderr.trim();
  };
  const runOn = (network: string, ...cmd: string[]) => net.d.cli(['run', '--rm', '--network', network, 'host', BB, ...cmd], { timeoutMs: 60_000 });
  const lookup = async (server: string, name: string): Promise<string[]> =>
    ((await net.ns.runAsync(BB, ['nslookup', name, server])).stdout.match(/Address(?: \d+)?:\s+(\d+\.\d+\.\d+\.\d+)/g) ?? [])
      .map((l) => l.replace(/^Address(?: \d+)?:\s+/, '')).filter((a) => a !== server);
  const networkFile = (name: string): { endpoints: Record<string, { address: string; ifname?: string }> } =>
    JSON.parse(readFileSync(join(net.d.stateDir, '.skiffd/networks', `${name}.json`), 'utf8')) as { endpoints: Record<string, { address: string; ifname?: string }> };

  it('a running container gets eth1 on the other network, is found by name there and finds its names; disconnect takes it all away', async () => {
    await docker(['network', 'create', '--subnet', '198.18.20.0/24', 'front']);
    await docker(['network', 'create', '--subnet', '198.18.21.0/24', 'back']);
    await docker(['run', '-d', '--name', 'db', '--network', 'back', 'host', BB, 'httpd', '-f', '-p', '80', '-h', '/etc']);
    // app prints what it sees once eth1 appears (its address, the back network's db by name), then again once eth1 is gone.
    await docker(['run', '-d', '--name', 'app', '--network', 'front', 'host', BB, 'sh', '-c', [
      `until ${BB} ip link show eth1 >/dev/null 2>&1; do ${BB} sleep 0.1; done`,
      `echo "eth1: $(${BB} ip -4 -o addr show eth1 | ${BB} awk '{print $4}')"`,
      `${BB} wget -qO- http://db/hostname >/dev/null && echo "db reached by name"`,
      `while ${BB} ip link show eth1 >/dev/null 2>&1; do ${BB} sleep 0.1; done`,
      'echo "eth1 gone"', `exec ${BB} sleep 100000`,
    ].join('; ')]);
    const before = { links: net.ns.links(), table: net.ns.nftTable() };
    expect(await lookup('198.18.21.1', 'app')).to.deep.equal([]);

    await docker(['network', 'connect', '--alias', 'api', 'back', 'app']);
    const address = await docker(['inspect', '-f', '{{.NetworkSettings.Networks.back.IPAddress}}', 'app']);
    expect(address).to.equal('198.18.21.3');
    expect(await docker(['inspect', '-f', '{{.NetworkSettings.Networks.front.IPAddress}}', 'app'])).to.equal('198.18.20.2');
    await net.d.waitForOutput('app', 'db reached by name');
    expect((await net.d.api('GET', '/containers/app/logs?stdout=1')).text).to.include('eth1: 198.18.21.3/24');
    // Its names (and the alias) in the back network's DNS; the front network's DNS does not learn db.
    expect(await lookup('198.18.21.1', 'app')).to.deep.equal([address]);
    expect(await lookup('198.18.21.1', 'api')).to.deep.equal([address]);
    expect(await lookup('198.18.20.1', 'db')).to.deep.equal([]);
    // A container on back reaches app over its new interface.
    const ping = await runOn('back', 'ping', '-c', '1', '-W', '5', 'app');
    expect(ping.code, ping.stdout + ping.stderr).to.equal(0);
    expect(networkFile('back').endpoints.app).to.deep.include({ address, ifname: 'eth1' });

    await docker(['network', 'disconnect', 'back', 'app']);
    await net.d.waitForOutput('app', 'eth1 gone');
    expect(await lookup('198.18.21.1', 'app')).to.deep.equal([]);
    expect(networkFile('back').endpoints.app).to.equal(undefined);
    expect(await docker(['inspect', '-f', '{{len .NetworkSettings.Networks}}', 'app'])).to.equal('1');
    // The veth's host end went with its peer; the rules never changed.
    await until(() => JSON.stringify(net.ns.links()) === JSON.stringify(before.links), 'the host end of eth1 to go');
    expect(net.ns.nftTable()).to.equal(before.table);
  });

  it('a created container gets the interface at its start (skiff network connect); rm gives the address back', async () => {
    await docker(['create', '--name', 'later', '--network', 'front', 'host', BB, 'sh', '-c', `${BB} ip -4 -o addr show eth1 | ${BB} awk '{print "eth1:", $4}'`]);
    const skiff = await net.d.cli(['network', 'connect', 'back', 'later']);
    expect(skiff.code, skiff.stderr).to.equal(0);
    const address = networkFile('back').endpoints.later!.address;
    await docker(['start', '-a', 'later']);
    expect((await net.d.api('GET', '/containers/later/logs?stdout=1')).text).to.include(`eth1: ${address}/24`);
    await docker(['rm', 'later']);
    expect(networkFile('back').endpoints.later).to.equal(undefined);
  });

  it('skiffd SIGKILLed and restarted: a connected container keeps its address and its name on the added network', async () => {
    await docker(['network', 'connect', '--alias', 'api2', 'back', 'app']);
    const address = networkFile('back').endpoints.app!.address;
    await net.d.stop('SIGKILL');
    await net.d.start();
    expect(await docker(['inspect', '-f', '{{.NetworkSettings.Networks.back.IPAddress}}', 'app'])).to.equal(address);
    expect(await lookup('198.18.21.1', 'api2')).to.deep.equal([address]);
    const ping = await runOn('back', 'ping', '-c', '1', '-W', '5', 'app');
    expect(ping.code, ping.stdout + ping.stderr).to.equal(0);
    await docker(['network', 'disconnect', 'back', 'app']);
  });

  it('docker rename: the container keeps its addresses on both networks, answers by its new name, and rm frees them', async () => {
    await docker(['run', '-d', '--name', 'before', '--network', 'front', 'host', BB, 'sleep', '100000']);
    await docker(['network', 'connect', 'back', 'before']);
    const own = networkFile('front').endpoints.before!.address;
    const added = networkFile('back').endpoints.before!.address;
    await docker(['rename', 'before', 'after']);
    // skiffd's view at once (the files follow on the thread pool; the restart test reads those)
    const holders = async (network: string) => Object.fromEntries(Object.values(((await net.d.api('GET', `/networks/${network}`)).body as { Containers: Record<string, { Name: string; IPv4Address: string }> }).Containers)
      .filter((c) => ['before', 'after'].includes(c.Name)).map((c) => [c.Name, c.IPv4Address.split('/')[0]]));
    expect([await holders('front'), await holders('back')]).to.deep.equal([{ after: own }, { after: added }]);
    expect(await lookup('198.18.20.1', 'after')).to.deep.equal([own]);
    expect(await lookup('198.18.21.1', 'after')).to.deep.equal([added]);
    expect(await lookup('198.18.20.1', 'before')).to.deep.equal([]);
    // Its next run is on both networks again, with the same addresses.
    await docker(['restart', '-t', '0', 'after']);
    expect(await docker(['inspect', '-f', '{{.NetworkSettings.Networks.front.IPAddress}} {{.NetworkSettings.Networks.back.IPAddress}}', 'after'])).to.equal(`${own} ${added}`);
    expect((await runOn('back', 'ping', '-c', '1', '-W', '5', 'after')).code).to.equal(0);
    await docker(['rm', '-f', 'after']);
    expect([await holders('front'), await holders('back')]).to.deep.equal([{}, {}]);
    expect([networkFile('front').endpoints.after, networkFile('back').endpoints.after]).to.deep.equal([undefined, undefined]);
  });

  it('bad requests name what was wrong and change nothing', async () => {
    await docker(['run', '-d', '--name', 'loner', '--network', 'none', 'host', BB, 'sleep', '100000']);
    await docker(['network', 'connect', 'back', 'app']);
    const state = () => ({ links: net.ns.links(), table: net.ns.nftTable(), front: networkFile('front'), back: networkFile('back') });
    const before = state();
    expect(await dockerFails(['network', 'connect', 'nosuch', 'app'])).to.include('network nosuch not found');
    expect(await dockerFails(['network', 'connect', 'back', 'nobody'])).to.include('nobody');
    expect(await dockerFails(['network', 'connect', 'back', 'loner'])).to.include('container loner is on network none: only a container on a bridge network can be connected to another');
    expect(await dockerFails(['network', 'connect', 'back', 'app'])).to.include('container app is already connected to network back');
    expect(await dockerFails(['network', 'connect', '--ip', '198.18.21.77', 'front', 'db'])).to.include('EndpointConfig.IPAMConfig.IPv4Address is not supported by skiff');
    expect(await dockerFails(['network', 'disconnect', 'front', 'app'])).to.include('container app was created on network front: skiff disconnects only networks added by connect');
    expect(await dockerFails(['network', 'disconnect', 'front', 'db'])).to.include('container db is not connected to network front');
    const raw = await net.d.api('POST', '/networks/back/connect', { Container: 'db', Bogus: 1 });
    expect([raw.status, (raw.body as { message: string }).message]).to.deep.equal([400, 'Bogus is not a field of a network connect or disconnect']);
    expect(state()).to.deep.equal(before);
  });
});
