// Timing the reference runtimes (runc, crun, unshare, bwrap) the same way in every benchmark:
// bash loops side by side, each run timed by bash itself. Shared by bench/start.ts and
// `skiff bench --vs`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface Sample {
  latenciesMs: number[];
  wallMs: number;
  failed: number;
  firstError: string | null;
}

// ── external commands: runc, crun, unshare, bwrap ──
//
// They run from a bash loop, timed with bash's $EPOCHREALTIME (no extra process per run): forking
// from a small shell is the cheapest way to start a command, so the references get their best
// case, not the cost of forking this large Node process. `concurrency` loops run side by side,
// each taking its share of the runs; wall time is from the first loop's start to the last one's end.

export type ExternalRuntime = 'runc' | 'crun' | 'unshare' | 'bwrap' | 'unshare-ip' | 'unshare-veth';

export interface ExternalPlan {
  runtime: ExternalRuntime;
  count: number;
  concurrency: number;
  bundle: string;
  /** bwrap's root: the bundle's rootfs (busybox), bound read-only as runc's is used */
  rootfs?: string;
  stateRoot: string;
  dir: string;
}

function commandFor(p: ExternalPlan): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  switch (p.runtime) {
    case 'runc':
    case 'crun':
      return `${p.runtime} --root ${q(p.stateRoot)} run --bundle ${q(p.bundle)} "skiff-bench-$$-$1-$i"`;
    case 'unshare':
      return 'unshare --fork --pid --mount --uts --ipc --net --mount-proc /bin/true';
    case 'bwrap':
      // --unshare-all: user (when it can), ipc, pid, net, uts and cgroup namespaces; a mount namespace always.
      if (p.rootfs === undefined) throw new Error('bench: bwrap needs the rootfs');
      return `bwrap --unshare-all --ro-bind ${q(p.rootfs)} / --proc /proc --dev /dev /bin/true`;
    // The kernel's cost of a veth, as a reference for skiff-bridge: the same namespaces, `ip` run
    // in them once without a veth (lo up) and once making a pair; the difference is the veth's
    // making and its end with the namespace (what of that the kernel does in its own threads
    // is not counted, as for every row).
    case 'unshare-ip':
      return 'unshare --fork --pid --mount --uts --ipc --net --mount-proc ip link set lo up';
    case 'unshare-veth':
      return 'unshare --fork --pid --mount --uts --ipc --net --mount-proc ip link add veth0 type veth peer name veth1';
  }
}

function bashLoop(p: ExternalPlan): string {
  const per = Array.from({ length: p.concurrency }, (_, s) => Math.floor(p.count / p.concurrency) + (s < p.count % p.concurrency ? 1 : 0));
  return `
set -u
dir='${p.dir}'
loop() {
  local i a b ok
  for ((i = 0; i < $2; i++)); do
    a=$EPOCHREALTIME
    ${commandFor(p)} >/dev/null 2>"$dir/err.$1" && ok=ok || ok=failed
    b=$EPOCHREALTIME
    echo "$a $b $ok"
    [ $ok = ok ] || [ -e "$dir/first-error" ] || mv "$dir/err.$1" "$dir/first-error"
  done
}
start=$EPOCHREALTIME
${per.map((n, s) => `loop ${s} ${n} >"$dir/times.${s}" &`).join('\n')}
wait
end=$EPOCHREALTIME
echo "$start $end" >"$dir/wall"
`;
}

export async function runExternal(p: ExternalPlan): Promise<Sample> {
  mkdirSync(p.dir, { recursive: true });
  const script = bashLoop(p);
  // crun cannot create cgroups while it sees the hybrid layout's cgroup2 mount: hide it in a
  // mount namespace of the loop's own; the umount happens before the loop's clock starts.
  const [cmd, args] = p.runtime === 'crun'
    ? ['unshare', ['-m', 'bash', '-c', `umount /sys/fs/cgroup/unified 2>/dev/null; ${script}`]] as const
    : ['bash', ['-c', script]] as const;
  await new Promise<void>((resolve, reject) => {
    // LC_ALL=C: $EPOCHREALTIME's decimal separator follows the locale
    const child = spawn(cmd, [...args], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, LC_ALL: 'C' } });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${p.runtime} loop exited with ${code}`))));
  });
  const latenciesMs: number[] = [];
  let failed = 0;
  for (let s = 0; s < p.concurrency; s++) {
    for (const line of readFileSync(join(p.dir, `times.${s}`), 'utf8').trim().split('\n')) {
      if (line === '') continue;
      const [a, b, ok] = line.split(' ') as [string, string, string];
      if (ok === 'ok') latenciesMs.push((Number(b) - Number(a)) * 1000);
      else failed++;
    }
  }
  const [start, end] = readFileSync(join(p.dir, 'wall'), 'utf8').trim().split(' ').map(Number) as [number, number];
  const firstError = existsSync(join(p.dir, 'first-error')) ? readFileSync(join(p.dir, 'first-error'), 'utf8').trim().split('\n')[0] ?? '' : null;
  rmSync(p.dir, { recursive: true, force: true });
  return { latenciesMs, wallMs: (end - start) * 1000, failed, firstError };
}

export async function runExternalWithWarmup(p: ExternalPlan, warmup: number): Promise<Sample> {
  if (warmup > 0) await runExternal({ ...p, count: warmup, dir: `${p.dir}-warmup` });
  return runExternal(p);
}

