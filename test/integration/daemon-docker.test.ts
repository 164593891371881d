// The installed docker command line against skiffd: what it prints must be what it prints against Docker.
import { expect } from 'chai';
import { requireDocker, useDaemon } from '../support/daemon.js';

describe('docker CLI against skiffd', function () {
  this.timeout(60_000);
  before(requireDocker);
  // Not about networks, and skiffd runs in the host's namespace: its Docker API creates that name
  // no network stay on none rather than join bridge (test/integration/networks.test.ts covers that).
  const d = useDaemon(['--docker-network', 'none']);
  // What the listing and inspect tests look at, made here so that each test also runs alone.
  before(async () => {
    expect((await d.cli(['run', '-d', '--name', 'dk-up', '--', '/bin/sleep', '1000'])).code).to.equal(0);
    expect((await d.cli(['run', '--name', 'dk-done', '--', '/bin/sh', '-c', 'exit 4'])).code).to.equal(4);
  });

  it('docker ps -a lists containers in Docker\'s columns', async () => {
    const ps = await d.docker(['ps', '-a']);
    expect(ps.code, ps.stderr).to.equal(0);
    const [header, ...rows] = ps.stdout.trimEnd().split('\n');
    expect(header).to.match(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    const up = rows.find((r) => r.endsWith('dk-up'));
    const done = rows.find((r) => r.endsWith('dk-done'));
    expect(up).to.match(/^[0-9a-f]{12}\s+host\s+"\/bin\/sleep 1000"\s+.+ago\s+Up .+\s+dk-up$/);
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
    expect(c!.Args).to.deep.equal(['1000']);
    expect(c!.State).to.include({ Status: 'running', Running: true });
    expect(c!.State.Pid).to.be.greaterThan(0);
    expect(c!.Config.Hostname).to.equal('dk-up');
    const fmt = await d.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'dk-done']);
    expect(fmt.stdout.trim()).to.equal('exited 4');
  });

  it('docker stop, kill, wait and rm print what they print against Docker', async () => {
    await d.cli(['run', '-d', '--name', 'dk-stop', '--', '/bin/sh', '-c', 'trap "exit 0" TERM; echo ready; while true; do sleep 0.1; done']);
    await d.cli(['run', '-d', '--name', 'dk-kill', '--', '/bin/sleep', '1000']);
    await d.cli(['run', '-d', '--name', 'dk-busy', '--', '/bin/sleep', '1000']);
    await d.waitForOutput('dk-stop', 'ready'); // its trap is set: SIGTERM makes it exit 0
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
    const rmBusy = await d.docker(['rm', 'dk-busy']);
    expect(rmBusy.code).to.equal(1);
    expect(rmBusy.stderr).to.include('You cannot remove a running container dk-busy');
    expect((await d.docker(['rm', '-f', 'dk-busy'])).stdout).to.equal('dk-busy\n');
  });
});
