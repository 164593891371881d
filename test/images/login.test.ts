// skiff login / logout against real registries that want credentials: docker-registry with
// htpasswd (Basic), and the same registry behind a token service that issues bearer tokens only
// for a Basic login (as Docker Hub's does). A saved login is used by skiffd's own pulls:
// `skiff pull` and a fleet's image.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { busyboxLayer } from '../support/busybox-layer.js';
import { requireDocker, useDaemon } from '../support/daemon.js';
import { TestRegistry, useRegistry, writeLayout } from '../support/registry.js';
import { TempDirs } from '../support/tmp.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('images: skiff login and logout', function () {
  this.timeout(120_000);
  const tmp = new TempDirs();
  const d = useDaemon();
  const open = useRegistry(tmp);
  let locked: TestRegistry;
  let tokens: Server;
  let tokenHost = '';
  /** Authorization headers the token service was sent */
  const tokenRequests: string[] = [];
  let layout = '';

  before(async () => {
    layout = tmp.make('layout');
    await writeLayout(layout, { tag: '1', layers: [busyboxLayer()], config: { Cmd: ['echo', 'hello from a private image'] } });
    // Basic: a registry with htpasswd (bcrypt) of its own.
    const dir = tmp.make('locked');
    const pw = spawnSync('htpasswd', ['-Bbn', 'alice', 'secret'], { encoding: 'utf8' });
    if (pw.status !== 0) throw new Error(`htpasswd: ${pw.stderr}`);
    writeFileSync(`${dir}/htpasswd`, pw.stdout);
    locked = new TestRegistry(dir, `auth:\n  htpasswd:\n    realm: test\n    path: ${dir}/htpasswd\n`);
    await locked.start();
    locked.push(layout, '1', 'private/app:1', 'alice:secret');

    // Bearer: the open registry's content behind a token service that wants alice's password.
    open.registry.push(layout, '1', 'private/app:1');
    tokens = createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/token') {
          tokenRequests.push(req.headers.authorization ?? '');
          if (req.headers.authorization !== basic('alice', 'secret')) {
            res.writeHead(401, { 'Content-Type': 'application/json' });
            res.end('{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}');
            return;
          }
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ token: 'alice-token' }));
          return;
        }
        if (req.headers.authorization !== 'Bearer alice-token') {
          res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${tokenHost}/token",service="test"`, 'Content-Type': 'application/json' });
          res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
          return;
        }
        const up = await fetch(`http://${open.registry.host}${req.url ?? '/'}`, { headers: { Accept: req.headers.accept ?? '*/*' } });
        res.writeHead(up.status, Object.fromEntries([...up.headers].filter(([k]) => ['content-type', 'content-length', 'docker-content-digest'].includes(k))));
        res.end(Buffer.from(await up.arrayBuffer()));
      })();
    });
    await new Promise<void>((r) => tokens.listen(0, '127.0.0.1', r));
    tokenHost = `127.0.0.1:${(tokens.address() as { port: number }).port}`;
  });
  after(async () => {
    await locked.stop();
    tokens.closeAllConnections();
    await new Promise((r) => tokens.close(r));
    tmp.removeAll();
  });

  const auths = () => `${d.stateDir}/.skiffd/auths.json`;

  it('Basic (htpasswd): a pull without a login is refused; a wrong password saves nothing; a good one is saved 0600 and pulls', async () => {
    const ref = `${locked.host}/private/app:1`;
    const anonymous = await d.cli(['pull', ref]);
    expect(anonymous.code).to.equal(1);
    expect(anonymous.stderr).to.equal(`skiff: pull access denied for ${locked.host}/private/app: http://${locked.host}/v2/private/app/manifests/1 asks for Basic credentials and none were given\n`);

    const wrong = await d.cli(['login', locked.host, '-u', 'alice', '--password-stdin'], { input: 'guess\n' });
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr).to.equal(`skiff: login to ${locked.host} refused: http://${locked.host}/v2/ answered 401: UNAUTHORIZED authentication required\n`);
    expect(existsSync(auths())).to.equal(false);

    const good = await d.cli(['login', `http://${locked.host}/`, '-u', 'alice', '--password-stdin'], { input: 'secret\n' });
    expect(good.stderr).to.equal('');
    expect(good.stdout).to.equal('Login Succeeded\n');
    expect(statSync(auths()).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(readFileSync(auths(), 'utf8'))).to.deep.equal({ auths: { [locked.host]: { auth: Buffer.from('alice:secret').toString('base64') } } });

    const pulled = await d.cli(['pull', ref]);
    expect(pulled.code, pulled.stderr).to.equal(0);
    const run = await d.cli(['run', '--rm', ref]);
    expect(run.stdout).to.equal('hello from a private image\n');
  });

  it('Bearer: the saved login is sent to the token service, for skiff pull and for a fleet\'s image', async () => {
    const ref = `${tokenHost}/private/app:1`;
    const anonymous = await d.cli(['pull', ref]);
    expect(anonymous.code).to.equal(1);
    expect(anonymous.stderr).to.equal(`skiff: pull access denied for ${tokenHost}/private/app: the token service http://${tokenHost}/token answered 401: UNAUTHORIZED incorrect username or password\n`);

    const good = await d.cli(['login', tokenHost, '-u', 'alice', '--password-stdin'], { input: 'secret' });
    expect(good.code, good.stderr).to.equal(0);
    expect(tokenRequests.at(-1)).to.equal(basic('alice', 'secret'));
    // Both logins are kept, each under its registry.
    expect(Object.keys((JSON.parse(readFileSync(auths(), 'utf8')) as { auths: object }).auths).sort()).to.deep.equal([locked.host, tokenHost].sort());

    const file = join(tmp.make('fleet'), 'priv.yaml');
    writeFileSync(file, `services:\n  app:\n    image: ${ref}\n    pull_policy: always\n    x-skiff: { job: true }\n`);
    const before = tokenRequests.length;
    const up = await d.cli(['fleet', 'up', '--wait', file]);
    expect(up.code, up.stderr + up.stdout).to.equal(0);
    expect(tokenRequests.slice(before)).to.include(basic('alice', 'secret'));
    expect((await d.cli(['logs', 'priv-app-1'])).stdout).to.equal('hello from a private image\n');
    expect((await d.cli(['fleet', 'down', file])).code).to.equal(0);
  });

  it('logout forgets the login: pulls are refused again; a second logout says there was none', async () => {
    const out = await d.cli(['logout', locked.host]);
    expect(out.stdout).to.equal(`Removed login credentials for ${locked.host}\n`);
    expect(Object.keys((JSON.parse(readFileSync(auths(), 'utf8')) as { auths: object }).auths)).to.deep.equal([tokenHost]);
    expect((await d.cli(['rmi', `${locked.host}/private/app:1`])).code).to.equal(0);
    const refused = await d.cli(['pull', `${locked.host}/private/app:1`]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('asks for Basic credentials and none were given');
    const again = await d.cli(['logout', locked.host]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.equal(`skiff: not logged in to ${locked.host}\n`);
  });

  it('docker login against skiffd (POST /auth) checks and saves the login as skiff login does', async () => {
    requireDocker();
    const config = tmp.make('docker-config');
    const wrong = await d.docker(['--config', config, 'login', locked.host, '-u', 'alice', '-p', 'nope']);
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr).to.contain(`login to ${locked.host} refused: http://${locked.host}/v2/ answered 401`);
    const good = await d.docker(['--config', config, 'login', locked.host, '-u', 'alice', '-p', 'secret']);
    expect(good.code, good.stderr).to.equal(0);
    expect(good.stdout).to.contain('Login Succeeded');
    expect(Object.keys((JSON.parse(readFileSync(auths(), 'utf8')) as { auths: object }).auths)).to.include(locked.host);
    expect((await d.cli(['pull', `${locked.host}/private/app:1`])).code).to.equal(0);
  });

  it('usage errors: no user, no --password-stdin, an empty password', async () => {
    expect((await d.cli(['login', locked.host, '--password-stdin'], { input: 'x' })).stderr).to.equal("skiff login: give the user name with -u USER\nSee 'skiff login --help'.\n");
    expect((await d.cli(['login', locked.host, '-u', 'alice'])).stderr).to.equal("skiff login: give the password on standard input with --password-stdin\nSee 'skiff login --help'.\n");
    const empty = await d.cli(['login', locked.host, '-u', 'alice', '--password-stdin'], { input: '\n' });
    expect(empty.code).to.equal(2);
    expect(empty.stderr).to.equal("skiff login: the password on standard input is empty\nSee 'skiff login --help'.\n");
  });
});
