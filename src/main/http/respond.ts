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

/** Docker's 8-byte stream header: stream type, 3 zero bytes, big-endian length. */
export function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}
