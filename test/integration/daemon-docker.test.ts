// The installed docker command line against skiffd: what it prints must be what it prints against Docker.
import { expect } from 'chai';
import { TestDaemon, requireDocker } from '../support/daemon.js';

describe('docker CLI against skiffd', function () {
  this.timeout(60_000);
  let d: TestDaemon;

  before(async function () {
    requireDocker();
    d = new TestDaemon();
    await d.start();
  });
  after(async () => {
    await d?.destroy();
  });

  it('docker ps -a lists containers in Docker\'s columns', async () => {
    await d.cli(['run', '-d', '--name', 'dk-up', '--', '/bin/sleep', '30']);
    await d.cli(['run', '--name', 'dk-done', '--', '/bin/sh', '-c', 'exit 4']);
    const ps = await d.docker(['ps', '-a']);
    expect(ps.code, ps.stderr).to.equal(0);
    const [header, ...rows] = ps.stdout.trimEnd().split('\n');
    expect(header).to.match(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    const up = rows.find((r) => r.endsWith('dk-up'));
    const done = rows.find((r) => r.endsWith('dk-done'));
    expect(up).to.match(/^[0-9a-f]{12}\s+host\s+"\/bin\/sleep 30"\s+.+ago\s+Up .+\s+dk-up$/);
    expect(done).to.match(/^[0-9a-f]{12}\s+host\s+"\/bin\/sh -c \\"exit 4\\""\s+.+ago\s+Exited \(4\) .+ago\s+dk-done$/);
    const running = await d.docker(['ps', '--format', '{{.Names}} {{.State}}']);
    expect(running.stdout.trim().split('\n')).to.deep.equal(['dk-up running']);
  });

  it('docker inspect prints the container\'s fields', async () => {
    const r = await d.docker(['inspect', 'dk-up']);
    expect(r.code, r.stderr).to.equal(0);
    const [c] = JSON.parse(r.stdout) as { Name: string; Path: string; Args: string[]; State: { Status: string; Running: boolean; Pid: number }; Config: { Cmd: string[]; Hostname: string } }[];
    expect(c!.Name).to.equal('/dk-up');
    expect(c!.Path).to.equal('/bin/sleep');
    expect(c!.Args).to.deep.equal(['30']);
    expect(c!.State).to.include({ Status: 'running', Running: true });
    expect(c!.State.Pid).to.be.greaterThan(0);
    expect(c!.Config.Hostname).to.equal('dk-up');
    const fmt = await d.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'dk-done']);
    expect(fmt.stdout.trim()).to.equal('exited 4');
  });

  it('docker stop, kill, wait and rm print what they print against Docker', async () => {
    await d.cli(['run', '-d', '--name', 'dk-stop', '--', '/bin/sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
    await d.cli(['run', '-d', '--name', 'dk-kill', '--', '/bin/sleep', '30']);
    await new Promise((r) => setTimeout(r, 300));
    const stop = await d.docker(['stop', 'dk-stop']);
    expect(stop.code, stop.stderr).to.equal(0);
    expect(stop.stdout).to.equal('dk-stop\n');
    const kill = await d.docker(['kill', 'dk-kill']);
    expect(kill.stdout).to.equal('dk-kill\n');
    const wait = await d.docker(['wait', 'dk-kill']);
    expect(wait.stdout).to.equal('137\n');
    expect((await d.docker(['wait', 'dk-stop'])).stdout).to.equal('0\n');
    const rm = await d.docker(['rm', 'dk-stop', 'dk-kill']);
    expect(rm.stdout).to.equal('dk-stop\ndk-kill\n');
    const gone = await d.docker(['rm', 'dk-stop']);
    expect(gone.code).to.equal(1);
    expect(gone.stderr).to.include('No such container: dk-stop');
    const rmUp = await d.docker(['rm', 'dk-up']);
    expect(rmUp.code).to.equal(1);
    expect(rmUp.stderr).to.include('You cannot remove a running container dk-up');
    expect((await d.docker(['rm', '-f', 'dk-up'])).stdout).to.equal('dk-up\n');
  });
});
