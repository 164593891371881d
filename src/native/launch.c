/*
 * launch.c — skiff's launch-plan interpreter: the only C in skiff.
 *
 * It exists because no JavaScript can run between fork and exec (V8 marks its
 * heap MADV_DONTFORK) and because a multi-threaded Node process cannot enter a
 * user namespace itself. It holds no policy: TypeScript (src/native/launch.ts,
 * src/workers/plan.ts) decides every namespace, mount, fd and id; this file
 * decodes a flat plan and applies it, one case per operation.
 *
 *   caller thread (launcher worker)           child1 (host pid ns)        PID 1 (new namespaces)
 *   ───────────────────────────────           ────────────────────        ──────────────────────
 *   decode + validate plan, build argv/envp
 *   block all signals
 *   clone(VM|VFORK) ─────────────────────────▶ clone(VM|VFORK|CLONE_NEW*) ─▶ run ops[0..n-1]
 *     (suspended: vfork)                         (suspended: vfork)          reset signals, execve
 *                                                                          ◀─ exec ok, or _exit(127)
 *                                             record PID 1's pid, _exit(0)
 *   waitpid(child1); restore signal mask
 *   read the shared result: pid, or (op index, op code, errno)
 *
 * With a user namespace, or host operations (OP_HOST_NETLINK: a veth whose peer
 * child1 creates in PID 1's new network namespace, named by PID 1's pid), PID 1
 * is cloned without CLONE_VFORK so that child1 (still root in the parent
 * namespaces) can write its uid/gid maps and run those operations; PID 1 waits
 * on a pipe for that, and child1 learns that exec happened from a close-on-exec
 * pipe reaching end-of-file. child1 makes both pipes, so no other process holds
 * an end:
 *
 *   child1                                    PID 1
 *   pipe2(sync), pipe2(exec); clone ────────▶ read(sync) … blocks
 *   maps; host_netlink ops (pid patched in)
 *   write(sync) ────────────────────────────▶ run ops[0..n-1] (host ops skipped), execve
 *   read(exec) … EOF ◀─────────────────────── exec pipe closed on exec (or PID 1 died)
 *
 * An exec enters a running container instead of creating one (clone flags 0): child1
 * joins the container's pid namespace through a pidfd (OP_SETNS_PID) before its clone, so
 * the process it clones (the exec, in PID 1's place above) is born inside it; that process
 * opens its stdio and joins the cgroup by host paths, then setns's into the other namespaces
 * (OP_SETNS), chroots to the container's root (OP_CHROOT) and runs the rest as PID 1 would.
 * Both fds are the caller's, inherited through the copies of its fd table the clones make.
 * A plan with OP_WAIT_START (skiff-oci's `create`) is detached: PID 1 is cloned without
 * CLONE_VM as well (it outlives this call and the caller), so it reports a failure by writing
 * the result record to the exec pipe; OP_WAIT_START closes that pipe ("created": the launch
 * returns) and then blocks reading the start fifo until `start` writes a byte, before the exec.
 *
 * Why CLONE_VM|CLONE_VFORK and not fork(): forking a Node process copies the
 * page tables of a large heap (milliseconds); a vfork-style clone on a small
 * dedicated stack costs microseconds, as posix_spawn does. The children share
 * the caller's memory, so they report failures by writing into a struct the
 * caller owns, and they never allocate, never touch stdio and never return:
 * they end in execve or _exit. Child1 exits once PID 1 has exec'd, so PID 1 is
 * orphaned and re-parented to the nearest child subreaper (skiffd).
 *
 * Plan layout (little-endian u32s; strings are NUL-terminated in one area):
 *   header  magic "SKPL", version, clone flags, op count, ops offset,
 *           strings offset, strings length, uid map, gid map, exec paths,
 *           exec path count, argv, argc, envp, envc
 *   op      code, then 7 u32 arguments (string offsets, numbers, registers)
 * A string reference is an offset into the string area, NONE for absent; a list
 * is (offset of its first string, count), strings back to back.
 * Op codes are owned by TypeScript (OpCode in src/native/plan-format.ts); this
 * enum mirrors it and test/native/plan-roundtrip.test.ts checks they agree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define PLAN_MAGIC 0x4c504b53u /* "SKPL" little-endian */
#define PLAN_VERSION 1u
#define NONE 0xffffffffu
#define OP_WORDS 8
#define HEADER_WORDS 16
#define MAX_OPS 4096
#define MAX_LIST 65536
#define MAX_LOWERDIRS 500 /* overlayfs's OVL_MAX_STACK */
#define MAX_GROUPS 4096   /* OP_SETGROUPS_LIST's array, on PID 1's stack (16 KiB of its 256) */

/* The new mount API (Linux 5.2; overlayfs's "lowerdir+" since 6.8), by number: older C
 * libraries have no wrappers, and <linux/mount.h> clashes with <sys/mount.h> on some. */
#ifndef SYS_fsopen
#define SYS_move_mount 429
#define SYS_fsopen 430
#define SYS_fsconfig 431
#define SYS_fsmount 432
#endif
#define SKIFF_FSOPEN_CLOEXEC 0x1
#define SKIFF_FSMOUNT_CLOEXEC 0x1
#define SKIFF_FSCONFIG_SET_STRING 1
#define SKIFF_FSCONFIG_CMD_CREATE 6
#define SKIFF_MOVE_MOUNT_F_EMPTY_PATH 0x4
#define REGISTERS 8
#define STACK_SIZE (256 * 1024)

/* Mirrors OpCode in src/native/plan-format.ts. */
enum op_code {
  OP_MOUNT = 1,       /* src, target, fstype, flags, data, resolve, src register */
  OP_REMOUNT_RO = 2,  /* target, resolve: MS_REMOUNT|MS_BIND|MS_RDONLY (+ flags) */
  OP_MKDIR = 3,       /* path, mode, resolve, flags (MKDIR_*) */
  OP_MKNOD = 4,       /* path, mode, major, minor, resolve */
  OP_SYMLINK = 5,     /* target, linkpath, resolve */
  OP_OPEN_ROOT = 6,   /* path: the directory later ops resolve paths under */
  OP_PIVOT_ROOT = 7,  /* path: chdir, pivot_root(".", "."), detach the old root */
  OP_SETHOSTNAME = 8, /* name */
  OP_LOOPBACK_UP = 9, /* bring "lo" up in the new network namespace */
  OP_OPEN = 10,       /* path, flags, register, mode (with O_CREAT) */
  OP_SETSID = 11,
  OP_SET_CTTY = 12,   /* register */
  OP_DUP2 = 13,       /* register, target fd */
  OP_CLOSE_FROM = 14, /* first fd */
  OP_CHDIR = 15,      /* path, resolve (0: plain chdir; else openat2 from "/" + fchdir) */
  OP_SET_NO_NEW_PRIVS = 16,
  OP_SETRLIMIT = 17,  /* resource, soft lo, soft hi, hard lo, hard hi */
  OP_WRITE_FILE = 18, /* path, data, resolve */
  OP_UMOUNT2 = 19,    /* path, flags */
  OP_FAIL = 20,       /* errno: test-only failure injection */
  OP_SET_DUMPABLE = 21, /* 0 or 1 */
  OP_DROP_BOUNDING = 22, /* caps lo, hi: PR_CAPBSET_DROP for each bit set */
  OP_SET_CAPS = 23,   /* effective lo, hi, permitted lo, hi, inheritable lo, hi; then ambient cleared */
  OP_CHECK_CHAR = 24, /* register, major, minor: the fd must be that character device */
  OP_MASK = 25,       /* path, resolve, flags (MASK_*), register, tmpfs flags, tmpfs data */
  OP_READONLY = 26,   /* path, resolve, flags (MASK_OPTIONAL): bind onto itself, remount read-only */
  OP_SECCOMP = 27,    /* program (hex of struct sock_filter[]), instruction count, flags */
  OP_NETLINK = 28,    /* message (hex of one rtnetlink request), length: PID 1 sends it, checks the ack */
  OP_HOST_NETLINK = 29, /* message (hex), length, pid offset: child1 sends it from the caller's namespaces
                         * once PID 1 exists, PID 1's pid written at the offset (NONE: none) */
  OP_JOIN_CGROUP = 30, /* path of a cgroup.procs file: "0" written to it moves this process */
  OP_SETGROUPS = 31,  /* count (0..6), gid… : the supplementary groups */
  OP_SETRESGID = 32,  /* gid: real, effective and saved */
  OP_SETRESUID = 33,  /* uid: real, effective and saved */
  /* Exec (entering a running container instead of creating one): ops 34–39 are exec's. */
  OP_SETNS = 34,      /* fd (a pidfd the caller opened), nstype: setns into that process's namespaces */
  OP_SETNS_PID = 35,  /* fd (a pidfd): child1's, before it clones the process that runs the operations,
                       * which is then born in that process's pid namespace (setns changes only children's) */
  OP_CHROOT = 36,     /* fd (a directory the caller opened): fchdir to it, then chroot(".") */
  /* ops 37–39 are kept for exec's */
  OP_OVERLAY = 40,    /* target, lowerdirs (first, count), upperdir, workdir, mount attributes */
  /* skiff-oci (src/oci): ops 41–49 (40 went to the overlay). */
  OP_WAIT_START = 41, /* fd: the start fifo, open read-write (by the caller). Checks the exec paths, tells child1 the
                       * container is created (its launch returns), then reads until `start` writes */
  OP_SETNS_PATH = 42, /* path, nstype: join the namespace at a path (setns; the exec work's setns takes an fd) */
  OP_UNSHARE = 43,    /* flags: unshare(2) by PID 1 itself (a cgroup namespace, once in its cgroup) */
  OP_SET_KEEPCAPS = 44, /* PR_SET_KEEPCAPS 1: a uid change keeps the permitted set (a non-root user with capabilities) */
  OP_DUP_FD = 45,     /* fd, target fd: dup2 of an fd PID 1 inherited from the caller (skiff-oci's start fifo) */
  /* 60–64: the exec's pty in the container's own devpts (issue #15's features). */
  OP_OPEN_PTY = 60,   /* master register, slave register: /dev/pts/ptmx (else /dev/ptmx) of the current root, unlocked;
                       * the slave opened through the master (TIOCGPTPEER), never by a path the container controls */
  OP_SEND_FD = 61,    /* socket fd (inherited from the caller), register: that register's fd sent out (SCM_RIGHTS) */
  OP_FCHOWN = 62,     /* register, uid, gid: fchown(2) of that register's fd (a pty slave given to the exec's user) */
  /* skiff-oci's front end and beyond (issue 17): ops 65–69. */
  OP_SETGROUPS_LIST = 65, /* gids: decimal, comma-separated, up to MAX_GROUPS: setgroups(2) beyond OP_SETGROUPS' six */
  OP_SETNS_PID_PATH = 66, /* path: child1 joins the pid namespace at that host path before it clones PID 1 (OP_SETNS_PID by path) */
  OP_OPEN_PTY_AT = 67,   /* ptmx path (beneath the root fd), resolve, master register, peer register, rows, cols: a pty of
                       * the container's own devpts, unlocked, sized, its peer opened by TIOCGPTPEER */
  OP_SEND_FD_TO = 68,    /* socket path, register: the fd to that unix socket (SCM_RIGHTS, payload "/dev/pts/N") */
  OP__END
};

