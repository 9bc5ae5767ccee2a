// A JSON parser that refuses what JSON.parse silently accepts: duplicate keys (the last one wins in
// JSON.parse, so a proxy and the API could read different values), `__proto__` keys, and nesting
// deep enough to exhaust the stack. Values are parsed by JSON.parse once the text is known safe.
import { InvalidArgumentError } from '@paastech/kit';

const MAX_DEPTH = 32;

/** Parses `text` as JSON; throws InvalidArgumentError naming the rule when it breaks one. */
export function parseStrictJson(text: string): unknown {
  const scanner = new Scanner(text);
  scanner.skipSpace();
  scanner.value(0);
  scanner.skipSpace();
  if (scanner.pos !== text.length) scanner.fail('unexpected text after the JSON value');
  return JSON.parse(text);
}

/** A single pass over the text that checks structure and keys without building values. */
class Scanner {
  pos = 0;
  constructor(private readonly text: string) {}

  /** Throws the 400 naming the broken rule and where. */
  fail(rule: string): never {
    throw new InvalidArgumentError(`request body is not valid JSON: ${rule} (at offset ${this.pos})`);
  }

  /** Moves past JSON whitespace. */
  skipSpace(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos] as string)) this.pos++;
  }

  /** Scans one value starting at pos. */
  value(depth: number): void {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    const c = this.text[this.pos];
    if (c === '{') this.object(depth);
    else if (c === '[') this.array(depth);
    else if (c === '"') this.string();
    else this.literal();
  }

  /** Scans a number, true, false or null. */
  literal(): void {
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(
      this.text.slice(this.pos, this.pos + 400),
    );
    if (!m) this.fail('expected a value');
    this.pos += m[0].length;
  }

  /** Scans an object, refusing duplicate and `__proto__` keys. */
  object(depth: number): void {
    this.pos++;
    const keys = new Set<string>();
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail('expected a quoted key');
      const key = this.string();
      if (keys.has(key)) this.fail(`duplicate key "${key.slice(0, 64)}"`);
      if (key === '__proto__') this.fail('key "__proto__" is not allowed');
      keys.add(key);
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      this.skipSpace();
      this.value(depth + 1);
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === '}') return;
      if (c !== ',') this.fail('expected "," or "}"');
    }
  }

  /** Scans an array. */
  array(depth: number): void {
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipSpace();
      this.value(depth + 1);
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === ']') return;
      if (c !== ',') this.fail('expected "," or "]"');
    }
  }

  /** Scans a string literal and returns its decoded value. */
  string(): string {
    const start = this.pos;
    this.pos++;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') break;
      if (c === '\\') this.pos++;
      else if (c < ' ') this.fail('control character in string');
      this.pos++;
    }
    this.pos++;
    try {
      return JSON.parse(this.text.slice(start, this.pos)) as string;
    } catch {
      this.fail('invalid escape in string');
    }
  }
}
