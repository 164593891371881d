// Bad input over the API: each a 4xx with a clear message, and skiffd keeps serving.
import { expect } from 'chai';
import { useDaemon, withDaemon } from '../support/daemon.js';
import { until } from '../support/wait.js';

describe('skiffd API: bad input', function () {
  this.timeout(60_000);
  const d = useDaemon();
  // skiffd still answers after each; what a test created goes, so that the next starts from none.
  afterEach(async () => {
    expect((await d.api('GET', '/_ping')).text).to.equal('OK');
    const left = (await d.api('GET', '/containers/json?all=1')).body as { Id: string }[];
    await Promise.all(left.map((c) => d.api('DELETE', `/containers/${c.Id}?force=1`)));
  });

  const create = (name: string, body: unknown) => d.api('POST', `/containers/create?name=${encodeURIComponent(name)}`, body);
  const message = (r: { body: unknown }) => (r.body as { message: string }).message;

  it('malformed JSON', async () => {
    const r = await d.api('POST', '/containers/create?name=x', undefined, '{"Image": "host",');
    expect(r.status).to.equal(400);
    expect(message(r)).to.match(/^malformed JSON body: /);
  });

  it('JSON nested too deep for the code that walks it (found by the fuzzer: was a 500, a stack overflow)', async () => {
    const r = await d.api('POST', '/containers/create?name=x', undefined, `{"Image":"host","Cmd":["/bin/true"],"Domainname":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    expect(r.status).to.equal(400);
    expect(message(r)).to.equal('malformed JSON body: nested more than 100 levels deep');
    // Brackets inside strings are text, not nesting.
    const s = await create('brackets', { Image: 'host', Cmd: ['/bin/echo', '['.repeat(500)] });
    expect(s.status, s.text).to.equal(201);
    expect((await d.api('DELETE', '/containers/brackets')).status).to.equal(204);
  });

  it('a path that cannot be decoded (found by the fuzzer: were 500s)', async () => {
    const { connect } = await import('node:net');
    const ask = (line: string) => new Promise<string>((resolve, reject) => {
      const sock = connect(d.socket, () => sock.write(`${line}\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let text = '';
      sock.on('data', (b: Buffer) => { text += b.toString('utf8'); });
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    const pct = await ask('GET /containers/%E0%A4%A/json HTTP/1.1');
    expect(pct).to.match(/^HTTP\/1\.1 400 /);
    expect(pct).to.include('"message":"malformed percent-encoding in the path \\"/containers/%E0%A4%A/json\\""');
    expect(await ask('DELETE /fleets/%ZZ HTTP/1.1')).to.match(/^HTTP\/1\.1 400 /);
    const target = await ask('GET http://[ HTTP/1.1');
    expect(target).to.match(/^HTTP\/1\.1 400 /);
    expect(target).to.include('"message":"malformed request target \\"http://[\\""');
  });

  it('Docker fields of the wrong type name the field (found by the fuzzer: were 500s)', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ Tmpfs: { '/a': { toString: 1 } } }, 'HostConfig.Tmpfs[/a] must be a string of mount options, got an object'],
      [{ NetworkMode: { valueOf: 1 } }, 'HostConfig.NetworkMode must be a string, got {"valueOf":1}'],
      [{ RestartPolicy: { Name: { toString: 1 } } }, 'HostConfig.RestartPolicy.Name must be a string, got an object'],
      [{ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: { valueOf: 1 } } }, 'HostConfig.RestartPolicy.MaximumRetryCount must be a whole number from 0, got {"valueOf":1}'],
      [{ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 1e20 } }, 'HostConfig.RestartPolicy.MaximumRetryCount must be a whole number from 0, got 100000000000000000000'],
    ];
    for (const [host, text] of cases) {
      const r = await create('x', { Image: 'host', Cmd: ['/bin/true'], HostConfig: host });
      expect([r.status, message(r)], JSON.stringify(host)).to.deep.equal([400, text]);
    }
    const b = await create('x', { Image: 'host', Cmd: ['/bin/true'], Skiff: { Console: { buffer: 416 } } });
    expect([b.status, message(b)]).to.deep.equal([400, 'console.buffer must be a whole number of bytes from 4096 to 16777216, got 416']);
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
  });

  it('unknown fields are ignored, as Docker ignores them; known ones skiff does not do are refused with their value', async () => {
    const r = await create('x', { Image: 'host', Cmd: ['/bin/true'], Frobnicate: 1, name: 'x', HostConfig: { Frobnicate: { a: 1 } } });
    expect(r.status, r.text).to.equal(201);
    expect((await d.api('DELETE', '/containers/x')).status).to.equal(204);
    const p = await create('x', { Image: 'host', Cmd: ['/bin/true'], HostConfig: { Privileged: true } });
    expect(p.status).to.equal(400);
    expect(message(p)).to.equal('HostConfig.Privileged true is not supported by skiff: skiff runs no privileged containers (add capabilities with CapAdd)');
    const i = await create('x', { Image: 'ubuntu', Cmd: ['/bin/true'] });
    expect(i.status).to.equal(400);
    expect(message(i)).to.equal('No such image: ubuntu (skiff runs "host", an absolute image directory, or an image pulled or loaded first: skiff pull ubuntu)');
  });

  it('a duplicate name', async () => {
    expect((await create('dup', { Image: 'host', Cmd: ['/bin/true'] })).status).to.equal(201);
    const r = await create('dup', { Image: 'host', Cmd: ['/bin/true'] });
    expect(r.status).to.equal(409);
    expect(message(r)).to.equal('Conflict. The container name "/dup" is already in use');
  });

  it('names with / or ..', async () => {
    for (const name of ['a/b', '..', '../etc', '.hidden']) {
      const r = await create(name, { Image: 'host', Cmd: ['/bin/true'] });
      expect(r.status, name).to.equal(400);
      expect(message(r)).to.equal(`name must match [A-Za-z0-9][A-Za-z0-9_.-]{0,62}, got ${JSON.stringify(name.replace(/^\//, ''))}`);
    }
  });

  it('a 10 MB body', async () => {
    // Declared 10 MB: skiffd answers 413 from the headers, without reading (or waiting for) the body.
    const { connect } = await import('node:net');
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = connect(d.socket, () => {
        sock.write(`POST /containers/create?name=big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${10 << 20}\r\n\r\n{"Image":"host","Cmd":["`);
      });
      let text = '';
      sock.on('data', (b: Buffer) => {
        text += b.toString('utf8');
        if (text.includes('}')) { sock.destroy(); resolve(text); }
      });
      sock.on('error', reject);
    });
    expect(reply).to.match(/^HTTP\/1\.1 413 /);
    expect(reply).to.include('"message":"request body too large (10485760 bytes; the limit is 1048576)"');
    // And a body that grows past the limit without declaring its length is cut off the same way.
    const chunked = await d.api('POST', '/containers/create?name=big', undefined, `{"Image":"host","Cmd":["${'x'.repeat(2 << 20)}"]}`).catch((err: Error) => err);
    if (!(chunked instanceof Error)) expect(chunked.status).to.equal(413);
  });

  it('an unknown container, and an unknown path', async () => {
    for (const [m, p] of [['GET', '/containers/nope/json'], ['POST', '/containers/nope/start'], ['POST', '/containers/nope/stop'], ['DELETE', '/containers/nope'], ['POST', '/v1.41/containers/nope/kill']] as const) {
      const r = await d.api(m, p);
      expect(r.status, `${m} ${p}`).to.equal(404);
      expect(message(r)).to.equal('No such container: nope');
    }
    const r = await d.api('GET', '/nothing/here');
    expect(r.status).to.equal(404);
  });

  it('an invalid spec field names the field', async () => {
    const r = await create('badhost', { Image: 'host', Cmd: ['/bin/true'], Hostname: 'not a hostname!' });
    expect(r.status).to.equal(400);
    expect(r.body).to.deep.include({ field: 'hostname' });
    expect(message(r)).to.match(/^hostname must be a valid hostname/);
    const nul = await create('nul', { Image: 'host', Cmd: ['/bin/echo', 'a\u0000b'] });
    expect(nul.status).to.equal(400);
    expect(message(nul)).to.equal('command[1] must not contain NUL bytes');
  });

  it('the socket is 0600', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(d.socket).mode & 0o777).to.equal(0o600);
  });
});

describe('skiffd API: who may connect', function () {
  this.timeout(30_000);
  it('refuses a peer that is neither root nor skiffd\'s user, even past the file mode', async () => {
    await withDaemon([], async (d) => {
      const { chmodSync } = await import('node:fs');
      const { spawnSync } = await import('node:child_process');
      chmodSync(d.socket, 0o666); // open the door on purpose: SO_PEERCRED must still say no
      // The socket's inode is in the state dir's private .skiffd/ (SKIFF_SOCKET links to it): open those too.
      for (const dir of [d.dir, d.stateDir, `${d.stateDir}/.skiffd`]) chmodSync(dir, 0o755);
      const script = `require('net').connect(${JSON.stringify(d.socket)}).on('connect', function () { this.write('GET /_ping HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'); }).on('data', (b) => { process.stdout.write(b); }).on('error', (e) => { if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') process.stdout.write(e.code + ' '); }).on('close', () => process.stdout.write('closed'))`;
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000 });
      expect(r.stdout, r.stderr).to.equal('closed');
      await until(() => d.log().includes('refused a connection from another user'), 'the refusal in skiffd\'s log');
      expect((await d.api('GET', '/_ping')).text).to.equal('OK');
    });
  });
});
