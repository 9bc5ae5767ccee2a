// Everything the CLI prints: results on stdout, progress and errors on stderr. Colours only on a TTY
// and never with NO_COLOR; spinners only on a TTY (plain progress lines otherwise).

/** A stream the CLI writes to (process.stdout/stderr, or a buffer in tests). */
export interface OutStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
};
export type Style = keyof typeof CODES;

/** Wraps text in an ANSI style. */
function paint(style: Style, text: string): string {
  const [on, off] = CODES[style];
  return `\u001b[${on}m${text}\u001b[${off}m`;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A running spinner: `stop('done')` replaces it with a final line. */
export interface Spinner {
  update(text: string): void;
  stop(final?: string): void;
}

export class Output {
  /** Colours on stdout / stderr: each only on a TTY, neither with NO_COLOR. */
  readonly color: boolean;
  private readonly errColor: boolean;
  constructor(
    readonly stdout: OutStream,
    readonly stderr: OutStream,
    options: { noColor: boolean },
  ) {
    this.color = !options.noColor && stdout.isTTY === true;
    this.errColor = !options.noColor && stderr.isTTY === true;
  }

  /** Wraps text in an ANSI style when colours are on. */
  style(style: Style, text: string): string {
    return this.color ? paint(style, text) : text;
  }

  /** Prints a line of result on stdout. */
  line(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  /** Prints a value as JSON on stdout (for --json). */
  json(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Prints a progress or status line on stderr. */
  info(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** Prints a warning on stderr. */
  warn(text: string): void {
    this.stderr.write(`${this.errStyle('yellow', 'warning:')} ${text}\n`);
  }

  /** Prints an error line and its hint on stderr. */
  error(message: string, hint?: string): void {
    this.stderr.write(`${this.errStyle('red', 'error:')} ${message}\n`);
    if (hint) this.stderr.write(`${this.errStyle('dim', 'hint:')} ${hint}\n`);
  }

  /** Prints rows as aligned columns with a header (or `empty` when there are no rows). */
  table(headers: string[], rows: string[][], empty: string): void {
    if (rows.length === 0) {
      this.line(empty);
      return;
    }
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const fmt = (cells: string[]) =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd();
    this.line(this.style('bold', fmt(headers)));
    for (const r of rows) this.line(fmt(r));
  }

  /** Shows `text` while something waits: an animated spinner on a TTY, plain progress lines otherwise. */
  spinner(text: string): Spinner {
    if (this.stderr.isTTY !== true) {
      this.info(`${text}…`);
      return { update: (t) => this.info(`${t}…`), stop: (final) => (final ? this.info(final) : undefined) };
    }
    let current = text;
    let frame = 0;
    const draw = () =>
      this.stderr.write(`\r\u001b[2K${this.errStyle('cyan', FRAMES[frame++ % FRAMES.length]!)} ${current}`);
    draw();
    const timer = setInterval(draw, 80);
    return {
      update: (t) => {
        current = t;
      },
      stop: (final) => {
        clearInterval(timer);
        this.stderr.write('\r\u001b[2K');
        if (final) this.info(final);
      },
    };
  }

  private errStyle(style: Style, text: string): string {
    return this.errColor ? paint(style, text) : text;
  }
}
