// The build output stored with a deployment. Invariant: it never exceeds OUTPUT_MAX_BYTES — the
// first lines (what was built) and the last lines (why it failed) are kept, the middle is replaced
// by one line saying how many lines were left out.
/** Largest stored build output. */
export const OUTPUT_MAX_BYTES = 256 * 1024;
/** Longest stored line; longer lines are cut. */
const LINE_MAX = 2000;
/** Share of the budget kept for the first lines. */
const HEAD_SHARE = 0.25;

/** Accumulates the lines of a build, bounded. */
export class BuildOutput {
  private readonly head: string[] = [];
  private readonly tail: string[] = [];
  private headBytes = 0;
  private tailBytes = 0;
  private omitted = 0;

  constructor(private readonly maxBytes = OUTPUT_MAX_BYTES) {}

  /** Adds one line (without terminator). */
  add(line: string): void {
    const text = line.length > LINE_MAX ? `${line.slice(0, LINE_MAX)}…` : line;
    const bytes = Buffer.byteLength(text) + 1;
    if (
      this.omitted === 0 &&
      this.tail.length === 0 &&
      this.headBytes + bytes <= this.maxBytes * HEAD_SHARE
    ) {
      this.head.push(text);
      this.headBytes += bytes;
      return;
    }
    this.tail.push(text);
    this.tailBytes += bytes;
    while (this.tailBytes > this.maxBytes * (1 - HEAD_SHARE) - 100 && this.tail.length > 1) {
      this.tailBytes -= Buffer.byteLength(this.tail.shift()!) + 1;
      this.omitted++;
    }
  }

  /** The last `n` lines. */
  last(n: number): string[] {
    return [...this.head, ...this.tail].slice(-n);
  }

  /** The stored text. */
  text(): string {
    const middle = this.omitted > 0 ? [`… ${this.omitted} lines omitted …`] : [];
    return [...this.head, ...middle, ...this.tail].join('\n');
  }
}
