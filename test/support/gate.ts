// A container that waits for the test, on the file system rather than on the clock: its script
// runs GATE (a poll for a file in its own /tmp), and the test opens the gate once what the
// container must wait for has happened (a client attached, input queued). The test reaches the
// container's /tmp through /proc/<pid>/root, whatever its rootfs (host or an image: both give a
// container a /tmp of its own).
//   run(['/bin/sh', '-c', `echo a; ${GATE}; echo b`]); …attach…; openGate(pid);
import { writeFileSync } from 'node:fs';

const FILE = '/tmp/skiff-test-gate';

/** Shell: wait until the test opens the gate. */
export const GATE = `while [ ! -e ${FILE} ]; do sleep 0.05; done`;

/** Lets the container whose PID 1 (as this process sees it) is `pid` past GATE. */
export function openGate(pid: number): void {
  writeFileSync(`/proc/${pid}/root${FILE}`, '');
}
