// One forwarder round in one native call (src/forwarder/native-round.ts drives it): the source
// into staging by splice until it runs dry, then staging to each client's backlog (record
// header, tee) with the backlog moved on into the client's pipe, then staging into the ring
// (its oldest bytes dropped first). Through koffi each of those system calls cost a few µs of
// its own, and a flood's round took 8–9 of them; here they are one call.
//
// Only the mechanism is here. Which fds, how many bytes, whether a client gets this round at
// all: the caller decides before the call (the policy, drop-oldest, limits and the log stay in
// TypeScript). The steps run in order, and the first one whose result is not the expected one
// (a short tee, a header that does not fit, a client pipe gone, any error) stops the round:
// `io[IO_STOP]` says which step, each step's result is in `io`, and the caller goes on from
// that very step with its own code, which sees the same condition again and handles it as it
// always has (a fresh segment, a dropped client, an error naming the operation and errno).
// A flush that ends because the client's pipe is full (EAGAIN) is expected: the backlog keeps it.
//
// Layout of io (int32 words; every count fits: a round is at most staging's 256 KiB, a pipe
// or backlog segment at most 1 MiB, a ring at most its limit):
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

enum {
  IO_SRC = 0,        // in: the source (pty master or pipe read end), non-blocking
  IO_STAGE_R,        // in: staging's read end
  IO_STAGE_W,        // in: staging's write end
  IO_STAGE_SLOTS,    // in: staging's slots (pages); one is kept free, so EAGAIN means "source empty"
  IO_CHUNK,          // in: bytes per splice from the source (a pty: a page), 0 = all of staging's room
  IO_DEVNULL,        // in: /dev/null, for the ring's dropped bytes
  IO_NCLIENTS,       // in: client blocks that follow
  IO_RING_TAIL_W,    // in: the ring's last segment (write end)
  IO_RING_HEAD_R,    // in: the ring's first segment (read end)
  IO_RING_HEAD_BYTES,// in: bytes in the first segment
  IO_RING_STORED,    // in: bytes in the ring's pipes
  IO_RING_LIMIT,     // in: the ring's limit
  IO_RING_SLACK,     // in: how far past the limit it may run before it drops
  IO_ROUND,          // out: bytes staged (R); 0: nothing ran after the staging step
  IO_LAST,           // out: the last splice's result from the source (1: staging's slots ran out)
  IO_USED_SLOTS,     // out: staging slots counted (pages per splice, rounded up)
  IO_STOP,           // out: -1 all done; else the step that stopped it (STEP_* + 8 × client, or RING_*)
  IO_STOP_RESULT,    // out: that step's result (-errno, or bytes)
  IO_RING_DROPPED,   // out: bytes dropped from the ring's first segment
  IO_RING_MOVED,     // out: bytes spliced from staging into the ring's last segment
  IO_CLIENTS = 24,   // client blocks, CLIENT_WORDS each
};

enum {
  C_SEG_W = 0,       // in: the backlog's one segment, write end
  C_SEG_R,           // in: its read end
  C_PIPE,            // in: the client's pipe (write end)
  C_HEADER,          // in: 1: a record header (hdr, length patched to R) goes before the chunk
  C_SEG_BYTES,       // in: bytes in the segment before the round
  C_FLUSHED_BEFORE,  // out: bytes moved segment → pipe before the round
  C_HEADER_DONE,     // out: 1 if the header was written
  C_TEED,            // out: bytes teed from staging into the segment
  C_FLUSHED_AFTER,   // out: bytes moved segment → pipe after the round
  C_PIPE_FULL,       // out: 1 if the last flush ended at a full pipe
  CLIENT_WORDS = 12,
};

// Steps of a client (the stop code is step + 8 × client index), then the ring's.
enum { STEP_FLUSH_BEFORE = 0, STEP_HEADER = 1, STEP_TEE = 2, STEP_FLUSH_AFTER = 3 };
#define RING_DROP (-2)
#define RING_SPLICE (-3)
#define STOP_NONE (-1)
#define STOP_STAGE (-4)

#define PAGE 4096
#define HEADER_BYTES 16

static long sys_result(long r) { return r < 0 ? -errno : r; }

// Moves up to `want` bytes segment → pipe. Returns the bytes moved; *end is 0 when `want` moved,
// -EAGAIN at a full pipe (expected), else the failing result (-EPIPE: the reader has gone).
static long flush(int from, int to, long want, long *end) {
  long moved = 0;
  *end = 0;
  while (moved < want) {
    long n = sys_result(splice(from, NULL, to, NULL, (size_t)(want - moved), SPLICE_F_NONBLOCK));
    if (n == -EINTR) continue;
    if (n <= 0) {
      *end = n == 0 ? -EIO : n; // 0 from a pipe with bytes in it is not expected
      break;
    }
    moved += n;
  }
  return moved;
}

