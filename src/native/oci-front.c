/*
 * oci-front.c — build/skiff-oci, the front end of skiff-oci: what containerd's shim and conmon
 * exec. It holds no policy. A Node process per call costs ~70 ms of CPU before any work, and an
 * engine makes four calls per container (create, start, delete, delete --force), so each call
 * goes to a warm Node server, one per --root, which does the work (src/oci/server.ts) and tells
 * this process what to print, what to launch and how to exit. Anything this process cannot do
 * with the server (no root directory yet, a server that will not start, SKIFF_OCI_SERVER=0, a
 * call the server hands back) runs the Node command line itself (bin/skiff-oci.js), so no
 * daemon is ever required.
 *
 *   front end                                   server (Node, detached, one per --root)
 *   flock(lock, SH); connect(sock) ──────────▶ SO_PEERCRED: the same uid, else refused
 *     (nothing answers: flock EX, start one, wait for its ready byte on a pipe)
 *   ◀── 'A' accepted: unlock (the server only exits idle under flock EX, so never mid-connect)
 *   'Q' argv, cwd, open fds ──────────────────▶ runs the call (src/oci/main.ts)
 *   ◀── 'O'/'E' stdout/stderr text; 'C' what undoes this call if the server is lost
 *   ◀── 'L' launch: umask, start fifo, plan ── create: the init is made by *this* process's tree,
 *   skiff_launch(plan) (launch.c, linked in)    so the engine's subreaper reaps it
 *   'P' pid, or 'R' the failure ──────────────▶ state.json, pid file, console, hooks
 *   ◀── 'X' exit status; or 'F': run the Node command line instead
 *
 * Frames are a type byte, a u32 little-endian length and the payload; strings are NUL-ended.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int skiff_launch(const uint8_t *buf, size_t len, int32_t *out); /* launch.c */

#ifndef SKIFF_NODE
#define SKIFF_NODE "/usr/bin/node"
#endif
#define SERVER_DIR "skiff-oci:server" /* ':' is not allowed in a container id: never a container's directory */
#define START_TIMEOUT_MS 60000      /* Node's start-up on a loaded machine: seconds, not minutes */
#define MAX_FRAME (64u << 20)

extern char **environ;

static char project[PATH_MAX];
static int held_lock = -1; /* the start lock, shared, until the server accepts the call */

static void release_lock(void) {
  if (held_lock >= 0) close(held_lock);
  held_lock = -1;
}

static void die(const char *what, int err) {
  dprintf(2, "skiff-oci: %s: %s\n", what, strerror(err));
  exit(1);
}

static const char *node_binary(void) {
  const char *n = getenv("SKIFF_OCI_NODE");
  return n && *n ? n : SKIFF_NODE;
}

/* The project is two levels up from this binary (build/skiff-oci). */
static void find_project(void) {
  ssize_t n = readlink("/proc/self/exe", project, sizeof(project) - 1);
  if (n < 0) die("readlink /proc/self/exe", errno);
  project[n] = 0;
  for (int up = 0; up < 2; up++) {
    char *slash = strrchr(project, '/');
    if (!slash) die("find the project from /proc/self/exe", ENOENT);
    *slash = 0;
  }
}

/* The Node command line, in this process: argv as given (the fallback, and what the server hands back). */
static void exec_node(char **args, int argc) {
  char script[PATH_MAX + 32];
  snprintf(script, sizeof(script), "%s/bin/skiff-oci.js", project);
  char **v = calloc((size_t)argc + 3, sizeof(char *));
  if (!v) die("calloc", ENOMEM);
  v[0] = (char *)node_binary();
  v[1] = script;
  for (int i = 0; i < argc; i++) v[i + 2] = args[i];
  execve(v[0], v, environ);
  die(v[0], errno);
}

