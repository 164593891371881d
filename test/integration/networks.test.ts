// Bridge networks end to end, in a network namespace of the test's own (test/support/netns.ts):
// a real skiffd inside it, real bridges, veths, nft rules and containers (busybox httpd, wget,
// nslookup, ip). No packet leaves the namespace: traffic goes between container addresses, the
// gateways, the namespace's dummy "external" address and 127.0.0.1; the DNS forwarder's upstream
// is a resolver the test runs in the namespace.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon, until } from '../support/daemon.js';
import { TestNetns } from '../support/netns.js';
import { TempDirs } from '../support/tmp.js';

const ROOT = join(import.meta.dirname, '../..');
const BB = '/bin/busybox';

describe('bridge networks', function () {
  this.timeout(120_000);
  const tmp = new TempDirs();
  let ns: TestNetns;
  let d: TestDaemon;
  let www: string;
  let resolver: ChildProcess | null = null;

  before(async () => {
    ns = new TestNetns();
    const dir = tmp.make('net');
    www = join(dir, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'index.html'), 'hello from web\n');
    const resolv = join(dir, 'resolv.conf');
    writeFileSync(resolv, 'nameserver 127.0.0.1\n');
    // The upstream resolver, in the namespace: started first, and known to be listening before skiffd starts.
    resolver = spawn('nsenter', [`--net=/run/netns/${ns.name}`, process.execPath, '--import', 'tsx', join(ROOT, 'test/support/test-resolver.ts'), '127.0.0.1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      resolver!.stdout!.once('data', () => resolve());
      resolver!.once('exit', (code) => reject(new Error(`test resolver exited with ${code}`)));
    });
    d = new TestDaemon(['--default-subnet', '198.18.0.0/24', '--resolv-conf', resolv], { netns: ns.name });
    await d.start();
  });

  after(async () => {
    await d?.destroy();
    if (resolver?.pid !== undefined && resolver.exitCode === null) {
      const gone = new Promise((r) => resolver!.once('exit', r));
      process.kill(resolver.pid, 'SIGTERM');
      await gone;
    }
    ns?.destroy();
    tmp.removeAll();
  });

  const skiff = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => d.cli(args, { timeoutMs: 60_000 });
  const ok = async (args: string[]): Promise<string> => {
    const r = await skiff(args);
    expect(r.code, `skiff ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout;
  };
  /** An attached run: the command's output and exit code. */
  const runOn = (network: string, ...cmd: string[]) => skiff(['run', '--rm', '--network', network, 'host', BB, ...cmd]);
  const address = async (name: string): Promise<string> => {
    const info = (await d.api('GET', `/containers/${name}/json`)).body as { NetworkSettings: { IPAddress: string } };
    return info.NetworkSettings.IPAddress;
  };
  const webOn = (network: string, name: string, ...more: string[]) =>
    ok(['run', '-d', '--name', name, '--network', network, ...more, '--mount', `${www}:/mnt:ro`, 'host', BB, 'httpd', '-f', '-p', '80', '-h', '/mnt']);

  it('two containers on one network reach each other by name; from another network they cannot', async () => {
    await ok(['network', 'create', '--subnet', '198.18.1.0/24', 'front']);
    await ok(['network', 'create', '--subnet', '198.18.2.0/24', 'other']);
    await webOn('front', 'web');
    expect(await address('web')).to.equal('198.18.1.2');

    const byName = await runOn('front', 'wget', '-qO-', 'http://web/');
    expect(byName.code, byName.stderr).to.equal(0);
    expect(byName.stdout).to.include('hello from web');
    // The container's own view: its address, default route via the gateway, resolv.conf, hosts.
    const view = await runOn('front', 'sh', '-c', `${BB} ip -4 addr show eth0; ${BB} ip route; cat /etc/resolv.conf /etc/hosts`);
    expect(view.stdout).to.match(/inet 198\.18\.1\.3\/24/);
    expect(view.stdout).to.include('default via 198.18.1.1 dev eth0');
    expect(view.stdout).to.include('nameserver 198.18.1.1');
    expect(view.stdout).to.match(/198\.18\.1\.3\s+\S+/);

    // Another network: the name is not known there, and the address is not reachable.
    const lookup = await runOn('other', 'nslookup', 'web');
    expect(lookup.stdout + lookup.stderr).to.not.include('198.18.1.2');
    const byAddress = await runOn('other', 'wget', '-T', '2', '-qO-', 'http://198.18.1.2/');
    expect(byAddress.code).to.not.equal(0);
    expect(byAddress.stdout).to.not.include('hello from web');
    // The isolation rule that made it fail, read back from the table.
    expect(ns.nftTable()).to.match(/iifname "sk-[0-9a-f]{12}" oifname \{?\s*"sk-[0-9a-f]{12}"/);
  });

  it('an --internal network has no default route out and no masquerade rule; others have one', async () => {
    await ok(['network', 'create', '--subnet', '198.18.3.0/24', '--internal', 'sealed']);
    const routes = await runOn('sealed', 'ip', 'route');
    expect(routes.code, routes.stderr).to.equal(0);
    expect(routes.stdout).to.not.include('default');
    expect(routes.stdout).to.include('198.18.3.0/24 dev eth0');
    const table = ns.nftTable();
    expect(table).to.include('ip saddr 198.18.1.0/24 oifname != ');
    expect(table).to.include('masquerade');
    expect(table).to.not.include('ip saddr 198.18.3.0/24');
  });

  it('a container restarted by its policy is on its network again in every run, with the same address', async () => {
    await ok(['run', '-d', '--name', 'flaky', '--network', 'front', '--restart', 'on-failure:2', 'host', BB, 'sh', '-c',
      `${BB} ip -4 addr show eth0 | ${BB} grep -q "inet $(${BB} awk '/flaky/ {print $1}' /etc/hosts)/24" && exit 3`]);
    const done = await until(async () => {
      const r = (await d.api('GET', '/containers/flaky/json')).body as { State: { Status: string; ExitCode: number }; RestartCount: number };
      return r.State.Status === 'exited' ? r : null;
    }, 'flaky to stop restarting');
    // 3 from the command each time (125 would be a launch that failed): the network came up in all three runs.
    expect([done.State.ExitCode, done.RestartCount]).to.deep.equal([3, 2]);
    await ok(['rm', 'flaky']);
  });

  it('DNS: a stopped container leaves the answer at once; other names go to the upstream resolver', async () => {
    await webOn('front', 'web2', '--network-alias', 'www-alias');
    const gw = '198.18.1.1';
    const ask = async (name: string) => (await ns.runAsync(BB, ['nslookup', name, gw])).stdout;
    expect(await ask('web2')).to.include('198.18.1.');
    expect(await ask('www-alias')).to.include('198.18.1.');
    expect(await ask('outside.test')).to.include('198.19.0.99');
    const web2 = await address('web2');
    await ok(['stop', '-t', '0', 'web2']);
    // The stop returns once the exit is recorded; the name went with it.
    expect(await ask('web2')).to.not.include(web2);
    await ok(['rm', 'web2']);
  });

  it('-p publishes on the external address and on 127.0.0.1; a second container asking for the port gets a 409 naming it', async () => {
    await webOn('front', 'pweb', '-p', '18080:80');
    const external = await ns.runAsync(BB, ['wget', '-qO-', `http://${ns.external}:18080/`]);
    expect(external.stdout, external.stderr).to.include('hello from web');
    const loopback = await ns.runAsync(BB, ['wget', '-qO-', 'http://127.0.0.1:18080/']);
    expect(loopback.stdout, loopback.stderr).to.include('hello from web');
    expect(ns.nftTable()).to.match(/tcp dport 18080 dnat ip to 198\.18\.1\.\d+:80/);

    const before = { links: ns.links(), table: ns.nftTable() };
    const again = await d.api('POST', '/containers/create?name=pweb2', {
      Image: 'host', Cmd: [BB, 'true'], HostConfig: { NetworkMode: 'front', PortBindings: { '80/tcp': [{ HostPort: '18080' }] } },
    });
    expect(again.status).to.equal(409);
    expect((again.body as { message: string }).message).to.include('18080').and.include('pweb');
    expect((await d.api('GET', '/containers/pweb2/json')).status).to.equal(404);
    expect({ links: ns.links(), table: ns.nftTable() }).to.deep.equal(before);
    const inspect = (await d.api('GET', '/containers/pweb/json')).body as { NetworkSettings: { Ports: unknown; Networks: Record<string, { IPAddress: string; MacAddress: string; Gateway: string; IPPrefixLen: number }> } };
    expect(inspect.NetworkSettings.Ports).to.deep.equal({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '18080' }] });
    const ep = inspect.NetworkSettings.Networks.front!;
    expect(ep.Gateway).to.equal('198.18.1.1');
    expect(ep.IPPrefixLen).to.equal(24);
    expect(ep.MacAddress).to.equal(`02:42:${ep.IPAddress.split('.').map((x) => Number(x).toString(16).padStart(2, '0')).join(':')}`);
  });

  it('bad input names the value and creates nothing', async () => {
    const state = async () => ({
      links: ns.links(), table: ns.nftTable(),
      networks: ((await d.api('GET', '/networks')).body as { Name: string }[]).map((n) => n.Name),
      containers: ((await d.api('GET', '/containers/json?all=1')).body as { Names: string[] }[]).map((c) => c.Names[0]).sort(),
    });
    const before = await state();
    const create = (body: object) => d.api('POST', '/networks/create', body);
    const overlap = await create({ Name: 'clash', IPAM: { Config: [{ Subnet: '198.18.1.128/25' }] } });
    expect([overlap.status, (overlap.body as { message: string }).message]).to.deep.equal([409, 'subnet 198.18.1.128/25 overlaps subnet 198.18.1.0/24 of network front']);
    const outside = await create({ Name: 'gw', IPAM: { Config: [{ Subnet: '198.18.9.0/24', Gateway: '198.18.10.1' }] } });
    expect([outside.status, (outside.body as { message: string }).message]).to.deep.equal([400, 'gateway 198.18.10.1 is not a host address of subnet 198.18.9.0/24']);
    const port = await skiff(['run', '-d', '--name', 'badport', '--network', 'front', '-p', '70000:80', 'host', BB, 'true']);
    expect(port.code).to.equal(125);
    expect(port.stderr).to.include('HostConfig.PortBindings[80/tcp][0].HostPort "70000" is not a port from 1 to 65535');
    const unknown = await skiff(['run', '-d', '--name', 'lost', '--network', 'nosuch', 'host', BB, 'true']);
    expect(unknown.code).to.equal(125);
    expect(unknown.stderr).to.include('network nosuch not found');
    expect(await state()).to.deep.equal(before);
  });

  it('skiffd SIGKILLed and restarted: addresses kept, none handed out twice, rules written once', async () => {
    const names = ['web', 'pweb'];
    const addresses = await Promise.all(names.map(address));
    const table = ns.nftTable();
    await d.stop('SIGKILL');
    await d.start();
    expect(await Promise.all(names.map(address))).to.deep.equal(addresses);
    expect(ns.nftTable()).to.equal(table);
    await webOn('front', 'fresh');
    const fresh = await address('fresh');
    expect(fresh).to.match(/^198\.18\.1\.\d+$/);
    expect(addresses).to.not.include(fresh);
    // Still reachable by name after the restart (the adopted web is in the DNS again).
    const byName = await runOn('front', 'wget', '-qO-', 'http://web/');
    expect(byName.stdout).to.include('hello from web');
    // The published port's proxy is back too.
    expect((await ns.runAsync(BB, ['wget', '-qO-', 'http://127.0.0.1:18080/'])).stdout).to.include('hello from web');
  });

  it('a fleet: its networks made first, service names round-robin over replicas, ports, networks gone at down', async () => {
    const file = join(tmp.make('fleet'), 'shop.yaml');
    const httpd = `command: [${BB}, httpd, -f, -p, "80", -h, /mnt]\n    volumes: ["${www}:/mnt:ro"]`;
    writeFileSync(file, `name: shop
networks:
  back:
    ipam:
      config:
        - subnet: 198.18.6.0/24
services:
  web:
    image: host
    ${httpd}
    networks: [back]
    deploy: { replicas: 2 }
  edge:
    image: host
    ${httpd}
    networks:
      back:
        aliases: [front-door]
    ports: ["18082:80"]
`);
    await ok(['fleet', 'up', file]);
    const web = (await ns.runAsync(BB, ['nslookup', 'web', '198.18.6.1'])).stdout;
    expect(web.match(/198\.18\.6\.\d+/g)?.filter((a) => a !== '198.18.6.1').sort()).to.have.length(2);
    const byService = await runOn('shop_back', 'wget', '-qO-', 'http://web/');
    expect(byService.stdout, byService.stderr).to.include('hello from web');
    expect((await runOn('shop_back', 'wget', '-qO-', 'http://front-door/')).stdout).to.include('hello from web');
    expect((await ns.runAsync(BB, ['wget', '-qO-', 'http://127.0.0.1:18082/'])).stdout).to.include('hello from web');
    await ok(['fleet', 'down', file]);
    expect((await d.api('GET', '/networks/shop_back')).status).to.equal(404);
  });

  it('a network and a container publishing a port, both removed, leave skiffd and the namespace as they were', async () => {
    const before = { view: await d.settledView(), links: ns.links(), table: ns.nftTable() };
    await ok(['network', 'create', '--subnet', '198.18.7.0/24', 'brief']);
    await webOn('brief', 'brief-web', '-p', '18083:80');
    expect((await ns.runAsync(BB, ['wget', '-qO-', 'http://127.0.0.1:18083/'])).stdout).to.include('hello from web');
    await ok(['rm', '-f', 'brief-web']);
    await ok(['network', 'rm', 'brief']);
    expect({ view: await d.settledView(), links: ns.links(), table: ns.nftTable() }).to.deep.equal(before);
  });

  it('the docker CLI: network create, ls, inspect, run --network and -p, rm', async () => {
    const docker = async (args: string[]): Promise<string> => {
      const r = await d.docker(args, { timeoutMs: 60_000 });
      expect(r.code, `docker ${args.join(' ')}: ${r.stderr}`).to.equal(0);
      return r.stdout.trim();
    };
    await docker(['network', 'create', '--subnet', '198.18.5.0/24', 'dnet']);
    expect((await docker(['network', 'ls', '--format', '{{.Name}}'])).split('\n')).to.include('dnet');
    expect(await docker(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}', 'dnet'])).to.equal('198.18.5.0/24 198.18.5.1');
    await docker(['run', '-d', '--name', 'dweb', '--network', 'dnet', '-p', '18081:80', '-v', `${www}:/mnt:ro`, 'host', BB, 'httpd', '-f', '-p', '80', '-h', '/mnt']);
    expect(await docker(['inspect', '-f', '{{.NetworkSettings.Networks.dnet.IPAddress}}', 'dweb'])).to.equal('198.18.5.2');
    expect((await ns.runAsync(BB, ['wget', '-qO-', 'http://127.0.0.1:18081/'])).stdout).to.include('hello from web');
    const busy = await d.docker(['network', 'rm', 'dnet']);
    expect(busy.code).to.not.equal(0);
    expect(busy.stderr).to.include('dweb');
    await docker(['rm', '-f', 'dweb']);
    await docker(['network', 'rm', 'dnet']);
    expect((await d.api('GET', '/networks/dnet')).status).to.equal(404);
  });

  it('the docker CLI without --network: the container joins bridge, as in Docker, and reaches others there by name', async () => {
    const docker = (args: string[]) => d.docker(args, { timeoutMs: 60_000 });
    expect((await docker(['run', '-d', '--name', 'dflt', '-v', `${www}:/mnt:ro`, 'host', BB, 'httpd', '-f', '-p', '80', '-h', '/mnt'])).code).to.equal(0);
    const inspect = await docker(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}{{end}}', 'dflt']);
    expect(inspect.stdout.trim()).to.match(/^bridge 198\.18\.0\.\d+$/);
    const client = await docker(['run', '--rm', 'host', BB, 'wget', '-qO-', 'http://dflt/']);
    expect(client.stdout, client.stderr).to.include('hello from web');
    expect((await docker(['rm', '-f', 'dflt'])).code).to.equal(0);
  });
});
