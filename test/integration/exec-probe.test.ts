// The probe interface (src/main/exec/probe.ts) that health checks use: a real Daemon runs
// probes into a real container (test/support/probe-host.ts) and reports what came back.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { TempDirs } from '../support/tmp.js';

const HOST = join(import.meta.dirname, '../support/probe-host.ts');

function runHost(dir: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', HOST, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`probe host exited ${code} without its JSON:\n${out}\n${err}`));
      }
    });
  });
}

describe('exec probes (the interface health checks use)', function () {
  this.timeout(120_000);
  const tmp = new TempDirs();
  after(() => tmp.removeAll());

  it('runs argv in the container: exit code, stdout then stderr, 4096 bytes at most, a timeout SIGKILLed; a stopped container is a Conflict', async () => {
    const r = await runHost(tmp.make('probe'));
    expect(r.error).to.equal(undefined);
    expect(r.exit3).to.deep.equal({ exitCode: 3, output: 'out\nerr\n', timedOut: false });
    expect(r.long).to.deep.equal({ exitCode: 0, output: 'x'.repeat(4096), timedOut: false });
    expect(r.missing).to.deep.include({ exitCode: 127, timedOut: false });
    expect((r.missing as { output: string }).output).to.match(/^exec: command `nosuch` not found: ENOENT \(operation \d+ execve\)$/);
    expect(r.timeout).to.deep.equal({ exitCode: -1, output: '', timedOut: true });
    expect(r.sleeping).to.equal(0);
    expect(r.execIds).to.equal(null);
    expect(r.missingContainer).to.equal('NotFound: No such container: nosuch');
    expect(r.stopped).to.equal('Conflict: Container web is not running');
  });
});
