// Reading a request's JSON body, bounded in size and nesting.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

export const MAX_BODY_BYTES = 1 << 20;

/**
 * Deeper than any body skiff reads (a fleet body nests about 7 levels), far shallower than
 * what would overflow the stack of code that walks a body recursively.
 */
export const MAX_JSON_DEPTH = 100;

/** The nesting depth of JSON text, counted without parsing it (so without recursion). */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return max;
}

/** Reads a JSON body, bounded; 413 beyond `max` bytes, 400 for malformed JSON; null when empty. */
export function readJson(req: IncomingMessage, max = MAX_BODY_BYTES): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      reject(new HttpError(413, `request body too large (${declared} bytes; the limit is ${max})`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new HttpError(413, `request body too large (more than ${max} bytes)`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      try {
        resolve(parseJsonBody(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/** A body's text as JSON: null when empty, 400 when malformed or nested too deep. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return null;
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new HttpError(400, `malformed JSON body: nested more than ${MAX_JSON_DEPTH} levels deep`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, `malformed JSON body: ${(err as Error).message}`);
  }
}