static int stop(int32_t *io, int step, long result) {
  io[IO_STOP] = step;
  io[IO_STOP_RESULT] = (int32_t)result;
  return step;
}

int skiff_fwd_round(int32_t *io, uint8_t *hdr) {
  io[IO_ROUND] = 0;
  io[IO_LAST] = 0;
  io[IO_USED_SLOTS] = 0;
  io[IO_RING_DROPPED] = 0;
  io[IO_RING_MOVED] = 0;
  io[IO_STOP] = STOP_NONE;
  io[IO_STOP_RESULT] = 0;

  // The source into staging, as the TypeScript pump did: keep a slot free, so that EAGAIN can
  // only mean that the source has nothing more.
  long staged = 0, last = 1;
  int used = 0, slots = io[IO_STAGE_SLOTS];
  while (used < slots) {
    long room = (long)(slots - used) * PAGE;
    if (io[IO_CHUNK] > 0 && room > io[IO_CHUNK]) room = io[IO_CHUNK];
    last = sys_result(splice(io[IO_SRC], NULL, io[IO_STAGE_W], NULL, (size_t)room, SPLICE_F_NONBLOCK | SPLICE_F_MOVE));
    if (last > 0) {
      staged += last;
      used += (int)((last + PAGE - 1) / PAGE);
      last = 1;
      continue;
    }
    if (last == -EINTR) continue;
    break;
  }
  io[IO_ROUND] = (int32_t)staged;
  io[IO_LAST] = (int32_t)last;
  io[IO_USED_SLOTS] = used;
  if (staged == 0) return stop(io, STOP_STAGE, last);

  // Each client: its backlog moved on first (room made), then the round into it, then on again.
  if (hdr != NULL) memcpy(hdr + 4, &(uint32_t){(uint32_t)staged}, 4); // encodeHeader's length, little-endian
  for (int i = 0; i < io[IO_NCLIENTS]; i++) {
    int32_t *c = io + IO_CLIENTS + i * CLIENT_WORDS;
    long end = 0, seg = c[C_SEG_BYTES];
    c[C_FLUSHED_BEFORE] = c[C_HEADER_DONE] = c[C_TEED] = c[C_FLUSHED_AFTER] = c[C_PIPE_FULL] = 0;
    if (seg > 0) {
      long m = flush(c[C_SEG_R], c[C_PIPE], seg, &end);
      c[C_FLUSHED_BEFORE] = (int32_t)m;
      seg -= m;
      if (end != 0 && end != -EAGAIN) return stop(io, STEP_FLUSH_BEFORE + 8 * i, end);
    }
    if (c[C_HEADER]) {
      long w = sys_result(write(c[C_SEG_W], hdr, HEADER_BYTES));
      if (w != HEADER_BYTES) return stop(io, STEP_HEADER + 8 * i, w);
      c[C_HEADER_DONE] = 1;
      seg += HEADER_BYTES;
    }
    long t;
    do t = sys_result(tee(io[IO_STAGE_R], c[C_SEG_W], (size_t)staged, SPLICE_F_NONBLOCK));
    while (t == -EINTR);
    if (t > 0) c[C_TEED] = (int32_t)t;
    if (t != staged) return stop(io, STEP_TEE + 8 * i, t);
    seg += t;
    long m = flush(c[C_SEG_R], c[C_PIPE], seg, &end);
    c[C_FLUSHED_AFTER] = (int32_t)m;
    c[C_PIPE_FULL] = end == -EAGAIN;
    if (end != 0 && end != -EAGAIN) return stop(io, STEP_FLUSH_AFTER + 8 * i, end);
  }

  // The ring: its oldest bytes dropped first when the round takes it past limit + slack (only
  // from its first segment: a drop that spans segments closes pipes, which the caller does),
  // then the round moved in (staging is empty after).
  long stored = io[IO_RING_STORED];
  if (staged > io[IO_RING_LIMIT]) return stop(io, RING_DROP, 0); // older than the ring holds: the caller's path
  if (stored + staged > (long)io[IO_RING_LIMIT] + io[IO_RING_SLACK]) {
    long want = stored + staged - io[IO_RING_LIMIT];
    if (want > io[IO_RING_HEAD_BYTES]) return stop(io, RING_DROP, 0);
    long end = 0;
    long d = flush(io[IO_RING_HEAD_R], io[IO_DEVNULL], want, &end);
    io[IO_RING_DROPPED] = (int32_t)d;
    if (end != 0) return stop(io, RING_DROP, end);
  }
  long end = 0;
  long m = flush(io[IO_STAGE_R], io[IO_RING_TAIL_W], staged, &end);
  io[IO_RING_MOVED] = (int32_t)m;
  if (end != 0) return stop(io, RING_SPLICE, end);
  return STOP_NONE;
}
