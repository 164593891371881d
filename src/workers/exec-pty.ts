// An exec's pty made in the container, as runc makes one: once the exec has entered the
// container's mount namespace and root, it opens the container's own /dev/pts/ptmx, takes the
// slave as its controlling terminal and stdio, and sends the master out on a socket the launcher
// gave it (src/workers/exec.ts takes it there; the forwarder adopts it). So `tty` inside names a
// /dev/pts/N that exists inside, owned as the container's devpts says, not a host path.
import type { Op } from '../native/plan-format.js';
import type { UserSpec } from '../spec/container.js';

/** Registers the pty's two ends occupy (plan.ts uses 0–4 for the other consoles). */
const PTY_MASTER_REG = 5;
const PTY_SLAVE_REG = 6;

/** An exec's console made in the container: the socket (inherited from the launcher) its master goes out on. */
export interface ContainerPty { kind: 'container-pty'; socket: number }

/**
 * The ops after the chroot: pty, its slave given to the exec's user (as runc gives a console to
 * the process's user), master out, session, controlling terminal, stdio.
 */
export function containerPtyOps(pty: ContainerPty, user: UserSpec | null): Op[] {
  return [
    { what: 'open a pty in the container\'s devpts (`/dev/pts/ptmx`)', op: 'open_pty', master: PTY_MASTER_REG, slave: PTY_SLAVE_REG },
    ...(user === null || (user.uid === 0 && user.gid === 0) ? [] : [{
      what: `give the pty to the exec's user ${user.uid}:${user.gid}`, op: 'fchown', register: PTY_SLAVE_REG, uid: user.uid, gid: user.gid,
    } as const]),
    { what: 'send the pty\'s master to the launcher', op: 'send_fd', socket: pty.socket, register: PTY_MASTER_REG },
    // setsid first: only a session leader without a terminal may take one as its controlling tty.
    { what: 'start a new session', op: 'setsid' },
    { what: 'make the container\'s pty the controlling terminal', op: 'set_ctty', register: PTY_SLAVE_REG },
    { what: 'the pty on stdin', op: 'dup2', register: PTY_SLAVE_REG, fd: 0 },
    { what: 'the pty on stdout', op: 'dup2', register: PTY_SLAVE_REG, fd: 1 },
    { what: 'the pty on stderr', op: 'dup2', register: PTY_SLAVE_REG, fd: 2 },
  ];
}
