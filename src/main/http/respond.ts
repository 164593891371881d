// Writing an answer: JSON with Docker's headers, and the 8-byte frames of a multiplexed stream.
import type { ServerResponse } from 'node:http';

export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.24';

export function send(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (body === undefined) {
    res.writeHead(status, { 'Api-Version': API_VERSION });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Api-Version': API_VERSION });
  res.end(text);
}

/**
 * An answer as the container lifecycle's handlers give it, whether it goes out through Node's
 * ServerResponse (`nodeReply`) or the lean path's own writes (`lean.ts`): the same handler code
 * serves both.
 */
export interface Reply {
  /** the whole answer: a status, and a JSON body unless undefined (after `head`, only ends the body) */
  send(status: number, body?: unknown): void;
  /** a 200's headers now, its JSON body later through `end` (a wait: Docker's early headers) */
  head(): void;
  /** the body after `head`, and the end of the answer */
  end(text: string): void;
  /**
   * A whole answer of another type than JSON: `fields` (Content-Length among them) in this
   * order, then Api-Version, then `body` (empty for a HEAD: the length says what a GET's would be, or not)
   */
  text(status: number, fields: Readonly<Record<string, string>>, body: string): void;
}

/**
 * GET and HEAD /_ping's answer, as Docker's (moby's pingHandler): `OK` as text with its length,
 * and a HEAD's `Content-Length: 0`, the no-cache headers, and the API version, the OS and
 * experimental flag the Docker CLI reads from it. The lean path (lean.ts) answers it too: a
 * Docker CLI pings first on each connection, and a connection Node's server has served once
 * stays there.
 */
export function ping(method: 'GET' | 'HEAD', reply: Reply): void {
  reply.text(200, method === 'HEAD' ? PING_HEAD : PING_GET, method === 'HEAD' ? '' : 'OK');
}

const pingFields = (length: number): Readonly<Record<string, string>> => ({
  'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(length),
  'Docker-Experimental': 'false', Ostype: 'linux', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache',
});
const PING_GET = pingFields(2);
const PING_HEAD = pingFields(0);

export function nodeReply(res: ServerResponse): Reply {
  return {
    send: (status, body) => send(res, status, body),
    head: () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION });
      res.flushHeaders();
    },
    end: (text) => res.end(text),
    text: (status, fields, body) => {
      res.writeHead(status, { ...fields, 'Api-Version': API_VERSION });
      res.end(body);
    },
  };
}

/** Docker's 8-byte stream header: stream type, 3 zero bytes, big-endian length. */
export function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}
