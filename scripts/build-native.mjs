// Builds src/native/launch.c into build/libskiff-launch.so with the system C compiler.
// Run by `npm install` (and before tests); one clear line if no compiler is found.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/native/launch.c');
const output = join(root, 'build/libskiff-launch.so');

const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean);
const compiler = candidates.find((cc) => spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0);
if (!compiler) {
  console.error(`skiff: no C compiler found (tried ${candidates.join(', ')}); install one, e.g. apt-get install -y gcc`);
  process.exit(1);
}

const upToDate = (() => {
  try { return statSync(output).mtimeMs >= statSync(source).mtimeMs; } catch { return false; }
})();
if (!upToDate) {
  mkdirSync(dirname(output), { recursive: true });
  execFileSync(compiler, ['-O2', '-g', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared', '-o', output, source], {
    stdio: 'inherit',
  });
}
