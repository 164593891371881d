// An image's Healthcheck (its config, as `docker build` writes HEALTHCHECK) from a real registry:
// a fleet service without a `healthcheck:` of its own gets it (and `depends_on: service_healthy`
// can wait on it), `healthcheck: {disable: true}` turns it off, a service's own replaces it; a
// Docker API create merges it field by field under the body's own (moby's merge), and Test NONE
// turns it off.
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxLayer } from '../support/busybox-layer.js';
import { useDaemon, until } from '../support/daemon.js';
import { useRegistry, writeLayout } from '../support/registry.js';
import { TempDirs } from '../support/tmp.js';

interface HealthInspect {
  Config: { Healthcheck?: { Test: string[]; Interval: number; Timeout: number; Retries: number; StartPeriod: number } };
  State: { Running: boolean; StartedAt: string; Status: string; Health?: { Status: string; Log: { ExitCode: number; Output: string }[] } };
}

const IMAGE_CHECK = { Test: ['CMD-SHELL', 'echo image-check'], Interval: 200_000_000, Timeout: 7_000_000_000, Retries: 2 };

describe('images: an image\'s Healthcheck in fleets and Docker API creates', function () {
  this.timeout(180_000);
  const tmp = new TempDirs();
  const d = useDaemon();
  const served = useRegistry(tmp);
  let checked = '';
  let plain = '';

  before(async () => {
    const sleeper = { Cmd: ['sleep', '600'], Env: ['PATH=/bin'] };
    const a = tmp.make('layout-checked');
    await writeLayout(a, { tag: '1', layers: [busyboxLayer()], config: { ...sleeper, Healthcheck: IMAGE_CHECK } });
    served.registry.push(a, '1', 'test/checked:1');
    const b = tmp.make('layout-plain');
    await writeLayout(b, { tag: '1', layers: [busyboxLayer()], config: sleeper });
    served.registry.push(b, '1', 'test/plain:1');
    checked = `${served.registry.host}/test/checked:1`;
    plain = `${served.registry.host}/test/plain:1`;
  });
  afterEach(async () => {
    const fleets = (await d.api('GET', '/fleets')).body as { name: string }[];
    await Promise.all(fleets.map((f) => d.api('DELETE', `/fleets/${f.name}`)));
    const list = (await d.api('GET', '/containers/json?all=1')).body as { Id: string }[];
    await Promise.all(list.map((c) => d.api('DELETE', `/containers/${c.Id}?force=1`)));
  });
  after(() => tmp.removeAll());

  const fleetFile = (name: string, lines: string[]): string => {
    const file = join(tmp.make('fleet'), `${name}.yaml`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  };
  const inspect = (name: string) => d.inspect<HealthInspect>(name);

  it('a fleet service takes its image\'s check unless it has its own or disables it; service_healthy waits on it', async () => {
    const file = fleetFile('ih', [
      'services:',
      '  img:',
      `    image: ${checked}`,
      '  off:',
      `    image: ${checked}`,
      '    healthcheck: { disable: true }',
      '  own:',
      `    image: ${checked}`,
      '    healthcheck: { test: [CMD, /bin/true], interval: 300ms }',
      '  api:',
      `    image: ${plain}`,
      '    depends_on: { img: { condition: service_healthy } }',
    ]);
    const up = await d.cli(['fleet', 'up', '--wait', file], { timeoutMs: 120_000 });
    expect(up.code, `${up.stdout}\n${up.stderr}`).to.equal(0);
    expect(up.stdout).to.match(/\nhealth: 2 healthy · 0 unhealthy · 0 starting\n$/);

    const img = await inspect('ih-img-1');
    expect(img.Config.Healthcheck).to.deep.include({ Test: IMAGE_CHECK.Test, Interval: IMAGE_CHECK.Interval, Timeout: IMAGE_CHECK.Timeout, Retries: 2 });
    expect(img.State.Health?.Status).to.equal('healthy');
    expect(img.State.Health?.Log.at(-1)).to.include({ ExitCode: 0, Output: 'image-check\n' });
    const off = await inspect('ih-off-1');
    expect([off.Config.Healthcheck, off.State.Health, off.State.Running]).to.deep.equal([undefined, undefined, true]);
    const own = await inspect('ih-own-1');
    expect(own.Config.Healthcheck).to.deep.include({ Test: ['CMD', '/bin/true'], Interval: 300_000_000 });
    // api started once img's (image-given) check had passed
    const api = await inspect('ih-api-1');
    expect(api.Config.Healthcheck).to.equal(undefined);
    const healthy = await d.api('GET', `/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ event: ['health_status'], container: ['ih-img-1'] }))}`);
    const firstHealthy = healthy.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Action: string; timeNano: number }).find((e) => e.Action === 'health_status: healthy');
    expect(firstHealthy, healthy.text).to.not.equal(undefined);
    expect(Date.parse(api.State.StartedAt)).to.be.at.least(Math.floor(firstHealthy!.timeNano / 1e6));
  });

  it('service_healthy on a service whose image has no check is refused by skiffd, naming it; nothing is created', async () => {
    const file = fleetFile('ihx', [
      'services:',
      '  db:',
      `    image: ${plain}`,
      '  api:',
      `    image: ${plain}`,
      '    depends_on: { db: { condition: service_healthy } }',
    ]);
    const up = await d.cli(['fleet', 'up', file], { timeoutMs: 120_000 });
    expect(up.code, `${up.stdout}\n${up.stderr}`).to.equal(1);
    expect(up.stderr).to.include(`services[1].dependsOn[0].condition: is service_healthy, but "db" has no health check (neither it nor its image ${plain} has one)`);
    expect((await d.api('GET', '/containers/json?all=1')).body).to.deep.equal([]);
  });

  it('a Docker API create merges the image\'s check under its own, field by field; Test NONE turns it off', async () => {
    expect((await d.cli(['pull', checked])).code).to.equal(0);
    const create = async (name: string, healthcheck?: unknown): Promise<HealthInspect> => {
      const r = await d.api('POST', `/containers/create?name=${name}`, { Image: checked, ...(healthcheck === undefined ? {} : { Healthcheck: healthcheck }) });
      expect(r.status, r.text).to.equal(201);
      return inspect(name);
    };
    expect((await create('api-plain')).Config.Healthcheck).to.deep.include({ Test: IMAGE_CHECK.Test, Interval: IMAGE_CHECK.Interval, Retries: 2 });
    // Interval and Retries the body's; Test and Timeout the image's.
    expect((await create('api-merged', { Interval: 500_000_000, Retries: 4 })).Config.Healthcheck)
      .to.deep.include({ Test: IMAGE_CHECK.Test, Interval: 500_000_000, Timeout: IMAGE_CHECK.Timeout, Retries: 4 });
    expect((await create('api-none', { Test: ['NONE'] })).Config.Healthcheck).to.equal(undefined);
    // And it runs: the image's probe passes.
    expect((await d.api('POST', '/containers/api-plain/start')).status).to.equal(204);
    await until(async () => (await inspect('api-plain')).State.Health?.Status === 'healthy', 'api-plain healthy by its image\'s check');
    expect((await d.docker(['inspect', '-f', '{{json .Config.Healthcheck.Test}}', 'api-plain'])).stdout).to.equal('["CMD-SHELL","echo image-check"]\n');
  });
});