/* The runtime's --root as the global options give it (before the command word), or runc's default. */
static const char *root_of(int argc, char **argv) {
  static const char *const valued[] = { "root", "log", "log-format", "criu", "rootless", NULL };
  const char *root = "/run/skiff-oci";
  for (int i = 0; i < argc && argv[i][0] == '-'; i++) {
    const char *name = argv[i] + (argv[i][1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int takes = 0;
    for (int k = 0; valued[k]; k++) if (strlen(valued[k]) == len && !strncmp(name, valued[k], len)) takes = 1;
    if (!takes) continue;
    const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (len == 4 && !strncmp(name, "root", 4) && v) root = v;
  }
  return root;
}

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) { /* a non-blocking fd the caller gave us */
      struct pollfd pfd = { .fd = fd, .events = POLLOUT };
      poll(&pfd, 1, -1);
      continue;
    }
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* To the server: a server gone meanwhile is EPIPE here, never SIGPIPE. */
static int send_all(int s, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = send(s, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int send_frame(int s, char type, const void *payload, uint32_t len) {
  char head[5];
  head[0] = type;
  memcpy(head + 1, &len, 4);
  return send_all(s, head, 5) < 0 || send_all(s, payload, len) < 0 ? -1 : 0;
}

/* Connects to the server's socket, named through the directory's fd (sun_path holds 108 bytes, a --root may not). */
static int connect_server(int dirfd) {
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/sock", dirfd);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
    close(s);
    return -1;
  }
  return s;
}

/* Starts the server for `root`, detached (its own session, stdio on /dev/null, not our child), and
 * waits for its ready byte. 0 once it listens, -1 if it did not come up. */
static int start_server(const char *root, int dirfd) {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0) return -1;
  char script[PATH_MAX + 32];
  snprintf(script, sizeof(script), "%s/bin/skiff-oci-server.js", project);
  pid_t child = fork();
  if (child < 0) return -1;
  if (child == 0) {
    setsid();
    if (fork() != 0) _exit(0); /* the server is orphaned now: never this caller's child to wait for */
    if (fchdir(dirfd) < 0) _exit(127);
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) _exit(127);
    /* fd 3 may be the pipe's own end already, whose close-on-exec a dup2 onto itself would keep */
    if (ready[1] == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(ready[1], 3) < 0) _exit(127);
    if (close_range(4, ~0u, 0) < 0) for (int fd = 4; fd < 1024; fd++) close(fd);
    char *v[] = { (char *)node_binary(), script, "--ready-fd", "3", (char *)root, NULL };
    execve(v[0], v, environ);
    _exit(127);
  }
  close(ready[1]);
  while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
  struct pollfd pfd = { .fd = ready[0], .events = POLLIN };
  int rc = -1;
  if (poll(&pfd, 1, START_TIMEOUT_MS) == 1) {
    char b;
    if (read(ready[0], &b, 1) == 1 && b == '1') rc = 0;
  }
  close(ready[0]);
  return rc;
}

/* The server's connection for `root`, started if none answers; -1 when there is none to be had. */
static int server_for(const char *root) {
  struct stat st;
  if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) return -1; /* the Node path says what is wrong with it */
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof(dir), "%s/%s", root, SERVER_DIR) >= (int)sizeof(dir)) return -1;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) return -1;
  int dirfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dirfd < 0) return -1;
  /* Ours alone: a directory another user owns or can enter is not a server to trust. */
  if (fstat(dirfd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) { close(dirfd); return -1; }
  int lock = openat(dirfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  int s = -1;
  if (lock >= 0 && flock(lock, LOCK_SH) == 0) {
    s = connect_server(dirfd);
    if (s < 0 && flock(lock, LOCK_EX) == 0) {
      s = connect_server(dirfd); /* another caller may have started one meanwhile */
      if (s < 0) {
        unlinkat(dirfd, "sock", 0); /* a dead server's */
        char abs[PATH_MAX]; /* the server runs in its own directory: a relative --root would not name it there */
        if (realpath(root, abs) && start_server(abs, dirfd) == 0) s = connect_server(dirfd);
      }
    }
  }
  if (s >= 0) {
    struct ucred peer;
    socklen_t len = sizeof(peer);
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0 || peer.uid != geteuid()) {
      close(s);
      s = -1;
    }
  }
  /* Held until the server has accepted us ('A'), so that it cannot exit idle in between. */
  if (s >= 0) held_lock = lock;
  else if (lock >= 0) close(lock);
  close(dirfd);
  return s;
}

/* The request: argc, the count of open fds, the fds, then cwd and argv as NUL-ended strings. */
static int send_request(int s, int argc, char **argv) {
  int fds[1024];
  uint32_t nfds = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int own = dirfd(d);
  for (struct dirent *e; (e = readdir(d)) != NULL && nfds < 1024;) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != own) fds[nfds++] = fd;
  }
  closedir(d);
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof(cwd))) return -1;
  size_t len = 8 + 4 * (size_t)nfds + strlen(cwd) + 1;
  for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
  char *buf = malloc(len), *p = buf;
  if (!buf) return -1;
  uint32_t n = (uint32_t)argc;
  memcpy(p, &n, 4); p += 4;
  memcpy(p, &nfds, 4); p += 4;
  for (uint32_t i = 0; i < nfds; i++) { uint32_t f = (uint32_t)fds[i]; memcpy(p, &f, 4); p += 4; }
  p = stpcpy(p, cwd) + 1;
  for (int i = 0; i < argc; i++) p = stpcpy(p, argv[i]) + 1;
  int rc = send_frame(s, 'Q', buf, (uint32_t)len);
  free(buf);
  return rc;
}

