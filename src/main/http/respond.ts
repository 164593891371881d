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
}

export function nodeReply(res: ServerResponse): Reply {
  return {
    send: (status, body) => send(res, status, body),
    head: () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION });
      res.flushHeaders();
    },
    end: (text) => res.end(text),
  };
}

/** Docker's 8-byte stream header: stream type, 3 zero bytes, big-endian length. */
export function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}
