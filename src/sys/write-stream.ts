// A write stream on a file that exists once the call returns. createWriteStream(path) opens its
// file later, on libuv's thread pool: a pipeline that fails before that open has completed (a
// source that errs at once, a hasher that refuses the first chunk) rejects first, the caller's
// clean-up removes nothing, and the open then creates the file anyway. That left a half-written
// blob in images/tmp whenever the pool was busy (the image store's test found it on a loaded CI
// run). Opened here, synchronously, the file is there before anything can fail, so a clean-up
// after a failure always finds it; the stream closes the fd when it ends or is destroyed.
import { createWriteStream, openSync, type WriteStream } from 'node:fs';

/** A write stream on `path`, created (or truncated) now with `mode` (before the umask). */
export function fileWriteStream(path: string, mode: number): WriteStream {
  return createWriteStream(path, { fd: openSync(path, 'w', mode) });
}
