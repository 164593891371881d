// Splits a Compose `command:` / `entrypoint:` string into argv the way a POSIX shell
// splits words, and nothing more: quotes and backslashes are honoured, but there is no
// variable, glob or command expansion and no operators (`a && b` is four words), which is
// what Docker Compose does too. To run shell syntax, use `sh -c '…'`.

export class ShellWordsError extends Error {
  /** index into the string where the problem starts */
  readonly index: number;
  constructor(message: string, index: number) {
    super(message);
    this.name = 'ShellWordsError';
    this.index = index;
  }
}

// Inside double quotes a backslash escapes only these (POSIX 2.2.3); elsewhere it is literal.
const DQ_ESCAPABLE = '$`"\\\n';

export function shellSplit(s: string): string[] {
  const words: string[] = [];
  let word = '';
  // A word exists once anything, even an empty '' pair, has been seen: `a '' b` is three words.
  let inWord = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new ShellWordsError('unterminated single quote', i);
      word += s.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      const start = i++;
      inWord = true;
      for (;;) {
        if (i >= s.length) throw new ShellWordsError('unterminated double quote', start);
        const d = s[i] as string;
        if (d === '"') {
          i++;
          break;
        }
        const next = s[i + 1];
        if (d === '\\' && next !== undefined && DQ_ESCAPABLE.includes(next)) {
          if (next !== '\n') word += next; // backslash-newline is a line continuation
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
    } else if (c === '\\') {
      const next = s[i + 1];
      if (next === undefined) throw new ShellWordsError('ends with a lone backslash', i);
      if (next !== '\n') {
        word += next;
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