static const char *const op_names[OP__END] = {
  [OP_MOUNT] = "mount", [OP_REMOUNT_RO] = "remount_ro", [OP_MKDIR] = "mkdir",
  [OP_MKNOD] = "mknod", [OP_SYMLINK] = "symlink", [OP_OPEN_ROOT] = "open_root",
  [OP_PIVOT_ROOT] = "pivot_root", [OP_SETHOSTNAME] = "sethostname",
  [OP_LOOPBACK_UP] = "loopback_up", [OP_OPEN] = "open", [OP_SETSID] = "setsid",
  [OP_SET_CTTY] = "set_ctty", [OP_DUP2] = "dup2", [OP_CLOSE_FROM] = "close_from",
  [OP_CHDIR] = "chdir", [OP_SET_NO_NEW_PRIVS] = "set_no_new_privs",
  [OP_SETRLIMIT] = "setrlimit", [OP_WRITE_FILE] = "write_file",
  [OP_UMOUNT2] = "umount2", [OP_FAIL] = "fail", [OP_SET_DUMPABLE] = "set_dumpable",
  [OP_DROP_BOUNDING] = "drop_bounding", [OP_SET_CAPS] = "set_caps", [OP_CHECK_CHAR] = "check_char",
  [OP_MASK] = "mask", [OP_READONLY] = "readonly", [OP_SECCOMP] = "seccomp",
  [OP_NETLINK] = "netlink", [OP_HOST_NETLINK] = "host_netlink",
  [OP_JOIN_CGROUP] = "join_cgroup",
  [OP_SETGROUPS] = "setgroups", [OP_SETRESGID] = "setresgid", [OP_SETRESUID] = "setresuid",
  [OP_SETNS] = "setns", [OP_SETNS_PID] = "setns_pid", [OP_CHROOT] = "chroot",
  [OP_OVERLAY] = "overlay",
  [OP_WAIT_START] = "wait_start", [OP_SETNS_PATH] = "setns_path", [OP_UNSHARE] = "unshare",
  [OP_SET_KEEPCAPS] = "set_keepcaps", [OP_DUP_FD] = "dup_fd",
  [OP_OPEN_PTY] = "open_pty", [OP_SEND_FD] = "send_fd", [OP_FCHOWN] = "fchown", [OP_SETGROUPS_LIST] = "setgroups_list",
  [OP_SETNS_PID_PATH] = "setns_pid_path", [OP_OPEN_PTY_AT] = "open_pty_at", [OP_SEND_FD_TO] = "send_fd_to",
};

/* Flags of OP_MASK and OP_READONLY (MaskFlags in src/native/plan-format.ts). */
#define MASK_OPTIONAL 0x1  /* a path that does not exist is skipped (ENOENT is not an error) */
#define MASK_DIRECTORY 0x2 /* the path must be a directory: an empty tmpfs goes on it, not the register's file */
/* Flags of OP_MKDIR (MKDIR_* in src/native/plan-format.ts). */
#define MKDIR_EXIST_OK 0x1    /* an existing directory is not an error */
#define MKDIR_BEST_EFFORT 0x2 /* a mount point made for the operation after it: any failure is left to
                               * that operation, which reports it with its own path and errno */

/* Which argument words of each op are string references (bit i = arg i). */
static const uint32_t op_string_args[OP__END] = {
  [OP_MOUNT] = 0x17, [OP_REMOUNT_RO] = 0x1, [OP_MKDIR] = 0x1, [OP_MKNOD] = 0x1,
  [OP_SYMLINK] = 0x3, [OP_OPEN_ROOT] = 0x1, [OP_PIVOT_ROOT] = 0x1,
  [OP_SETHOSTNAME] = 0x1, [OP_OPEN] = 0x1, [OP_CHDIR] = 0x1, [OP_WRITE_FILE] = 0x3,
  [OP_UMOUNT2] = 0x1, [OP_MASK] = 0x21, [OP_READONLY] = 0x1, [OP_JOIN_CGROUP] = 0x1,
  [OP_SECCOMP] = 0x1, [OP_NETLINK] = 0x1, [OP_HOST_NETLINK] = 0x1, [OP_SETNS_PATH] = 0x1,
  [OP_OVERLAY] = 0x1b, /* arg 1 is the first lowerdir; the list is decoded into op->list */
  [OP_SETGROUPS_LIST] = 0x1, [OP_SETNS_PID_PATH] = 0x1, [OP_OPEN_PTY_AT] = 0x1, [OP_SEND_FD_TO] = 0x1,
};

/* What the children report to the caller: written in shared memory. */
struct launch_result {
  int32_t pid;      /* PID 1's pid in the caller's pid namespace, or -1 */
  int32_t op_index; /* failing op; op count = the exec; -1 = setup/clone */
  int32_t op_code;
  int32_t err;      /* errno */
};

struct op {
  uint32_t code;
  uint32_t arg[OP_WORDS - 1];
  const char *str[OP_WORDS - 1]; /* decoded string arguments (NULL if none) */
  struct sock_filter *filter;    /* OP_SECCOMP: the program, decoded from hex before fork */
  uint8_t *bytes;                /* OP_NETLINK, OP_HOST_NETLINK: the message, decoded from hex before fork */
  char **list;                   /* OP_OVERLAY: the lowerdirs, top first, found before fork */
};

struct plan {
  uint32_t clone_flags;
  const char *uid_map, *gid_map;
  uint32_t nops;
  struct op *ops;
  char **exec_paths; /* NULL-terminated */
  char **argv;
  char **envp;
  uint32_t nexec;
  int host_ops; /* has OP_HOST_NETLINK: child1 has work to do between PID 1's clone and its operations */
  int detached; /* has OP_WAIT_START: PID 1 outlives the caller's launch (and the caller), so it gets
                 * memory of its own (no CLONE_VM) and reports failures through the exec pipe */
  /* owned allocations */
  char *strings;
  uint32_t strings_len;
};

struct child_ctx {
  struct plan *plan;
  uint64_t reset_signals; /* bit s-1: signal s has a non-default disposition in the caller */
  struct launch_result *result;
  char *pid1_stack_top;
  int sync_pipe[2]; /* child1 → PID 1: "maps written, host operations done" (needs_sync only) */
  int exec_pipe[2]; /* PID 1 → child1: EOF when exec happened (needs_sync only) */
};

/* ───────────────────────── decoding (caller side, may allocate) ───────────────────────── */

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static const char *str_at(const struct plan *pl, uint32_t off, int *bad) {
  if (off == NONE) return NULL;
  if (off >= pl->strings_len) { *bad = 1; return NULL; }
  /* The area ends with NUL (checked once), so every offset names a terminated string. */
  return pl->strings + off;
}

