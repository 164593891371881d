// Kernel ABI numbers skiff passes to system calls, for Linux on the architectures skiff builds
// for (x86_64 above all). Pure: no koffi, so the spec, the plan builder and the seccomp
// compilers use them without loading libc. errno numbers are not here: src/sys/errno.ts has
// them, from Node's own table. Syscall numbers are not here either: src/spec/syscalls-x86_64.ts
// is generated from the kernel's headers.

// ── open(2) flags ──
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_NOCTTY = 0o400;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

// ── fcntl(2) ──
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;

// ── flock(2), lseek(2) ──
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const SEEK_END = 2;

// ── ioctl(2) requests on terminals and pipes (asm-generic/ioctls.h) ──
export const TIOCSTI = 0x5412;
export const TIOCSWINSZ = 0x5414;
export const FIONREAD = 0x541b;
export const TIOCLINUX = 0x541c;
/** tcsetattr(3): apply at once */
export const TCSANOW = 0;

// ── epoll(7), eventfd(2) ──
/** poll(2): urgent data, or for /proc/PID/mountinfo a change of the mount table */
export const POLLPRI = 0x002;
/** poll(2): readable; for a pidfd, the process has exited */
export const POLLIN = 0x001;
export const EPOLLIN = 0x001;
// inotify(7): the events a cgroup file's watch takes and gets
export const IN_MODIFY = 0x2;
export const IN_IGNORED = 0x8000;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
/** edge-triggered: an event when the state changes, not while it lasts (as a number it is positive: OR it in, then >>> 0) */
export const EPOLLET = 0x80000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLL_CLOEXEC = O_CLOEXEC;
export const EFD_CLOEXEC = O_CLOEXEC;
export const EFD_NONBLOCK = O_NONBLOCK;

// ── splice(2), tee(2) ──
export const SPLICE_F_MOVE = 1;
export const SPLICE_F_NONBLOCK = 2;

// ── prctl(2), waitid(2) ──
export const PR_SET_NAME = 15;
export const PR_SET_CHILD_SUBREAPER = 36;
export const PR_GET_CHILD_SUBREAPER = 37;
export const P_PIDFD = 3;
export const WNOHANG = 1;
export const WEXITED = 4;
/** siginfo_t.si_code of a SIGCHLD */
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;

// ── resources ──
export const RLIMIT_NOFILE = 7;
export const RUSAGE_SELF = 0;
/** children that have terminated and been waited for, and their own reaped descendants */
export const RUSAGE_CHILDREN = -1;
/** the calling thread alone */
export const RUSAGE_THREAD = 1;

// ── sockets ──
export const SOL_SOCKET = 1;
export const SO_PEERCRED = 17;

// ── clone(2) namespace flags ──
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;

// ── mount(2), umount2(2) flags ──
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
/** fsmount(2)'s attribute for MS_NODEV (the new mount API) */
export const MOUNT_ATTR_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MNT_DETACH = 0x2;

// ── openat2(2) RESOLVE_* flags ──
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

// ── file types (stat(2) st_mode, mknod(2)) ──
export const S_IFCHR = 0o020000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** USER_HZ: the clock ticks /proc counts CPU time in; 100 on every Linux architecture skiff builds for. */
export const CLOCK_TICKS = 100;

// sockets: a NETLINK_ROUTE socket (src/sys/netlink.ts)
export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_ROUTE = 0;
