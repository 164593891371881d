// The body of a request that asks for an upgrade (docker exec start: JSON, then the hijacked
// stream on the same connection). Node's parser stops at the headers of such a request, so the
// body is read off the socket by its Content-Length; what follows it is the stream's, and is
// put back for whoever reads the socket next.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';
import { MAX_BODY_BYTES, parseJsonBody, readJson } from './body.js';

/** Whether the client asked for an upgrade (docker, docker-py and dockerode do for a hijack). */
export function isUpgrade(req: IncomingMessage): boolean {
  return (req.headers.connection ?? '').toLowerCase().includes('upgrade');
}

/** The JSON body of any request: by Content-Length off the socket for an upgrade, else as usual. */
export async function readBodyJson(req: IncomingMessage, timeoutMs = 10_000): Promise<unknown> {
  if (!isUpgrade(req)) return readJson(req);
  return parseJsonBody((await readUpgradeBody(req, timeoutMs)).toString('utf8'));
}

/**
 * An upgrade request's body, read off the socket by its Content-Length (dockerode sends its
 * options as one with an attach: they are not the stream's input). The socket is left paused,
 * with whatever followed the body put back: the caller resumes it once it listens.
 */
export function readUpgradeBody(req: IncomingMessage, timeoutMs = 10_000): Promise<Buffer> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(length) || length < 0) return Promise.reject(new HttpError(400, `malformed Content-Length ${JSON.stringify(req.headers['content-length'])}`));
  if (length > MAX_BODY_BYTES) return Promise.reject(new HttpError(413, `request body too large (${length} bytes; the limit is ${MAX_BODY_BYTES})`));
  if (length === 0) return Promise.resolve(Buffer.alloc(0));
  const socket = req.socket;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const done = (err: Error | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (err) return reject(err);
      const all = Buffer.concat(chunks);
      if (all.length > length) socket.unshift(all.subarray(length));
      resolve(all.subarray(0, length));
    };
    const onData = (b: Buffer) => {
      chunks.push(b);
      have += b.length;
      if (have >= length) done(null);
    };
    const onEnd = () => done(new HttpError(400, `the connection ended after ${have} of the body's ${length} bytes`));
    const timer = setTimeout(() => done(new HttpError(408, `the body's ${length} bytes did not arrive within ${timeoutMs / 1000} s`)), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.resume();
  });
}