static char **list_at(const struct plan *pl, uint32_t off, uint32_t count, int *bad) {
  if (count > MAX_LIST) { *bad = 1; return NULL; }
  char **v = calloc((size_t)count + 1, sizeof(char *));
  if (!v) { *bad = 1; return NULL; }
  uint32_t at = off;
  for (uint32_t i = 0; i < count; i++) {
    if (at >= pl->strings_len) { *bad = 1; free(v); return NULL; }
    v[i] = pl->strings + at;
    at += (uint32_t)strlen(v[i]) + 1;
  }
  return v;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* OP_SECCOMP's program travels as hex (the string area is NUL-terminated strings); turned
 * into struct sock_filter[] here, before fork, so PID 1 only hands it to the kernel.
 * Returns NULL, or why it does not decode. */
static const char *decode_filter(struct op *op) {
  const char *hex = op->str[0];
  uint32_t n = op->arg[1];
  if (!hex || n == 0 || n > BPF_MAXINSNS || strlen(hex) != (size_t)n * 16) return "seccomp program does not match its instruction count";
  uint8_t *bytes = malloc((size_t)n * 8);
  if (!bytes) return "out of memory";
  for (size_t i = 0; i < (size_t)n * 8; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) { free(bytes); return "seccomp program is not hex"; }
    bytes[i] = (uint8_t)(hi << 4 | lo);
  }
  struct sock_filter *f = malloc((size_t)n * sizeof(*f));
  if (!f) { free(bytes); return "out of memory"; }
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *b = bytes + 8 * i;
    f[i].code = (uint16_t)(b[0] | b[1] << 8);
    f[i].jt = b[2];
    f[i].jf = b[3];
    f[i].k = rd32(b + 4);
  }
  free(bytes);
  op->filter = f;
  return NULL;
}

/* OP_NETLINK's and OP_HOST_NETLINK's message travels as hex too; decoded before fork, checked to
 * be exactly one netlink message of the stated length (nlmsg_len is its first u32). */
static const char *decode_message(struct op *op) {
  const char *hex = op->str[0];
  uint32_t n = op->arg[1];
  if (!hex || n < 16 || n > 65536 || strlen(hex) != (size_t)n * 2) return "netlink message does not match its length";
  uint8_t *b = malloc(n);
  if (!b) return "out of memory";
  for (uint32_t i = 0; i < n; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) { free(b); return "netlink message is not hex"; }
    b[i] = (uint8_t)(hi << 4 | lo);
  }
  op->bytes = b;
  if (rd32(b) != n) return "netlink message length differs from its header";
  if (op->code == OP_HOST_NETLINK && op->arg[2] != NONE && (op->arg[2] > n - 4 || op->arg[2] < 16)) return "pid offset outside the netlink message";
  return NULL;
}

static void plan_free(struct plan *pl) {
  for (uint32_t i = 0; pl->ops && i < pl->nops; i++) { free(pl->ops[i].filter); free(pl->ops[i].bytes); free(pl->ops[i].list); }
  free(pl->ops);
  free(pl->exec_paths);
  free(pl->argv);
  free(pl->envp);
  free(pl->strings);
  memset(pl, 0, sizeof(*pl));
}

/* Returns 0, or EINVAL with *why naming the first problem found. */
static int plan_decode(const uint8_t *buf, size_t len, struct plan *pl, const char **why) {
  memset(pl, 0, sizeof(*pl));
  *why = "truncated header";
  if (len < HEADER_WORDS * 4) return EINVAL;
  uint32_t h[HEADER_WORDS];
  for (int i = 0; i < HEADER_WORDS; i++) h[i] = rd32(buf + 4 * i);
  *why = "bad magic";
  if (h[0] != PLAN_MAGIC) return EINVAL;
  *why = "unsupported plan version";
  if (h[1] != PLAN_VERSION) return EINVAL;
  pl->clone_flags = h[2];
  pl->nops = h[3];
  uint32_t ops_off = h[4], str_off = h[5], str_len = h[6];
  *why = "too many operations";
  if (pl->nops > MAX_OPS) return EINVAL;
  *why = "operations out of bounds";
  if (ops_off > len || (size_t)pl->nops * OP_WORDS * 4 > len - ops_off) return EINVAL;
  *why = "string area out of bounds or not NUL-terminated";
  if (str_off > len || str_len > len - str_off || str_len == 0 || buf[str_off + str_len - 1] != 0)
    return EINVAL;
  /* Copy the strings: the caller's buffer belongs to JavaScript and may move or be freed. */
  pl->strings = malloc(str_len);
  *why = "out of memory";
  if (!pl->strings) return ENOMEM;
  memcpy(pl->strings, buf + str_off, str_len);
  pl->strings_len = str_len;

  int bad = 0;
  pl->uid_map = str_at(pl, h[7], &bad);
  pl->gid_map = str_at(pl, h[8], &bad);
  *why = "uid or gid map out of bounds";
  if (bad) { plan_free(pl); return EINVAL; }
  pl->nexec = h[10];
  pl->exec_paths = list_at(pl, h[9], h[10], &bad);
  pl->argv = list_at(pl, h[11], h[12], &bad);
  pl->envp = list_at(pl, h[13], h[14], &bad);
  *why = "exec lists out of bounds";
  if (bad) { plan_free(pl); return EINVAL; }
  *why = "exec needs at least one path and one argument";
  if (h[10] == 0 || h[12] == 0) { plan_free(pl); return EINVAL; }

  pl->ops = calloc(pl->nops ? pl->nops : 1, sizeof(struct op));
  *why = "out of memory";
  if (!pl->ops) { plan_free(pl); return ENOMEM; }
  for (uint32_t i = 0; i < pl->nops; i++) {
    const uint8_t *p = buf + ops_off + (size_t)i * OP_WORDS * 4;
    struct op *op = &pl->ops[i];
    op->code = rd32(p);
    /* A code in a gap of the table (ops kept for later) is as unknown as one past its end. */
    if (op->code == 0 || op->code >= OP__END || !op_names[op->code]) {
      /* Fatal, never skipped: an operation this build does not know could be the one that confines. */
      static __thread char unknown[64];
      snprintf(unknown, sizeof(unknown), "unknown operation %u at index %u", op->code, i);
      *why = unknown;
      plan_free(pl);
      return EINVAL;
    }
    for (int a = 0; a < OP_WORDS - 1; a++) {
      op->arg[a] = rd32(p + 4 + 4 * a);
      if (op_string_args[op->code] & (1u << a)) op->str[a] = str_at(pl, op->arg[a], &bad);
    }
    *why = "operation string out of bounds";
    if (bad) { plan_free(pl); return EINVAL; }
    if (op->code == OP_SECCOMP) {
      *why = decode_filter(op);
      if (*why) { plan_free(pl); return EINVAL; }
    }
    if (op->code == OP_NETLINK || op->code == OP_HOST_NETLINK) {
      *why = decode_message(op);
      if (*why) { plan_free(pl); return EINVAL; }
      if (op->code == OP_HOST_NETLINK) pl->host_ops = 1;
    }
    if (op->code == OP_OVERLAY) {
      *why = "overlay lowerdirs out of bounds (1 to 500)";
      if (op->arg[2] == 0 || op->arg[2] > MAX_LOWERDIRS) { plan_free(pl); return EINVAL; }
      op->list = list_at(pl, op->arg[1], op->arg[2], &bad);
      if (bad) { plan_free(pl); return EINVAL; }
    }
    if (op->code == OP_WAIT_START) pl->detached = 1;
    *why = "register out of range";
    if ((op->code == OP_OPEN && op->arg[2] >= REGISTERS) ||
        ((op->code == OP_SET_CTTY || op->code == OP_DUP2 || op->code == OP_CHECK_CHAR) && op->arg[0] >= REGISTERS) ||
        (op->code == OP_MASK && op->arg[3] >= REGISTERS) ||
        (op->code == OP_OPEN_PTY && (op->arg[0] >= REGISTERS || op->arg[1] >= REGISTERS)) ||
        ((op->code == OP_SEND_FD && op->arg[1] >= REGISTERS) || (op->code == OP_FCHOWN && op->arg[0] >= REGISTERS)) ||
        (op->code == OP_OPEN_PTY_AT && (op->arg[2] >= REGISTERS || op->arg[3] >= REGISTERS)) ||
        (op->code == OP_SEND_FD_TO && op->arg[1] >= REGISTERS) ||
        (op->code == OP_MOUNT && op->arg[6] != NONE && op->arg[6] >= REGISTERS)) {
      plan_free(pl);
      return EINVAL;
    }
  }
  *why = NULL;
  return 0;
}

/* ───────────────────────── PID 1 (async-signal-safe only) ───────────────────────── */

/* Formats "/proc/self/fd/N" into buf without stdio. */
static const char *fd_path(char *buf, int fd) {
  static const char prefix[] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  memcpy(buf, prefix, sizeof(prefix) - 1);
  do { digits[n++] = (char)('0' + fd % 10); fd /= 10; } while (fd > 0);
  char *p = buf + sizeof(prefix) - 1;
  while (n > 0) *p++ = digits[--n];
  *p = 0;
  return buf;
}

/* Opens `path` (relative to the root fd) as O_PATH, never leaving the root:
 * `resolve` is openat2 RESOLVE_* flags chosen by TypeScript. Returns fd or -1. */
