// Temporary directories for tests: made under the system temp dir, every one removed in teardown.
//   const tmp = useTempDirs();   // in a describe: removed in its after()
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class TempDirs {
  private readonly dirs: string[] = [];

  /** A fresh empty directory, e.g. /tmp/skiff-test-rootfs-AbC123 (or under `base`). */
  make(label: string, base = tmpdir()): string {
    const dir = mkdtempSync(join(base, `skiff-test-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** Removes every directory made so far (newest first); safe to call more than once. */
  removeAll(): void {
    for (const dir of this.dirs.splice(0).reverse()) rmSync(dir, { recursive: true, force: true });
  }
}

/** TempDirs for the enclosing describe(), every one removed in its after(). */
export function useTempDirs(): TempDirs {
  const tmp = new TempDirs();
  after(() => tmp.removeAll());
  return tmp;
}
