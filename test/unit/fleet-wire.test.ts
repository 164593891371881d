// POST /fleets carries a template per service, not a spec per replica (src/compose/replicas.ts):
// the replicas skiffd makes from it must be exactly the ones the fleet parser made, and each
// exactly what validateSpec makes of that replica's full input, though only replica 1 is
// validated; and the body of a thousand replicas is one template long.
import { expect } from 'chai';
import { fleetRequestBody } from '../../src/api/fleet-wire.js';
import { parseFleet } from '../../src/compose/fleet.js';
import { replicaInput } from '../../src/compose/replicas.js';
import { validateFleetRequest } from '../../src/main/fleets/request.js';
import { validateSpec } from '../../src/spec/container.js';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

const FLEETS: Record<string, string> = {
  'names with _ . and capitals, env, labels, a restart policy': yaml(
    'name: Shop.v2',
    'services:',
    '  Web_front:',
    '    image: host',
    '    command: [/bin/sh, -c, "sleep 1"]',
    '    environment: { MODE: prod, PATH: /bin }',
    '    labels: { tier: front }',
    '    restart: on-failure:3',
    '    tty: true',
    '    deploy: { replicas: 12 }',
  ),
  'a shared hostname, a log directory written with a trailing slash, a health check, capabilities': yaml(
    'services:',
    '  api:',
    '    image: host',
    '    command: [/bin/true]',
    '    hostname: api.internal',
    '    cap_drop: [ALL]',
    '    security_opt: [seccomp=unconfined]',
    '    healthcheck: { test: ["CMD", "true"], interval: 2s }',
    '    deploy: { replicas: 5 }',
    '    x-skiff: { console: { log: /var/log//skiff/, buffer: 64KiB } }',
    '  job:',
    '    image: host',
    '    command: [/bin/true]',
    '    depends_on: { api: { condition: service_healthy } }',
    '    x-skiff: { job: true }',
    '    scale: 3',
  ),
};

describe('fleet requests: a template per service', () => {
  for (const [what, text] of Object.entries(FLEETS)) {
    it(`${what}: every replica is what validateSpec makes of its full input, on both sides of the wire`, () => {
      const f = parseFleet(text, 'fleet.yaml');
      for (const s of f.services) {
        expect(s.specs).to.have.length(s.replicas);
        s.specs.forEach((spec, i) => {
          expect(spec).to.deep.equal(validateSpec(replicaInput(f.name, s.name, s.template, s.logDir, i + 1, s.configHash)));
        });
      }
      const sent = validateFleetRequest(JSON.parse(JSON.stringify(fleetRequestBody(f))), 1000);
      expect(sent.services.map((s) => s.specs)).to.deep.equal(f.services.map((s) => s.specs));
      expect(sent.services.map((s) => [s.name, s.replicas, s.job, s.configHash, s.logDir])).to.deep.equal(f.services.map((s) => [s.name, s.replicas, s.job, s.configHash, s.logDir]));
    });
  }

  it('a thousand replicas travel as one template: the body is as long as for one', () => {
    const body = (n: number) => JSON.stringify(fleetRequestBody(parseFleet(yaml('name: big', 'services:', '  s:', '    image: host', '    command: [sleep, infinity]', `    deploy: { replicas: ${n} }`), 'big.yaml')));
    expect(body(1000).length - body(1).length).to.equal(3); // "1" → "1000"
    expect(body(1000)).to.not.include('big-s-');
  });
});