static int open_in_root(int root_fd, const char *path, uint64_t flags, uint32_t resolve) {
  struct open_how how = { .flags = flags | O_CLOEXEC, .mode = 0, .resolve = resolve };
  while (*path == '/') path++;
  if (*path == 0) path = ".";
  return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

/*
 * The directory the last path-creating operation resolved its parent to, kept open for
 * the next one: a plan creates /dev's nodes and links one after another, and resolving
 * "dev" once instead of a dozen times saves two syscalls each. It is only valid between
 * consecutive mkdir/mknod/symlink/write_file operations (run_op drops it before any
 * other operation): a mount could put a different directory at the same path, and
 * close_from or dup2 could take its fd number.
 */
struct dir_cache {
  int fd;           /* -1: empty */
  int root_fd;
  uint32_t resolve;
  char path[4096];  /* the parent, as resolved */
};

static void dir_cache_drop(struct dir_cache *dc) {
  if (dc->fd >= 0) close(dc->fd);
  dc->fd = -1;
}

/* Splits "a/b/c" into a parent fd (resolved in root, possibly cached) and the last component. */
static int open_parent_in_root(int root_fd, const char *path, uint32_t resolve, struct dir_cache *dc, const char **base) {
  char parent[sizeof(dc->path)];
  while (*path == '/') path++;
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 1;
  if (n >= sizeof(parent)) { errno = ENAMETOOLONG; return -1; }
  if (slash) memcpy(parent, path, n);
  else parent[0] = '.';
  parent[n] = 0;
  *base = slash ? slash + 1 : path;
  if (dc->fd >= 0 && dc->root_fd == root_fd && dc->resolve == resolve && strcmp(dc->path, parent) == 0) return dc->fd;
  int fd = open_in_root(root_fd, parent, O_PATH | O_DIRECTORY, resolve);
  if (fd < 0) return -1;
  dir_cache_drop(dc);
  dc->fd = fd;
  dc->root_fd = root_fd;
  dc->resolve = resolve;
  memcpy(dc->path, parent, n + 1);
  return fd;
}

/* A target to hand to mount(2): the path as written, or — when `resolve` is set —
 * the path resolved beneath the root as an O_PATH fd. A directory is made the
 * working directory, so that mount(2) gets "." and needs no /proc (/proc itself
 * is one of the targets). A file (a bind-mounted file, /dev/console) cannot be
 * a working directory: it is named through its fd as "/proc/self/fd/N", which
 * mount(2) follows to exactly the file that was resolved; a /proc is mounted by
 * then (the host's before pivot_root, the container's after). Returns NULL with
 * errno set; tbuf holds the fd path. */
static const char *mount_target(int root_fd, const char *path, uint32_t resolve, int *fd_out, char *tbuf) {
  *fd_out = -1;
  if (!resolve) return path;
  int fd = open_in_root(root_fd, path, O_PATH, resolve);
  if (fd < 0) return NULL;
  *fd_out = fd;
  if (fchdir(fd) == 0) return ".";
  if (errno != ENOTDIR) return NULL;
  return fd_path(tbuf, fd);
}

/* The per-mount flags a read-only remount must keep: a bind remount sets the
 * mount's flags to exactly what it is given, so without these a read-only view
 * of a nosuid or noexec mount would silently become suid- or exec-capable. */
static unsigned long kept_mount_flags(const char *target) {
  struct statfs sf;
  unsigned long keep = 0;
  if (statfs(target, &sf) < 0) return 0;
  if (sf.f_flags & ST_NOSUID) keep |= MS_NOSUID;
  if (sf.f_flags & ST_NODEV) keep |= MS_NODEV;
  if (sf.f_flags & ST_NOEXEC) keep |= MS_NOEXEC;
  if (sf.f_flags & ST_NOATIME) keep |= MS_NOATIME;
  if (sf.f_flags & ST_NODIRATIME) keep |= MS_NODIRATIME;
  return keep;
}

static int write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    s += w; n -= (size_t)w;
  }
  return 0;
}

/* Sends one rtnetlink request (which asks for an ack) and reads the ack: 0, or the kernel's
 * errno for it. Async-signal-safe: a socket, send, recv and close on a stack buffer. */
static int netlink_send(const uint8_t *msg, uint32_t len) {
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 /* NETLINK_ROUTE */);
  if (s < 0) return errno;
  int rc = 0;
  ssize_t n;
  while ((n = send(s, msg, len, 0)) < 0 && errno == EINTR) {}
  if (n < 0) rc = errno;
  else if ((uint32_t)n != len) rc = EMSGSIZE;
  else {
    /* The ack: struct nlmsghdr (type NLMSG_ERROR = 2) then the int error (0 = success),
     * then the request's header; its sequence number must be ours. */
    uint8_t ack[1024];
    while ((n = recv(s, ack, sizeof(ack), 0)) < 0 && errno == EINTR) {}
    if (n < 0) rc = errno;
    else if (n < 20 || (ack[4] | ack[5] << 8) != 2 || rd32(ack + 8) != rd32(msg + 8)) rc = EPROTO;
    else rc = -(int32_t)rd32(ack + 16);
  }
  close(s);
  return rc;
}

/* What PID 1 keeps between operations. */
struct pid1_state {
  int root_fd;         /* the directory paths are resolved beneath (open_root), or -1 */
  int regs[REGISTERS]; /* fds opened by OP_OPEN */
  int keep_fd;         /* an fd close_from must spare (the user-namespace exec pipe, whose
                        * end-of-file must mean "exec happened", never "the plan closed it"), or -1 */
  struct dir_cache dirs;
  const struct plan *plan; /* OP_WAIT_START checks the exec paths before it reports "created" */
};

/* Like execvp's search, without exec: 0 if a candidate is an executable file, else its errno. */
static int exec_found(const struct plan *pl) {
  int first_err = 0;
  for (uint32_t i = 0; i < pl->nexec; i++) {
    struct stat sb;
    if (stat(pl->exec_paths[i], &sb) < 0) {
      if (errno != ENOENT && errno != ENOTDIR && !first_err) first_err = errno;
      continue;
    }
    if (S_ISDIR(sb.st_mode) || access(pl->exec_paths[i], X_OK) < 0) { if (!first_err) first_err = S_ISDIR(sb.st_mode) ? EACCES : errno; continue; }
    return 0;
  }
  return first_err ? first_err : ENOENT;
}

/*
 * A pty master just opened from a ptmx: unlocked, its peer opened through it (TIOCGPTPEER: never by
 * a /dev/pts path the container could swap), both stored; on failure the master is closed.
 */
static int pty_unlock_peer(int m, int *master, int *peer) {
  int unlock = 0, rc;
  if (ioctl(m, TIOCSPTLCK, &unlock) < 0) { rc = errno; close(m); return rc; }
  int p = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (p < 0) { rc = errno; close(m); return rc; }
  *master = m;
  *peer = p;
  return 0;
}

/*
 * One SCM_RIGHTS message on the unix socket `sock`: `fd`, with `payload` (non-empty) as its bytes.
 * No allocation, so PID 1 may call it after the clone. Returns 0 or the errno.
 */
static int send_fd_message(int sock, int fd, const char *payload, int flags) {
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof(control));
  struct iovec iov = { .iov_base = (void *)payload, .iov_len = strlen(payload) };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  ssize_t n;
  while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags)) < 0 && errno == EINTR) {}
  return n < 0 ? errno : 0;
}

int skiff_send_fd(const char *path, int fd, const char *name, const char **step);

