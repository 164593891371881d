// skiffd's router (src/main/http/api.ts): an extension is asked only for the paths it claims,
// so a container's request does not go through every extension's async handle() first; and a
// target the router reads without the URL parser routes as the URL parser would read it.
import { expect } from 'chai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Api, type Extensions } from '../../src/main/http/api.js';
import { EventBus } from '../../src/main/events.js';
import type { Metrics } from '../../src/main/metrics.js';
import type { Supervisor } from '../../src/main/lifecycle/supervisor.js';

/** What an answer wrote: its status and body. */
interface Answer { status: number; body: string }

function call(api: Api, method: string, url: string): Promise<Answer> {
  return new Promise((resolve) => {
    let status = 0;
    const res = {
      headersSent: false,
      writeHead(s: number) { status = s; return res; },
      end(body?: string) { resolve({ status, body: body ?? '' }); },
    } as unknown as ServerResponse;
    void api.handle({ method, url, headers: {} } as IncomingMessage, res);
  });
}

/** An extension that serves `/ext/…` and records every path it was asked about. */
function recorder(): Extensions & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    claims: (path) => path.startsWith('/ext/'),
    handle(_method, path, _req, res) {
      asked.push(path);
      res.writeHead(200);
      res.end(`ext ${path}`);
      return Promise.resolve(true);
    },
  };
}

describe('API routing', () => {
  const api = (ext: Extensions) => new Api({ supervisor: {} as Supervisor, events: new EventBus(), metrics: {} as Metrics, consoles: null, extensions: [ext] });

  it('asks an extension only about the paths it claims', async () => {
    const ext = recorder();
    const a = api(ext);
    expect(await call(a, 'GET', '/_ping')).to.deep.equal({ status: 200, body: 'OK' });
    expect(await call(a, 'GET', '/v1.41/_ping?x=1')).to.deep.equal({ status: 200, body: 'OK' });
    expect(ext.asked).to.deep.equal([]);
    expect(await call(a, 'POST', '/v1.41/ext/thing?x=1')).to.deep.equal({ status: 200, body: 'ext /ext/thing' });
    expect(ext.asked).to.deep.equal(['/ext/thing']);
  });

  it('reads a target with dot segments or percent-encoding as the URL parser does', async () => {
    const ext = recorder();
    const a = api(ext);
    expect(await call(a, 'GET', '/ext/../_ping')).to.deep.equal({ status: 200, body: 'OK' });
    expect(await call(a, 'GET', '/%5fping')).to.include({ status: 404 });
    expect(await call(a, 'GET', '/x/%2e%2e/ext/a')).to.deep.equal({ status: 200, body: 'ext /ext/a' });
    expect(ext.asked).to.deep.equal(['/ext/a']);
  });
});
