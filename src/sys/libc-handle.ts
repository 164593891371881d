// The one koffi handle on libc: every libc function skiff calls, declared here once with its
// exact C type, and the two ways a call's result is read. Only the modules of src/sys/ import
// this file; everything else calls their wrappers (src/sys/libc.ts, splice.ts, termios.ts, rusage.ts).
import koffi from 'koffi';
import { SysError } from './errno.js';

const libc = koffi.load('libc.so.6');

export const c = {
  // process control
  prctl: libc.func('int prctl(int option, ...)'),
  pidfd_open: libc.func('int pidfd_open(int pid, unsigned int flags)'),
  pidfd_send_signal: libc.func('int pidfd_send_signal(int pidfd, int sig, void *info, unsigned int flags)'),
  pidfd_getfd: libc.func('int pidfd_getfd(int pidfd, int targetfd, unsigned int flags)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  waitid: libc.func('int waitid(int idtype, int id, _Out_ uint8_t *info, int options)'),
  getrusage: libc.func('int getrusage(int who, _Out_ uint8_t *usage)'),
  getrlimit: libc.func('int getrlimit(int resource, _Out_ uint64_t *rlim)'),
  setrlimit: libc.func('int setrlimit(int resource, const uint64_t *rlim)'),
  // fds
  open: libc.func('int open(const char *path, int flags, ...)'),
  close: libc.func('int close(int fd)'),
  read: libc.func('long read(int fd, _Out_ uint8_t *buf, unsigned long count)'),
  write: libc.func('long write(int fd, const uint8_t *buf, unsigned long count)'),
  lseek: libc.func('int64_t lseek(int fd, int64_t offset, int whence)'),
  fcntl: libc.func('int fcntl(int fd, int cmd, ...)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)'),
  flock: libc.func('int flock(int fd, int operation)'),
  // pipes
  pipe2: libc.func('int pipe2(_Out_ int *fds, int flags)'),
  // The offsets are loff_t *; the forwarder passes null (use and advance the file position).
  splice: libc.func('long splice(int fd_in, void *off_in, int fd_out, void *off_out, unsigned long len, unsigned int flags)'),
  tee: libc.func('long tee(int fd_in, int fd_out, unsigned long len, unsigned int flags)'),
  // epoll, eventfd
  epoll_create1: libc.func('int epoll_create1(int flags)'),
  epoll_ctl: libc.func('int epoll_ctl(int epfd, int op, int fd, uint8_t *event)'),
  epoll_wait: libc.func('int epoll_wait(int epfd, _Out_ uint8_t *events, int maxevents, int timeout)'),
  eventfd: libc.func('int eventfd(unsigned int initval, int flags)'),
  poll: libc.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)'),
  // terminals
  posix_openpt: libc.func('int posix_openpt(int flags)'),
  grantpt: libc.func('int grantpt(int fd)'),
  unlockpt: libc.func('int unlockpt(int fd)'),
  ptsname_r: libc.func('int ptsname_r(int fd, _Out_ uint8_t *buf, unsigned long buflen)'),
  tcgetattr: libc.func('int tcgetattr(int fd, _Out_ uint8_t *termios)'),
  tcsetattr: libc.func('int tcsetattr(int fd, int actions, const uint8_t *termios)'),
  cfmakeraw: libc.func('void cfmakeraw(_Inout_ uint8_t *termios)'),
  // sockets
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *len)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  send: libc.func('long send(int fd, const uint8_t *buf, unsigned long len, int flags)'),
  recv: libc.func('long recv(int fd, _Out_ uint8_t *buf, unsigned long len, int flags)'),
  // files the image unpacker creates (src/main/images/unpack.ts): Node has no mknod and no xattrs
  mknod: libc.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
  lsetxattr: libc.func('int lsetxattr(const char *path, const char *name, const uint8_t *value, unsigned long size, int flags)'),
  lgetxattr: libc.func('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, unsigned long size)'),
};

/** For set-up calls: the result, or a SysError naming the call, the path (if any) and the errno. */
export function check(rc: number | bigint, syscall: string, path?: string): number {
  const n = Number(rc);
  if (n < 0) throw new SysError(syscall, koffi.errno(), path);
  return n;
}

/** For hot-path calls whose failures are normal (EAGAIN on a non-blocking fd): the result, or -errno. */
export function raw(rc: number | bigint): number {
  const n = Number(rc);
  return n < 0 ? -koffi.errno() : n;
}

/** The errno left by the last libc call on this thread. */
export function lastErrno(): number {
  return koffi.errno();
}
