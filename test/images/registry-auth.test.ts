// The WWW-Authenticate flow and a failing registry, against the real registry behind a small
// token-checking front on 127.0.0.1 (as Docker Hub's token service fronts its registry): a
// 401 with a Bearer challenge, a token service that wants Basic credentials for private
// repositories, and a path that answers 500.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { request } from '../../src/api/http-client.js';
import { busyboxLayer } from '../support/busybox-layer.js';
import { useDaemon } from '../support/daemon.js';
import { useRegistry, writeLayout } from '../support/registry.js';
import { TempDirs } from '../support/tmp.js';

describe('images: registry authentication and failures', function () {
  this.timeout(120_000);
  const tmp = new TempDirs();
  const d = useDaemon();
  const served = useRegistry(tmp);
  let front: Server;
  let host = '';
  const tokensIssued: string[] = [];

  before(async () => {
    const layout = tmp.make('layout');
    await writeLayout(layout, { tag: '1', layers: [busyboxLayer()] });
    served.registry.push(layout, '1', 'public/bb:1');
    served.registry.push(layout, '1', 'private/bb:1');
    front = createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/token') {
          const scope = url.searchParams.get('scope') ?? '';
          const basic = req.headers.authorization === `Basic ${Buffer.from('alice:secret').toString('base64')}`;
          if (scope.startsWith('repository:private/') && !basic) {
            res.writeHead(401, { 'Content-Type': 'application/json' });
            res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
            return;
          }
          tokensIssued.push(scope);
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ token: `tok ${scope}` }));
          return;
        }
        if (url.pathname.startsWith('/v2/broken/')) {
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end('{"errors":[{"code":"UNKNOWN","message":"storage is on fire"}]}');
          return;
        }
        const repo = /^\/v2\/(.+?)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1] ?? '';
        if (req.headers.authorization !== `Bearer tok repository:${repo}:pull`) {
          res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${host}/token",service="test registry",scope="repository:${repo}:pull"`, 'Content-Type': 'application/json' });
          res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
          return;
        }
        const upstream = await fetch(`http://${served.registry.host}${req.url ?? '/'}`, { headers: { Accept: req.headers.accept ?? '*/*' } });
        res.writeHead(upstream.status, Object.fromEntries([...upstream.headers].filter(([k]) => ['content-type', 'content-length', 'docker-content-digest'].includes(k))));
        res.end(Buffer.from(await upstream.arrayBuffer()));
      })();
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(front.address() as { port: number }).port}`;
  });
  after(async () => {
    await new Promise((r) => front.close(r));
    tmp.removeAll();
  });

  it('answers a Bearer challenge with an anonymous token', async () => {
    const r = await d.cli(['pull', `${host}/public/bb:1`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(tokensIssued).to.include('repository:public/bb:pull');
  });

  it('a private repository without credentials is "pull access denied"; with X-Registry-Auth it pulls', async () => {
    const denied = await d.cli(['pull', `${host}/private/bb:1`]);
    expect(denied.code).to.equal(1);
    expect(denied.stderr).to.equal(`skiff: pull access denied for ${host}/private/bb: the token service http://${host}/token answered 401: UNAUTHORIZED authentication required\n`);
    const auth = Buffer.from(JSON.stringify({ username: 'alice', password: 'secret', serveraddress: host })).toString('base64url');
    const res = await request(d.socket, 'POST', `/images/create?fromImage=${encodeURIComponent(`${host}/private/bb`)}&tag=1`, { headers: { 'X-Registry-Auth': auth } });
    expect(res.status).to.equal(200);
    expect(res.text).to.contain(`Status: Downloaded newer image for ${host}/private/bb:1`);
  });

  it('a registry answering 500 is a 503 naming the URL and the registry\'s words', async () => {
    const res = await d.api('POST', `/images/create?fromImage=${encodeURIComponent(`${host}/broken/bb:1`)}`);
    expect(res.status).to.equal(503);
    expect((res.body as { message: string }).message).to.equal(`${host}/broken/bb: http://${host}/v2/broken/bb/manifests/1 answered 500 Internal Server Error: UNKNOWN storage is on fire`);
  });
});
