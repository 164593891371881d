// An exec's launch plan, failed at each of its operations in turn (skiffd's test hook: an exec
// whose Env holds SKIFF_TEST_FAIL_AT=K gets a failing operation inserted before operation K):
// each failure is reported naming the operation, records 125, and leaves skiffd exactly as it
// was: no process (nothing in the container's pid namespace or cgroup), no fd, no state.
import { expect } from 'chai';
import { until, useDaemon, type DaemonView } from '../support/daemon.js';

/** Docker's 8-byte frames → the payloads, joined. */
function payload(raw: Buffer, framed: boolean): string {
  if (!framed) return raw.toString('utf8');
  const out: Buffer[] = [];
  for (let at = 0; at + 8 <= raw.length;) {
    const n = raw.readUInt32BE(at + 4);
    out.push(raw.subarray(at + 8, at + 8 + n));
    at += 8 + n;
  }
  return Buffer.concat(out).toString('utf8');
}

describe('exec: a failure at any operation of its plan leaves nothing behind', function () {
  this.timeout(300_000);
  const d = useDaemon([], { env: { SKIFF_TEST_HOOKS: '1' } });

  before(async () => {
    const r = await d.cli(['run', '-d', '--name', 'web', '--', '/bin/sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait']);
    expect(r.code, r.stderr).to.equal(0);
  });

  const execOnce = async (body: Record<string, unknown>, env: string[]): Promise<{ id: string; text: string }> => {
    const created = await d.api('POST', '/containers/web/exec', { Cmd: ['/bin/true'], AttachStdout: true, AttachStderr: true, ...body, Env: env });
    expect(created.status, created.text).to.equal(201);
    const id = (created.body as { Id: string }).Id;
    const started = await d.api('POST', `/exec/${id}/start`, { Detach: false });
    expect(started.status).to.equal(200);
    return { id, text: payload(Buffer.from(started.text, 'latin1'), body.Tty !== true) };
  };

  const expectUnchanged = async (before: DaemonView, k: number): Promise<void> => {
    await until(() => JSON.stringify(d.view()) === JSON.stringify(before), `the view after operation ${k} to settle`, 5000).catch(() => undefined);
    expect(d.view(), `after the failure at operation ${k}`).to.deep.equal(before);
  };

  /** Fails operation k = 0, 1, … until k is past the plan's last; returns how many there were. */
  async function everyOperation(body: Record<string, unknown>): Promise<number> {
    expect((await execOnce(body, [])).text).to.equal('');
    const before = await d.settledView();
    for (let k = 0; ; k++) {
      const { id, text } = await execOnce(body, [`SKIFF_TEST_FAIL_AT=${k}`]);
      const past = /^exec: launcher: failAt: plan has (\d+) operations, not \d+\r?\n$/.exec(text);
      if (past) {
        expect(Number(past[1])).to.equal(k);
        await expectUnchanged(before, k);
        return k;
      }
      expect(text, `operation ${k}`).to.match(new RegExp(`^exec: .* \\[injected failure\\]: EIO \\(operation ${k} fail\\)\\r?\\n$`));
      const info = (await d.api('GET', `/exec/${id}/json`)).body as { ExitCode: number; Running: boolean; Pid: number };
      expect(info).to.deep.include({ ExitCode: 125, Running: false, Pid: 0 });
      await expectUnchanged(before, k);
    }
  }

  it('pipes, with stdin', async () => {
    expect(await everyOperation({ AttachStdin: true })).to.be.greaterThan(15);
  });

  it('a TTY, as another user, in another workdir', async () => {
    expect(await everyOperation({ Tty: true, User: '65534:65534', WorkingDir: '/tmp' })).to.be.greaterThan(15);
  });
});