/* 'L': opens the start fifo on the fd the plan names, takes the umask, launches; reports back. */
static pid_t run_launch(int s, const char *payload, uint32_t len) {
  uint32_t mask, fifo_fd;
  if (len < 9) die("server: launch frame too short", EPROTO);
  memcpy(&mask, payload, 4);
  memcpy(&fifo_fd, payload + 4, 4);
  const char *fifo = payload + 8;
  size_t flen = strnlen(fifo, len - 8);
  if (flen == len - 8) die("server: launch frame without its fifo path", EPROTO);
  const uint8_t *plan = (const uint8_t *)fifo + flen + 1;
  size_t plan_len = len - 8 - flen - 1;
  int32_t out[3] = { -1, 0, 0 };
  pid_t pid = -1;
  int fd = open(fifo, O_RDWR | O_CLOEXEC);
  if (fd < 0) out[2] = errno;
  else if (fd != (int)fifo_fd && dup3(fd, (int)fifo_fd, O_CLOEXEC) < 0) out[2] = errno;
  if (out[2] == 0) {
    umask((mode_t)mask);
    pid = skiff_launch(plan, plan_len, out);
  }
  if (fd >= 0) close(fd);
  if (fd >= 0 && fd != (int)fifo_fd) close((int)fifo_fd);
  if (pid > 0) {
    int32_t p = pid;
    if (send_frame(s, 'P', &p, 4) < 0) return pid;
  } else {
    send_frame(s, 'R', out, sizeof(out));
  }
  return pid;
}

/* The server ended before it said how the call ends: undo what it had done, through the Node path. */
static void lost_server(const char *cleanup, uint32_t clen, pid_t launched) {
  if (launched > 0) kill(launched, SIGKILL);
  if (clen > 0) {
    char *args[64];
    int n = 0;
    for (const char *p = cleanup; p < cleanup + clen && n < 63; p += strlen(p) + 1) args[n++] = (char *)p;
    pid_t child = fork();
    if (child == 0) {
      int null = open("/dev/null", O_WRONLY);
      if (null >= 0) dup2(null, 1);
      exec_node(args, n);
    }
    if (child > 0) while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
  }
  dprintf(2, "skiff-oci: the server ended during the call%s\n", clen > 0 ? "; what it had done is undone" : "");
  exit(1);
}

int main(int argc, char **argv) {
  find_project();
  const char *env = getenv("SKIFF_OCI_SERVER");
  if (env && !strcmp(env, "0")) exec_node(argv + 1, argc - 1);
  int s = server_for(root_of(argc - 1, argv + 1));
  if (s < 0 || send_request(s, argc - 1, argv + 1) < 0) {
    release_lock();
    exec_node(argv + 1, argc - 1);
  }
  char *cleanup = NULL;
  uint32_t clen = 0;
  pid_t launched = -1;
  int accepted = 0;
  for (;;) {
    char head[5];
    uint32_t len;
    if (read_all(s, head, 5) < 0) {
      if (!accepted) { release_lock(); close(s); exec_node(argv + 1, argc - 1); } /* it never took the call */
      lost_server(cleanup, clen, launched);
    }
    memcpy(&len, head + 1, 4);
    if (len > MAX_FRAME) die("server: frame too long", EPROTO);
    char *payload = malloc(len + 1);
    if (!payload || read_all(s, payload, len) < 0) lost_server(cleanup, clen, launched);
    payload[len] = 0;
    switch (head[0]) {
      case 'A': accepted = 1; release_lock(); free(payload); break;
      case 'O': write_all(1, payload, len); free(payload); break;
      case 'E': write_all(2, payload, len); free(payload); break;
      case 'C': free(cleanup); cleanup = payload; clen = len; break;
      case 'L': launched = run_launch(s, payload, len); free(payload); break;
      case 'F': close(s); exec_node(argv + 1, argc - 1); break;
      case 'X': {
        uint32_t code = 0;
        if (len >= 4) memcpy(&code, payload, 4);
        exit((int)code);
      }
      default: die("server: unknown frame", EPROTO);
    }
  }
}
