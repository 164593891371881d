// The docker command line (28.x) against skiffd: ps filters, inspect templates, events windows.
import { expect } from 'chai';
import { requireDocker, useDaemon } from '../support/daemon.js';

describe('docker CLI against skiffd: filters, inspect templates, events', function () {
  this.timeout(60_000);
  before(requireDocker);
  // Not about networks, and skiffd runs in the host's namespace: its Docker API creates that name
  // no network stay on none rather than join bridge (test/integration/networks.test.ts covers that).
  const d = useDaemon(['--docker-network', 'none']);

  const docker = async (args: string[]): Promise<string> => {
    const r = await d.docker(args);
    expect(r.code, `docker ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout;
  };

  it('docker ps --filter label=, name=, status=, and docker inspect -f of State and LogConfig', async () => {
    await docker(['run', '-d', '--name', 'cli-web', '--label', 'role=web', '--label', 'env', 'host', '/bin/sleep', '30']);
    await docker(['run', '-d', '--name', 'cli-db', '--label', 'role=db', 'host', '/bin/sleep', '30']);
    expect((await d.docker(['run', '--name', 'cli-done', '--label', 'role=web', 'host', '/bin/sh', '-c', 'exit 2'])).code).to.equal(2);
    const names = async (...filters: string[]) => (await docker(['ps', '--format', '{{.Names}}', ...filters.flatMap((f) => ['--filter', f])])).trim().split('\n').filter(Boolean).sort();
    expect(await names('label=role=web')).to.deep.equal(['cli-web']);
    expect(await names('label=role')).to.deep.equal(['cli-db', 'cli-web']);
    expect(await names('label=role=web', 'label=env')).to.deep.equal(['cli-web']);
    expect(await names('name=cli-d')).to.deep.equal(['cli-db']);
    // a status filter looks at stopped containers without -a, as Docker's does
    expect(await names('status=exited')).to.deep.equal(['cli-done']);
    expect(await names('status=running', 'label=role=web')).to.deep.equal(['cli-web']);
    expect(await names('exited=2')).to.deep.equal(['cli-done']);
    expect((await docker(['inspect', '-f', '{{.State.Status}} {{.HostConfig.LogConfig.Type}} {{.State.ExitCode}} {{.State.FinishedAt}}', 'cli-web'])).trim())
      .to.equal('running json-file 0 0001-01-01T00:00:00Z');
    expect((await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.Name}} {{.HostConfig.NetworkMode}}', 'cli-done'])).trim())
      .to.equal('exited 2 /cli-done none');
    const bad = await d.docker(['ps', '--filter', 'status=sleepy']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include("invalid filter 'status=sleepy'");
    await docker(['rm', '-f', 'cli-web', 'cli-db', 'cli-done']);
  });

  it('docker events --since --until: the window\'s events, filtered, and the command ends', async () => {
    const since = new Date().toISOString();
    await docker(['run', '--rm', '--name', 'cli-ev', '--label', 'ev=yes', 'host', '/bin/true']);
    await docker(['run', '--rm', '--name', 'cli-other', 'host', '/bin/true']);
    const until = new Date().toISOString();
    const lines = async (...filters: string[]) => (await docker(['events', '--since', since, '--until', until, '--format', '{{.Action}} {{.Actor.Attributes.name}}',
      ...filters.flatMap((f) => ['--filter', f])])).trim().split('\n');
    expect(await lines('label=ev=yes')).to.deep.equal(['create cli-ev', 'start cli-ev', 'die cli-ev', 'destroy cli-ev']);
    expect(await lines('container=cli-other', 'event=die')).to.deep.equal(['die cli-other']);
    expect(await lines('type=container', 'event=start')).to.deep.equal(['start cli-ev', 'start cli-other']);
  });
});