/* Applies one operation. Returns 0 or an errno. */
static int run_op(const struct op *op, struct pid1_state *st) {
  char sbuf[64], tbuf[64];
  int tfd = -1, rc = 0;
  int *root_fd = &st->root_fd, *regs = st->regs, keep_fd = st->keep_fd;
  const char *base;
  switch (op->code) {
  case OP_MKDIR: case OP_MKNOD: case OP_SYMLINK: case OP_WRITE_FILE: break;
  default: dir_cache_drop(&st->dirs);
  }
  switch ((enum op_code)op->code) {
  case OP_MOUNT: {
    const char *src = op->str[0];
    if (op->arg[6] != NONE) src = fd_path(sbuf, regs[op->arg[6]]);
    const char *target = mount_target(*root_fd, op->str[1], op->arg[5], &tfd, tbuf);
    if (!target) { rc = errno; break; }
    rc = mount(src, target, op->str[2], op->arg[3], op->str[4]) < 0 ? errno : 0;
    break;
  }
  case OP_REMOUNT_RO: {
    const char *target = mount_target(*root_fd, op->str[0], op->arg[1], &tfd, tbuf);
    if (!target) { rc = errno; break; }
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | op->arg[2] | kept_mount_flags(target);
    rc = mount(NULL, target, NULL, flags, NULL) < 0 ? errno : 0;
    break;
  }
  /* Modes are exact: PID 1 runs the operations with umask 0 (see pid1_main). */
  case OP_MKDIR: {
    int dfd = open_parent_in_root(*root_fd, op->str[0], op->arg[2], &st->dirs, &base);
    if (dfd < 0) return (op->arg[3] & MKDIR_BEST_EFFORT) ? 0 : errno;
    struct stat sb;
    /* A rootfs has most of the directories asked for (/proc, /dev, /sys, /tmp, a mount point):
     * one fstatat answers for them, where mkdirat would fail with EEXIST and need it anyway. */
    if ((op->arg[3] & MKDIR_EXIST_OK) && fstatat(dfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
      rc = S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
      return (op->arg[3] & MKDIR_BEST_EFFORT) ? 0 : rc;
    }
    rc = mkdirat(dfd, base, op->arg[1]) < 0 ? errno : 0;
    if (rc == EEXIST && (op->arg[3] & MKDIR_EXIST_OK)) {
      /* made meanwhile (or fstatat failed for a reason mkdirat does not share): what is there now */
      rc = fstatat(dfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0 ? errno : (S_ISDIR(sb.st_mode) ? 0 : ENOTDIR);
    }
    return (op->arg[3] & MKDIR_BEST_EFFORT) ? 0 : rc;
  }
  case OP_MKNOD: {
    int dfd = open_parent_in_root(*root_fd, op->str[0], op->arg[4], &st->dirs, &base);
    if (dfd < 0) return errno;
    return mknodat(dfd, base, op->arg[1], makedev(op->arg[2], op->arg[3])) < 0 ? errno : 0;
  }
  case OP_SYMLINK: {
    int dfd = open_parent_in_root(*root_fd, op->str[1], op->arg[2], &st->dirs, &base);
    if (dfd < 0) return errno;
    return symlinkat(op->str[0], dfd, base) < 0 ? errno : 0;
  }
  case OP_OPEN_ROOT: {
    int fd = open(op->str[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    if (*root_fd >= 0) close(*root_fd);
    *root_fd = fd;
    return 0;
  }
  case OP_PIVOT_ROOT:
    /* pivot_root(".", ".") stacks the old root on top of the new one; detaching it
     * then leaves only the new root, with no put_old directory needed inside it. */
    if (chdir(op->str[0]) < 0) return errno;
    if (syscall(SYS_pivot_root, ".", ".") < 0) return errno;
    if (umount2(".", MNT_DETACH) < 0) return errno;
    if (chdir("/") < 0) return errno;
    return 0;
  case OP_SETHOSTNAME:
    return sethostname(op->str[0], strlen(op->str[0])) < 0 ? errno : 0;
  case OP_LOOPBACK_UP: {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) rc = errno;
    else {
      ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
      if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) rc = errno;
    }
    close(s);
    return rc;
  }
  case OP_OPEN: {
    /* The mode matters only with O_CREAT; without it open(2) would read garbage. */
    int fd = open(op->str[0], (int)op->arg[1] | O_CLOEXEC, (mode_t)op->arg[3]);
    if (fd < 0) return errno;
    regs[op->arg[2]] = fd;
    return 0;
  }
  case OP_SETSID:
    return setsid() < 0 ? errno : 0;
  case OP_SET_CTTY:
    return ioctl(regs[op->arg[0]], TIOCSCTTY, 0) < 0 ? errno : 0;
  case OP_DUP2:
    /* dup2 clears close-on-exec on the new fd: that is what makes it survive execve. */
    return dup2(regs[op->arg[0]], (int)op->arg[1]) < 0 ? errno : 0;
  case OP_CLOSE_FROM:
    if (*root_fd >= (int)op->arg[0]) *root_fd = -1;
    if (keep_fd >= (int)op->arg[0]) {
      if (keep_fd > (int)op->arg[0] && syscall(SYS_close_range, op->arg[0], keep_fd - 1, 0) < 0) return errno;
      return syscall(SYS_close_range, keep_fd + 1, ~0u, 0) < 0 ? errno : 0;
    }
    return syscall(SYS_close_range, op->arg[0], ~0u, 0) < 0 ? errno : 0;
  case OP_CHDIR: {
    if (!op->arg[1]) return chdir(op->str[0]) < 0 ? errno : 0;
    /* Resolved from the container's root with openat2 flags TypeScript chose (in root, no magic
     * links): a workdir such as /proc/self/fd/N, which would name whatever directory an fd
     * still points at (runc's CVE-2024-21626), fails with ELOOP instead. fchdir checks search
     * permission on the directory like chdir does. */
    int rfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0) return errno;
    int dfd = open_in_root(rfd, op->str[0], O_PATH | O_DIRECTORY, op->arg[1]);
    rc = dfd < 0 ? errno : (fchdir(dfd) < 0 ? errno : 0);
    if (dfd >= 0) close(dfd);
    close(rfd);
    return rc;
  }
  case OP_SET_NO_NEW_PRIVS:
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? errno : 0;
  case OP_SETRLIMIT: {
    struct rlimit rl = {
      .rlim_cur = (rlim_t)op->arg[1] | ((rlim_t)op->arg[2] << 32),
      .rlim_max = (rlim_t)op->arg[3] | ((rlim_t)op->arg[4] << 32),
    };
    return setrlimit((int)op->arg[0], &rl) < 0 ? errno : 0;
  }
  case OP_WRITE_FILE: {
    int dfd = open_parent_in_root(*root_fd, op->str[0], op->arg[2], &st->dirs, &base);
    if (dfd < 0) return errno;
    int fd = openat(dfd, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    rc = fd < 0 ? errno : 0;
    if (fd >= 0) {
      if (write_all(fd, op->str[1], strlen(op->str[1])) < 0) rc = errno;
      close(fd);
    }
    return rc;
  }
  case OP_UMOUNT2:
    return umount2(op->str[0], (int)op->arg[1]) < 0 ? errno : 0;
  case OP_FAIL:
    return op->arg[0] ? (int)op->arg[0] : EIO;
  case OP_SET_DUMPABLE:
    return prctl(PR_SET_DUMPABLE, op->arg[0], 0, 0, 0) < 0 ? errno : 0;
  case OP_DROP_BOUNDING: {
    /* Which capabilities, TypeScript decided (only those up to cap_last_cap: the kernel
     * answers EINVAL for one it does not know). */
    uint64_t caps = (uint64_t)op->arg[0] | ((uint64_t)op->arg[1] << 32);
    for (int c = 0; c < 64; c++) {
      if ((caps & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) return errno;
    }
    return 0;
  }
  case OP_SET_CAPS: {
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2] = {
      { .effective = op->arg[0], .permitted = op->arg[2], .inheritable = op->arg[4] },
      { .effective = op->arg[1], .permitted = op->arg[3], .inheritable = op->arg[5] },
    };
    if (syscall(SYS_capset, &hdr, data) < 0) return errno;
    /* Ambient capabilities would survive exec into a file without capabilities: none. */
    return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ? errno : 0;
  }
  /* Raw system calls, not glibc's wrappers: those broadcast the change to every thread of the
   * calling process (setxid), and PID 1 shares its memory with the Node process that launched
   * it. The kernel's credentials are per task, so the raw call changes PID 1 alone. */
  case OP_SETGROUPS: {
    gid_t gids[6];
    uint32_t n = op->arg[0];
    if (n > 6) return EINVAL;
    for (uint32_t i = 0; i < n; i++) gids[i] = (gid_t)op->arg[1 + i];
    return syscall(SYS_setgroups, (int)n, gids) < 0 ? errno : 0;
  }
  case OP_SETGROUPS_LIST: {
    gid_t gids[MAX_GROUPS];
    size_t n = 0;
    if (!op->str[0]) return EINVAL;
    for (const char *p = op->str[0]; *p;) { /* parsed here, without allocating (PID 1 runs after clone) */
      uint64_t g = 0;
      const char *start = p;
      while (*p >= '0' && *p <= '9' && g <= 0xffffffffu) g = g * 10 + (uint64_t)(*p++ - '0');
      if (p == start || g > 0xffffffffu || (*p != ',' && *p) || n == MAX_GROUPS) return EINVAL;
      gids[n++] = (gid_t)g;
      if (*p == ',') p++;
    }
    return syscall(SYS_setgroups, (int)n, gids) < 0 ? errno : 0;
  }
  case OP_SETRESGID:
    return syscall(SYS_setresgid, (gid_t)op->arg[0], (gid_t)op->arg[0], (gid_t)op->arg[0]) < 0 ? errno : 0;
  case OP_SETRESUID:
    return syscall(SYS_setresuid, (uid_t)op->arg[0], (uid_t)op->arg[0], (uid_t)op->arg[0]) < 0 ? errno : 0;
  case OP_OVERLAY: {
    /* An overlay through the new mount API: each lower layer is one fsconfig("lowerdir+"), so
     * the number of layers is not bounded by mount(2)'s one page of options. The target is a
     * host path (the root mount point), used as written. */
    int fs = (int)syscall(SYS_fsopen, "overlay", SKIFF_FSOPEN_CLOEXEC), mnt = -1;
    if (fs < 0) return errno;
    /* "overlay" as the source, as mount(2) gives it: what mountinfo and df show. */
    if (syscall(SYS_fsconfig, fs, SKIFF_FSCONFIG_SET_STRING, "source", "overlay", 0) < 0) rc = errno;
    for (uint32_t i = 0; i < op->arg[2] && !rc; i++)
      if (syscall(SYS_fsconfig, fs, SKIFF_FSCONFIG_SET_STRING, "lowerdir+", op->list[i], 0) < 0) rc = errno;
    if (!rc && syscall(SYS_fsconfig, fs, SKIFF_FSCONFIG_SET_STRING, "upperdir", op->str[3], 0) < 0) rc = errno;
    if (!rc && syscall(SYS_fsconfig, fs, SKIFF_FSCONFIG_SET_STRING, "workdir", op->str[4], 0) < 0) rc = errno;
    if (!rc && syscall(SYS_fsconfig, fs, SKIFF_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) rc = errno;
    if (!rc && (mnt = (int)syscall(SYS_fsmount, fs, SKIFF_FSMOUNT_CLOEXEC, op->arg[5])) < 0) rc = errno;
    close(fs);
    if (!rc && syscall(SYS_move_mount, mnt, "", AT_FDCWD, op->str[0], SKIFF_MOVE_MOUNT_F_EMPTY_PATH) < 0) rc = errno;
    if (mnt >= 0) close(mnt);
    return rc;
  }
  case OP_CHECK_CHAR: {
    /* A mask's source must be what the plan says it is (the container's own /dev/null, a
     * node skiff made), never whatever a path turned out to lead to. */
    struct stat sb;
    if (regs[op->arg[0]] < 0) return EBADF;
    if (fstat(regs[op->arg[0]], &sb) < 0) return errno;
    if (!S_ISCHR(sb.st_mode) || major(sb.st_rdev) != op->arg[1] || minor(sb.st_rdev) != op->arg[2]) return ENODEV;
    return 0;
  }
  case OP_MASK: {
    const char *target = mount_target(*root_fd, op->str[0], op->arg[1], &tfd, tbuf);
    if (!target) {
      rc = errno;
      if (rc == ENOENT && (op->arg[2] & MASK_OPTIONAL)) rc = 0;
      break;
    }
    struct stat sb;
    if (stat(target, &sb) < 0) { rc = errno; break; }
    int is_dir = S_ISDIR(sb.st_mode);
    if (is_dir != ((op->arg[2] & MASK_DIRECTORY) != 0)) { rc = is_dir ? EISDIR : ENOTDIR; break; }
    if (is_dir) rc = mount("tmpfs", target, "tmpfs", op->arg[4], op->str[5]) < 0 ? errno : 0;
    else if (regs[op->arg[3]] < 0) rc = EBADF;
    else rc = mount(fd_path(sbuf, regs[op->arg[3]]), target, NULL, MS_BIND, NULL) < 0 ? errno : 0;
    break;
  }
  case OP_READONLY: {
    const char *target = mount_target(*root_fd, op->str[0], op->arg[1], &tfd, tbuf);
    if (!target) {
      rc = errno;
      if (rc == ENOENT && (op->arg[2] & MASK_OPTIONAL)) rc = 0;
      break;
    }
    /* A path becomes a mount of its own by a bind onto itself; the remount must then name the
     * new mount, which only a fresh lookup of the path reaches (the fd is below it). */
    if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0) { rc = errno; break; }
    close(tfd);
    target = mount_target(*root_fd, op->str[0], op->arg[1], &tfd, tbuf);
    if (!target) { rc = errno; break; }
    rc = mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_mount_flags(target), NULL) < 0 ? errno : 0;
    break;
  }
  case OP_SECCOMP: {
    /* The kernel checks the program (EINVAL) and the right to load it: no_new_privs or
     * CAP_SYS_ADMIN (EACCES); the plan orders the operations so that one holds. */
    struct sock_fprog prog = { .len = (unsigned short)op->arg[1], .filter = op->filter };
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, op->arg[2], &prog) < 0 ? errno : 0;
  }
  case OP_NETLINK:
    return netlink_send(op->bytes, op->arg[1]);
  case OP_HOST_NETLINK:
    return 0; /* child1's, done before PID 1 ran its first operation (child1_main) */
  case OP_SETNS:
    /* One call for every namespace named (a pidfd takes several at once, and the kernel orders
     * them itself, user namespace first). The fd is the caller's: inherited through the fd table
     * copy the clones made, never opened here, so it names the process the caller checked. */
    return syscall(SYS_setns, (int)op->arg[0], (int)op->arg[1]) < 0 ? errno : 0;
  case OP_SETNS_PID: case OP_SETNS_PID_PATH:
    return 0; /* child1's, done before it cloned this process (child1_main) */
  case OP_OPEN_PTY_AT: {
    int m = open_in_root(*root_fd, op->str[0], O_RDWR | O_NOCTTY, op->arg[1]);
    if (m < 0) return errno;
    struct winsize ws = { .ws_row = (unsigned short)op->arg[4], .ws_col = (unsigned short)op->arg[5] };
    if ((ws.ws_row || ws.ws_col) && ioctl(m, TIOCSWINSZ, &ws) < 0) { rc = errno; close(m); return rc; }
    return pty_unlock_peer(m, &regs[op->arg[2]], &regs[op->arg[3]]);
  }
  case OP_SEND_FD_TO: {
    unsigned int n = 0;
    char name[32];
    if (ioctl(regs[op->arg[1]], TIOCGPTN, &n) < 0) return errno;
    snprintf(name, sizeof(name), "/dev/pts/%u", n); /* no allocation: fine after clone */
    return skiff_send_fd(op->str[0], regs[op->arg[1]], name, &base);
  }
  case OP_CHROOT:
    /* The container's root as its PID 1 sees it, opened by the caller from /proc/<pid>/root:
     * after the setns into its mount namespace, "/" is that namespace's root mount, which is
     * where the container's root is only as long as nothing was mounted over it; this names it. */
    if (fchdir((int)op->arg[0]) < 0) return errno;
    return chroot(".") < 0 ? errno : 0;
  case OP_JOIN_CGROUP: {
    /* "0" is the writer itself, whatever its pid is called in this pid namespace. Done before
     * exec and before PID 1 has any child, so nothing the container runs starts outside. */
    int fd = open(op->str[0], O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    rc = write(fd, "0", 1) < 0 ? errno : 0;
    close(fd);
    return rc;
  }
  case OP_WAIT_START: {
    /* The container is created once its init is here: everything but the exec is done. An exec
     * that could not happen is reported now, to `create`, while someone still listens. */
    int err = exec_found(st->plan);
    if (err) return err;
    /* Closing the exec pipe is child1's end-of-file: "created", and skiff_launch returns. From
     * here on nobody reads a failure; one ends PID 1 with 127, seen as the container's exit. */
    if (keep_fd >= 0) close(keep_fd);
    st->keep_fd = -1;
    /* The fifo was opened read-write as root before pivot_root (an open that neither blocks nor
     * needs the host path or /proc later, whatever user PID 1 has become): the read blocks until
     * `start` writes its byte. End-of-file cannot come, since this fd is also a writer. */
    char b;
    ssize_t n;
    while ((n = read((int)op->arg[0], &b, 1)) < 0 && errno == EINTR) {}
    rc = n == 1 ? 0 : (n < 0 ? errno : EPIPE);
    close((int)op->arg[0]);
    return rc;
  }
  case OP_SETNS_PATH: {
    int fd = open(op->str[0], O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    rc = setns(fd, (int)op->arg[1]) < 0 ? errno : 0;
    close(fd);
    return rc;
  }
  case OP_UNSHARE:
    return unshare((int)op->arg[0]) < 0 ? errno : 0;
  case OP_SET_KEEPCAPS:
    return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ? errno : 0;
  case OP_DUP_FD:
    /* dup2 clears close-on-exec on the new fd; the same fd is no dup, so it is cleared here */
    if (op->arg[0] == op->arg[1]) return fcntl((int)op->arg[0], F_SETFD, 0) < 0 ? errno : 0;
    return dup2((int)op->arg[0], (int)op->arg[1]) < 0 ? errno : 0;
  case OP_OPEN_PTY: {
    /* The container's own ptmx: the pty is in its devpts, so its slave is a /dev/pts/N that exists
     * inside, owned as the container's devpts says. Only the character device 5:2 is taken. */
    int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 && errno == ENOENT) m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return errno;
    struct stat sb;
    if (fstat(m, &sb) < 0) rc = errno;
    else if (!S_ISCHR(sb.st_mode) || major(sb.st_rdev) != 5 || minor(sb.st_rdev) != 2) rc = ENODEV;
    if (rc) { close(m); return rc; }
    return pty_unlock_peer(m, &regs[op->arg[0]], &regs[op->arg[1]]);
  }
  case OP_SEND_FD: {
    int fd = regs[op->arg[1]];
    if (fd < 0) return EBADF;
    return send_fd_message((int)op->arg[0], fd, "m", MSG_DONTWAIT);
  }
  case OP_FCHOWN:
    if (regs[op->arg[0]] < 0) return EBADF;
    return fchown(regs[op->arg[0]], (uid_t)op->arg[1], (gid_t)op->arg[2]) < 0 ? errno : 0;
  case OP__END:
    break;
  }
  if (tfd >= 0) close(tfd);
  if (op->code == 0 || op->code >= OP__END) return ENOSYS; /* decode refuses these; belt and braces */
  return rc;
}

static void fail(struct launch_result *r, int index, uint32_t code, int err) {
  r->op_index = index;
  r->op_code = (int32_t)code;
  r->err = err;
}

/* PID 1 must wait for child1 (so is cloned without CLONE_VFORK): for its uid/gid maps in a
 * user namespace, and for host operations that need PID 1's pid (a veth end moved into its
 * network namespace) before PID 1's own operations use what they made. */
static int needs_sync(const struct plan *pl) {
  return (pl->clone_flags & CLONE_NEWUSER) != 0 || pl->host_ops || pl->detached;
}

/* A failure of PID 1: into the shared result, and, for a detached PID 1 (whose memory is its
 * own), also through the exec pipe, where child1 reads it. Then PID 1 ends. */
static void pid1_fail(struct child_ctx *c, const struct pid1_state *st, int index, uint32_t code, int err) {
  fail(c->result, index, code, err);
  if (c->plan->detached && st->keep_fd >= 0) {
    ssize_t n = write(st->keep_fd, c->result, sizeof(*c->result));
    (void)n; /* nothing more to do: child1 sees end-of-file without a record, and PID 1's exit */
  }
  _exit(127);
}

static int pid1_main(void *arg) {
  struct child_ctx *c = arg;
  struct plan *pl = c->plan;
  struct pid1_state st;
  int sync = needs_sync(pl);
  st.plan = pl;
  st.root_fd = -1;
  st.keep_fd = sync ? c->exec_pipe[1] : -1;
  st.dirs.fd = -1;
  for (int i = 0; i < REGISTERS; i++) st.regs[i] = -1;
  /* The plan's modes are exact (mkdir, mknod, created files): no umask applies to them.
   * The init gets the caller's umask back before exec. */
  mode_t umask_was = umask(0);

  if (sync) {
    /* Wait until child1 has written our maps (until then we have no ids) and done its host operations. */
    char b;
    close(c->sync_pipe[1]);
    if (read(c->sync_pipe[0], &b, 1) != 1) pid1_fail(c, &st, -1, 0, EPIPE);
    close(c->sync_pipe[0]);
  }
  for (uint32_t i = 0; i < pl->nops; i++) {
    int err = run_op(&pl->ops[i], &st);
    if (err) pid1_fail(c, &st, (int)i, pl->ops[i].code, err);
  }
  dir_cache_drop(&st.dirs);
  umask(umask_was);
  /* Signals: the caller blocked them all before clone. Reset to the default every
   * disposition that is not (Node ignores SIGPIPE, and ignored signals survive exec;
   * a caught one must not run the caller's handler here before exec resets it), and
   * only then unblock. Which ones, the caller read from /proc/self/status (SigIgn,
   * SigCgt): a few syscalls instead of one per signal. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s <= 64 && s < _NSIG; s++) {
    if (c->reset_signals & (1ull << (s - 1))) sigaction(s, &dfl, NULL); /* EINVAL for KILL/STOP/glibc's own: fine */
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  int first_err = 0;
  for (uint32_t i = 0; i < pl->nexec; i++) {
    execve(pl->exec_paths[i], pl->argv, pl->envp);
    /* Like execvp: keep looking on ENOENT/ENOTDIR, remember the first other error. */
    if (errno != ENOENT && errno != ENOTDIR && !first_err) first_err = errno;
  }
  /* Exec failed: block signals again before writing the shared result. */
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  pid1_fail(c, &st, (int)pl->nops, 0, first_err ? first_err : ENOENT);
  return 127;
}

static int write_map(pid_t pid, const char *file, const char *map) {
  char path[64];
  int n = snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file); /* no allocation; fine after clone */
  if (n < 0) return EINVAL;
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = write_all(fd, map, strlen(map)) < 0 ? errno : 0;
  close(fd);
  return rc;
}

