// Console output is data, not commands: before it reaches a terminal, escape sequences that
// could rewrite the screen, retitle the window or move the cursor are shown, not obeyed.
// (`skiff logs` on a TTY; `--raw` and non-terminals get the bytes as written.)

/** Makes one control byte visible: ESC → "^[", CR → "^M", DEL → "^?". */
function caret(b: number): string {
  return b === 0x7f ? '^?' : `^${String.fromCharCode(b + 0x40)}`;
}

/**
 * Escapes a chunk for a terminal: every C0 control except newline and tab, DEL, and the C1
 * controls (0x80–0x9f as UTF-8 code points) become visible carets or \u escapes. A bare CR
 * (which lets output overwrite a line) is shown too; CR before LF is dropped, as a terminal
 * would show it anyway.
 */
export function escapeForTerminal(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x0a || ch === 0x09 || (ch >= 0x20 && ch < 0x7f)) out += text[i];
    else if (ch === 0x0d) out += text.charCodeAt(i + 1) === 0x0a ? '' : '^M';
    else if (ch < 0x20 || ch === 0x7f) out += caret(ch);
    else if (ch >= 0x80 && ch <= 0x9f) out += `\\u${ch.toString(16).padStart(4, '0')}`;
    else out += text[i];
  }
  return out;
}

/** A streaming escaper: keeps an incomplete UTF-8 sequence for the next chunk. */
export class TerminalEscaper {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  push(chunk: Buffer): string {
    return escapeForTerminal(this.decoder.decode(chunk, { stream: true }));
  }
}
