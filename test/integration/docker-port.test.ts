// `docker port` and the PORTS of `docker ps`, with the real docker CLI (28), for a container
// with published ports: what the CLI reads is NetworkSettings.Ports (inspect) and Ports (list),
// each filled while the container runs, as Docker's are. skiffd runs in a network namespace of
// the test's own (no packet leaves it), and the port `docker port` names really answers there.
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireDocker, TestDaemon } from '../support/daemon.js';
import { TestNetns } from '../support/netns.js';
import { TempDirs } from '../support/tmp.js';

const BB = '/bin/busybox';

describe('docker port', function () {
  this.timeout(120_000);
  before(requireDocker);
  const tmp = new TempDirs();
  let ns: TestNetns;
  let d: TestDaemon;
  let www: string;

  before(async () => {
    ns = new TestNetns();
    www = join(tmp.make('port'), 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'index.html'), 'hello through the port\n');
    d = new TestDaemon(['--default-subnet', '198.18.0.0/24'], { netns: ns.name });
    await d.start();
  });

  after(async () => {
    await d?.destroy();
    ns?.destroy();
    tmp.removeAll();
  });

  const docker = async (args: string[]): Promise<string> => {
    const r = await d.docker(args, { timeoutMs: 60_000 });
    expect(r.code, `docker ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout.trim();
  };

  it('lists each published port while the container runs, one port by number, and refuses an unpublished one', async () => {
    await docker(['run', '-d', '--name', 'pweb', '--network', 'bridge', '-p', '18090:80', '-p', '127.0.0.1:18091:81/udp',
      '-v', `${www}:/mnt:ro`, 'host', BB, 'httpd', '-f', '-p', '80', '-h', '/mnt']);
    expect((await docker(['port', 'pweb'])).split('\n').sort()).to.deep.equal(['80/tcp -> 0.0.0.0:18090', '81/udp -> 127.0.0.1:18091']);
    expect(await docker(['port', 'pweb', '80'])).to.equal('0.0.0.0:18090');
    expect(await docker(['port', 'pweb', '81/udp'])).to.equal('127.0.0.1:18091');
    const none = await d.docker(['port', 'pweb', '82']);
    expect([none.code, none.stderr.trim()]).to.deep.equal([1, "Error: No public port '82' published for pweb"]);
    expect((await docker(['ps', '--filter', 'name=pweb', '--format', '{{.Ports}}'])).split(', ').sort())
      .to.deep.equal(['0.0.0.0:18090->80/tcp', '127.0.0.1:18091->81/udp']);

    // The address `docker port` names is the one that answers.
    const got = await ns.runAsync(BB, ['wget', '-qO-', `http://${ns.external}:${(await docker(['port', 'pweb', '80'])).split(':')[1]}/`]);
    expect(got.stdout, got.stderr).to.equal('hello through the port\n');

    // Stopped: no port is published (Docker's answer is empty), but the bindings stay in HostConfig for the next start.
    await docker(['stop', '-t', '1', 'pweb']);
    expect(await docker(['port', 'pweb'])).to.equal('');
    expect(await docker(['ps', '-a', '--filter', 'name=pweb', '--format', '{{.Ports}}'])).to.equal('');
    expect(await docker(['inspect', '-f', '{{json .HostConfig.PortBindings}}', 'pweb']))
      .to.equal('{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"18090"}],"81/udp":[{"HostIp":"127.0.0.1","HostPort":"18091"}]}');
    await docker(['start', 'pweb']);
    expect(await docker(['port', 'pweb', '80'])).to.equal('0.0.0.0:18090');
    await docker(['rm', '-f', 'pweb']);
  });
});