static int child1_main(void *arg) {
  struct child_ctx *c = arg;
  struct plan *pl = c->plan;
  int sync = needs_sync(pl);
  /* A detached PID 1 (OP_WAIT_START) waits for `start` long after the caller has returned, freed
   * the plan and perhaps exited: it needs a copy of the memory (the page tables of the caller, not
   * V8's heap, which is MADV_DONTFORK and which PID 1 never touches), not the caller's own. */
  int flags = (int)pl->clone_flags | SIGCHLD | (pl->detached ? 0 : CLONE_VM) | (sync ? 0 : CLONE_VFORK);
  /* The pipes are made here, not by the caller: child1 has a copy of the caller's fd table, so a
   * write end the caller held would stay open there while it waits for us, and the exec pipe
   * would never reach end-of-file. Made here, only child1 and PID 1 ever hold them. */
  if (sync && (pipe2(c->sync_pipe, O_CLOEXEC) < 0 || pipe2(c->exec_pipe, O_CLOEXEC) < 0)) { fail(c->result, -1, 0, errno); _exit(1); }
  /* An exec's pid namespace: joined here, because setns(CLONE_NEWPID) moves only the caller's
   * future children, and the process that runs the operations must be one of them. */
  for (uint32_t i = 0; i < pl->nops; i++) {
    const struct op *op = &pl->ops[i];
    if (op->code == OP_SETNS_PID && syscall(SYS_setns, (int)op->arg[0], CLONE_NEWPID) < 0) { fail(c->result, (int)i, op->code, errno); _exit(1); }
    if (op->code == OP_SETNS_PID_PATH) {
      int fd = op->str[0] ? open(op->str[0], O_RDONLY | O_CLOEXEC) : -1;
      int err = fd < 0 ? (op->str[0] ? errno : EINVAL) : syscall(SYS_setns, fd, CLONE_NEWPID) < 0 ? errno : 0;
      if (fd >= 0) close(fd);
      if (err) { fail(c->result, (int)i, op->code, err); _exit(1); }
    }
  }
  pid_t pid = clone(pid1_main, c->pid1_stack_top, flags, c);
  if (pid < 0) { fail(c->result, -1, 0, errno); _exit(1); }
  c->result->pid = pid;
  if (!sync) {
    /* vfork: we resume once PID 1 has exec'd or died. A PID 1 that failed is our
     * child: reap it here so no subreaper ever sees a zombie it did not start. */
    if (c->result->err) while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR) {}
  } else {
    close(c->sync_pipe[0]);
    close(c->exec_pipe[1]);
    int err = 0;
    if (pl->gid_map) {
      err = write_map(pid, "setgroups", "deny");
      if (!err) err = write_map(pid, "gid_map", pl->gid_map);
    }
    if (!err && pl->uid_map) err = write_map(pid, "uid_map", pl->uid_map);
    int failed_op = -1;
    /* Host operations, in plan order, from the caller's namespaces: PID 1 exists (its network
     * namespace can be named by its pid) but has not started its own operations. The message
     * is the plan's own decoded copy, private to this launch: patching it in place is safe. */
    for (uint32_t i = 0; !err && i < pl->nops; i++) {
      struct op *op = &pl->ops[i];
      if (op->code != OP_HOST_NETLINK) continue;
      if (op->arg[2] != NONE) {
        uint32_t v = (uint32_t)pid;
        memcpy(op->bytes + op->arg[2], &v, 4);
      }
      err = netlink_send(op->bytes, op->arg[1]);
      if (err) failed_op = (int)i;
    }
    if (!err && write(c->sync_pipe[1], "x", 1) != 1) err = EPIPE;
    if (err) {
      kill(pid, SIGKILL);
      while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR) {}
      fail(c->result, failed_op, failed_op >= 0 ? OP_HOST_NETLINK : 0, err);
      _exit(1);
    }
    /* EOF: PID 1 exec'd (the pipe is close-on-exec), reached OP_WAIT_START, or died; a failure is
     * in c->result, or, from a detached PID 1, a record on the pipe. */
    struct launch_result r;
    ssize_t n;
    while ((n = read(c->exec_pipe[0], &r, sizeof(r))) < 0 && errno == EINTR) {}
    if (n == (ssize_t)sizeof(r) && r.err) fail(c->result, r.op_index, (uint32_t)r.op_code, r.err);
    else if (n < 0) fail(c->result, -1, 0, errno);
    if (c->result->err) while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR) {}
  }
  _exit(0);
}

