// A launcher parses the host's mount table once and again only when the kernel says it has
// changed (poll on mountinfo, src/workers/host-mounts.ts). This proves that the cached table
// still follows every change: a mount made after the table was read is an alias at the very
// next call, and so is its removal. Needs root (mount --bind).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readHostAliases } from '../../src/workers/host-mounts.js';
import { useTempDirs } from '../support/tmp.js';

describe('host mounts: the cached mount table follows the host', function () {
  let mounted: string | null = null;
  // Registered before useTempDirs' hook, so it runs first: the mount goes before its directory.
  after(() => {
    if (mounted !== null) execFileSync('umount', [mounted]);
  });
  const tmp = useTempDirs();

  it('a bind mount made after the table was read is seen at the next call, and its removal too', () => {
    const dir = tmp.make('hidden', '/var/tmp');
    const aliases = () => readHostAliases([dir]).map((a) => a.path);
    expect(aliases()).to.include(dir);
    const alias = tmp.make('alias', '/var/tmp');
    expect(aliases(), 'read again with nothing changed').to.not.include(alias);
    execFileSync('mount', ['--bind', dir, alias]);
    mounted = alias;
    expect(aliases()).to.include.members([dir, alias]);
    execFileSync('umount', [alias]);
    mounted = null;
    expect(aliases()).to.include(dir).and.not.include(alias);
  });
});
