// A network namespace of the test's own (`ip netns add skiff-test-<random>`): every networking
// test runs its skiffd, bridges, rules and DNS in one, so no packet leaves the machine and the
// host's own namespace is never touched. Removed (with everything in it) by destroy().
import { spawnSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export class TestNetns {
  readonly name = `skiff-test-${randomBytes(4).toString('hex')}`;

  /**
   * Creates the namespace with lo up and an "outside" interface holding `external`: one end of a
   * veth pair whose both ends stay in the namespace (the kernel may lack the dummy driver).
   */
  constructor(readonly external = '198.19.0.1') {
    this.ip('netns', 'add', this.name);
    try {
      this.ip('-n', this.name, 'link', 'set', 'lo', 'up');
      this.ip('-n', this.name, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext1');
      this.ip('-n', this.name, 'addr', 'add', `${external}/24`, 'dev', 'ext0');
      this.ip('-n', this.name, 'link', 'set', 'ext0', 'up');
      this.ip('-n', this.name, 'link', 'set', 'ext1', 'up');
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  private ip(...args: string[]): string {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Runs a command inside the namespace (synchronously): its status and output. */
  run(cmd: string, args: string[], timeoutMs = 20_000): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('nsenter', [`--net=/run/netns/${this.name}`, cmd, ...args], { encoding: 'utf8', timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Like run, but without blocking this process's event loop (skiffd's answers keep flowing). */
  runAsync(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn('nsenter', [`--net=/run/netns/${this.name}`, cmd, ...args]);
      let stdout = '', stderr = '';
      child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  links(): string[] {
    return this.ip('-n', this.name, '-o', 'link').split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]!).sort();
  }

  /** skiff's nft table as nft prints it, or '' when there is none. */
  nftTable(): string {
    const r = this.run('nft', ['list', 'table', 'inet', 'skiff']);
    return r.status === 0 ? r.stdout : '';
  }

  destroy(): void {
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}