/* ───────────────────────── exported entry points ───────────────────────── */

static uint64_t hex64(const char *p) {
  uint64_t v = 0;
  for (;; p++) {
    if (*p >= '0' && *p <= '9') v = (v << 4) | (uint64_t)(*p - '0');
    else if (*p >= 'a' && *p <= 'f') v = (v << 4) | (uint64_t)(*p - 'a' + 10);
    else return v;
  }
}

/* Signals whose disposition in this process is not the default (SigIgn | SigCgt of
 * /proc/self/status), or all of them when that cannot be read. Read before blocking
 * signals and cloning; handlers are installed from the thread that calls skiff_launch. */
static uint64_t non_default_signals(void) {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ~0ull;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return ~0ull;
  buf[n] = 0;
  const char *ign = strstr(buf, "\nSigIgn:\t"), *cgt = strstr(buf, "\nSigCgt:\t");
  if (!ign || !cgt) return ~0ull;
  return hex64(ign + 9) | hex64(cgt + 9);
}

/*
 * Launches a plan. Returns PID 1's pid (> 0), or -1 with out[0..2] set to
 * (op index, op code, errno): op index = -2 for a plan that does not decode
 * (errno EINVAL), -1 for a failure before the operations (clone, maps), and the
 * op count for the final exec.
 */
int skiff_launch(const uint8_t *buf, size_t len, int32_t *out) {
  struct plan pl;
  const char *why;
  int err = plan_decode(buf, len, &pl, &why);
  out[0] = -2; out[1] = 0; out[2] = err;
  if (err) return -1;

  struct launch_result result = { .pid = -1, .op_index = -1, .op_code = 0, .err = 0 };
  struct child_ctx ctx = { .plan = &pl, .result = &result,
                           .sync_pipe = { -1, -1 }, .exec_pipe = { -1, -1 } };
  pid_t child = -1;
  sigset_t all, old;

  /* The children's stacks are mapped once per calling thread and reused: both children
   * are gone, or exec'd out of this address space, by the time skiff_launch returns. */
  static __thread char *stacks;
  if (!stacks) {
    char *m = mmap(NULL, 2 * STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) { fail(&result, -1, 0, errno); goto done; }
    stacks = m;
  }
  ctx.reset_signals = non_default_signals();
  ctx.pid1_stack_top = stacks + 2 * STACK_SIZE; /* stacks grow down on every arch we build for */

  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  child = clone(child1_main, stacks + STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &ctx);
  if (child < 0) fail(&result, -1, 0, errno);
  else {
    int status;
    while (waitpid(child, &status, __WALL) < 0 && errno == EINTR) {}
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);

done:
  /* ctx.sync_pipe and exec_pipe are fd numbers in child1's table (gone with it), not ours. */
  plan_free(&pl);
  if (result.err == 0 && result.pid > 0) return result.pid;
  out[0] = result.op_index; out[1] = result.op_code; out[2] = result.err ? result.err : ECHILD;
  return -1;
}

