// Builds src/native/launch.c into build/libskiff-launch.so with the system C compiler.
// Run by `npm install` (and before tests); one clear line if no compiler is found.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/native/launch.c');
const output = join(root, 'build/libskiff-launch.so');
// skiff-oci's front end (src/native/oci-front.c) with launch.c's interpreter linked in: the
// binary containerd and podman exec, which knows where this Node is.
const frontSource = join(root, 'src/native/oci-front.c');
const frontOutput = join(root, 'build/skiff-oci');

const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean);
const compiler = candidates.find((cc) => spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0);
if (!compiler) {
  console.error(`skiff: no C compiler found (tried ${candidates.join(', ')}); install one, e.g. apt-get install -y gcc`);
  process.exit(1);
}

const upToDate = (out, ...sources) => {
  try { return sources.every((s) => statSync(out).mtimeMs >= statSync(s).mtimeMs); } catch { return false; }
};
if (!upToDate(output, source)) {
  mkdirSync(dirname(output), { recursive: true });
  execFileSync(compiler, ['-O2', '-g', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared', '-o', output, source], {
    stdio: 'inherit',
  });
}
if (!upToDate(frontOutput, frontSource, source)) {
  mkdirSync(dirname(frontOutput), { recursive: true });
  execFileSync(compiler, ['-O2', '-g', '-Wall', '-Wextra', '-Werror', `-DSKIFF_NODE=${JSON.stringify(process.execPath)}`, '-o', frontOutput, frontSource, source], {
    stdio: 'inherit',
  });
}