static void json_str(char **p, char *end, const char *s) {
  if (!s) { *p += snprintf(*p, (size_t)(end - *p), "null"); if (*p > end) *p = end; return; }
  if (*p < end) *(*p)++ = '"';
  for (; *s && *p < end - 7; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') { *(*p)++ = '\\'; *(*p)++ = (char)ch; }
    else if (ch < 0x20) *p += snprintf(*p, 7, "\\u%04x", ch);
    else *(*p)++ = (char)ch;
  }
  if (*p < end) *(*p)++ = '"';
}

static void json_list(char **p, char *end, char **v) {
  if (*p < end) *(*p)++ = '[';
  for (int i = 0; v && v[i]; i++) {
    if (i && *p < end) *(*p)++ = ',';
    json_str(p, end, v[i]);
  }
  if (*p < end) *(*p)++ = ']';
}

#define EMIT(...) do { p += snprintf(p, (size_t)(end - p), __VA_ARGS__); if (p > end) p = end; } while (0)

/*
 * Dry run: decodes a plan exactly as skiff_launch does and writes it as JSON,
 * so tests can check that TypeScript's encoder and this decoder agree.
 * Returns the JSON length, or -1 with the reason written instead.
 */
int skiff_plan_decode(const uint8_t *buf, size_t len, char *outbuf, size_t outlen) {
  struct plan pl;
  const char *why;
  char *p = outbuf, *end = outbuf + outlen - 1;
  if (plan_decode(buf, len, &pl, &why)) {
    snprintf(outbuf, outlen, "%s", why);
    return -1;
  }
  EMIT("{\"version\":%u,\"cloneFlags\":%u,\"uidMap\":", PLAN_VERSION, pl.clone_flags);
  json_str(&p, end, pl.uid_map);
  EMIT(",\"gidMap\":");
  json_str(&p, end, pl.gid_map);
  EMIT(",\"ops\":[");
  for (uint32_t i = 0; i < pl.nops; i++) {
    const struct op *op = &pl.ops[i];
    EMIT("%s{\"op\":\"%s\",\"args\":[", i ? "," : "", op_names[op->code]);
    for (int a = 0; a < OP_WORDS - 1; a++) {
      if (a) EMIT(",");
      if (op_string_args[op->code] & (1u << a)) json_str(&p, end, op->str[a]);
      else EMIT("%u", op->arg[a]);
    }
    EMIT("]}");
  }
  EMIT("],\"exec\":{\"paths\":");
  json_list(&p, end, pl.exec_paths);
  EMIT(",\"argv\":");
  json_list(&p, end, pl.argv);
  EMIT(",\"envp\":");
  json_list(&p, end, pl.envp);
  EMIT("}}");
  *p = 0;
  int n = (int)(p - outbuf);
  plan_free(&pl);
  if (p >= end) { snprintf(outbuf, outlen, "output buffer too small"); return -1; }
  return n;
}

/*
 * skiff-oci's console socket: connects to the unix socket at `path` and sends `fd` (a pty
 * master) as one SCM_RIGHTS message whose payload is `name`, as runc does and as containerd's
 * and conmon's console sockets read it. Here rather than in TypeScript because building a
 * msghdr with a control message through koffi would be all pointer arithmetic.
 * Returns 0, or the errno with *step naming the call that failed.
 */
int skiff_send_fd(const char *path, int fd, const char *name, const char **step) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  *step = "socket path too long";
  if (strlen(path) >= sizeof(addr.sun_path)) return ENAMETOOLONG;
  memcpy(addr.sun_path, path, strlen(path));
  *step = "socket";
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  int rc = 0;
  *step = "connect";
  if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) rc = errno;
  else {
    *step = "sendmsg";
    rc = send_fd_message(s, fd, name, 0);
  }
  close(s);
  return rc;
}

/*
 * The channel an exec's pty master comes back on (OP_SEND_FD): a close-on-exec unix socket pair,
 * datagram-bounded, so one message is one fd. Returns 0 or the errno.
 */
int skiff_fd_channel(int32_t *fds) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return errno;
  fds[0] = sv[0];
  fds[1] = sv[1];
  return 0;
}

/*
 * Takes the fd OP_SEND_FD sent (without waiting: the launch has returned, so it was sent or never
 * will be). Returns the fd (close-on-exec), or -errno: -EAGAIN when nothing was sent, -EBADMSG
 * when a message came without exactly one fd.
 */
int skiff_recv_fd(int sock) {
  char byte;
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
  ssize_t n;
  while ((n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  if (n < 0) return -errno;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  if (n != 1 || !cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int))) {
    /* A truncated control message would have closed what did not fit; one that fit is ours to close. */
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
      int stray;
      memcpy(&stray, CMSG_DATA(cm), sizeof(int));
      close(stray);
    }
    return -EBADMSG;
  }
  int fd;
  memcpy(&fd, CMSG_DATA(cm), sizeof(int));
  return fd;
}

/*
 * The start time of a live process: clock ticks after boot, field 22 of /proc/<pid>/stat, which
 * with the pid names one process for good. -1 when it is gone, a zombie or dead (or its file does
 * not parse). The launcher asks right after each launch, for the PID 1 it reports: one open, read
 * and close here instead of Node's readFileSync and parse took about 0.1 ms off the launcher's
 * CPU per start (docs/architecture.md).
 */
long long skiff_start_time(int pid) {
  char path[32], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR) {}
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  /* "pid (comm) state …": comm may hold spaces and parentheses, so fields count from the last ')'. */
  const char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return -1;
  p += 2; /* field 3, the state */
  if (*p == 'Z' || *p == 'X' || *p == 'x') return -1;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  char *end;
  errno = 0;
  unsigned long long v = strtoull(p, &end, 10);
  if (end == p || (*end != ' ' && *end != 0) || errno) return -1;
  return (long long)v;
}

/* The op table as C sees it, "code:name,…", for the enum agreement test. */
const char *skiff_op_table(void) {
  static char table[2048];
  char *p = table, *end = table + sizeof(table) - 1;
  for (int c = 1; c < OP__END; c++) if (op_names[c]) EMIT("%s%d:%s", p > table ? "," : "", c, op_names[c]);
  return table;
}

unsigned skiff_plan_version(void) { return PLAN_VERSION; }

/*
 * skiffd's two cgroupfs operations made in C (src/main/cgroups/native.ts). A single call costs
 * about what Node's fs binding costs for it (the kernel's work, 10-14 µs here); what this saves
 * is the work around the calls: skiff_cg_keep does a spare's whole exit check in one call, and a
 * file that is gone is an errno, not an Error with its stack. Each returns 0 (or a count) or
 * -errno; none keeps state. Not launch-plan operations.
 */
static int cg_err(void) { return errno ? -errno : -EIO; }

/* One read of a small cgroup file (a seq_file gives up to a page in one): the bytes read, or -errno. */
int skiff_cg_read(const char *path, char *buf, int len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cg_err();
  ssize_t n;
  while ((n = read(fd, buf, (size_t)len)) < 0 && errno == EINTR) {}
  int r = n < 0 ? cg_err() : (int)n;
  close(fd);
  return r;
}

/* One write of `value` (a cgroup file takes a value in one write): 0, or -errno. */
static int cg_write(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return cg_err();
  int r = write_all(fd, value, strlen(value)) == 0 ? 0 : cg_err();
  close(fd);
  return r;
}

static int cg_at(char *buf, size_t size, const char *dir, const char *file) {
  int n = snprintf(buf, size, "%s/%s", dir, file);
  return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Whether `dir`'s cgroup.procs lists no process: 1 empty, 0 not, -errno. */
static int cg_empty(const char *dir) {
  char path[4096], b[16];
  int r = cg_at(path, sizeof(path), dir, "cgroup.procs");
  if (r < 0) return r;
  r = skiff_cg_read(path, b, sizeof(b));
  return r < 0 ? r : r == 0;
}

/*
 * Keeps an emptied container cgroup `dir` as the spare `spare` (memcg-pool.ts, limit-spares.ts):
 * its cgroup.procs empty, and for a memory cgroup (max_usage ≥ 0) its usage no more than
 * `max_usage` (else 2), reclaimed (memory.force_empty) above `leftover`, its peak and fail count
 * zeroed; then renamed. 0 kept, 1 not empty, 2 holding too much, or -errno (not renamed: the
 * caller removes it). What was a dozen of Node's calls is one.
 */
int skiff_cg_keep(const char *dir, const char *spare, long long max_usage, long long leftover) {
  int r = cg_empty(dir);
  if (r <= 0) return r < 0 ? r : 1;
  if (max_usage >= 0) {
    char path[4096], b[64];
    if ((r = cg_at(path, sizeof(path), dir, "memory.usage_in_bytes")) < 0) return r;
    if ((r = skiff_cg_read(path, b, sizeof(b) - 1)) < 0) return r;
    b[r] = 0;
    char *end;
    errno = 0;
    long long usage = strtoll(b, &end, 10);
    if (end == b || errno) return -EINVAL;
    if (usage > max_usage) return 2;
    static const char *const counters[] = { "memory.max_usage_in_bytes", "memory.failcnt" };
    if (usage > leftover) {
      if ((r = cg_at(path, sizeof(path), dir, "memory.force_empty")) < 0 || (r = cg_write(path, "0")) < 0) return r;
    }
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
      if ((r = cg_at(path, sizeof(path), dir, counters[i])) < 0 || (r = cg_write(path, "0")) < 0) return r;
    }
  }
  return rename(dir, spare) == 0 ? 0 : cg_err();
}
