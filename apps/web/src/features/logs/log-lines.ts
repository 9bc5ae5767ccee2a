// The log viewer's model: a bounded buffer of lines and the filters (source, search) applied to it.
// Lines stay plain strings end to end; the viewer renders them as text nodes, never as HTML.

export interface LogLine {
  /** Sequence number for React keys (lines can repeat). */
  seq: number;
  time: string;
  source: string;
  text: string;
}

/** Most lines kept in the page; older ones drop off the top. */
export const MAX_LINES = 5000;

/** The process-type part of a source: `web.2` → `web`, `build` → `build`. */
export function sourceGroup(source: string): string {
  const dot = source.indexOf('.');
  return dot > 0 ? source.slice(0, dot) : source;
}

/** Appends `incoming` and drops the oldest lines beyond `max`. */
export function appendBounded(lines: LogLine[], incoming: LogLine[], max: number = MAX_LINES): LogLine[] {
  const all = incoming.length === 0 ? lines : lines.concat(incoming);
  return all.length > max ? all.slice(all.length - max) : all;
}

/** Lines of the chosen source group ('' = all) containing `search` (case-insensitive). */
export function filterLines(lines: LogLine[], source: string, search: string): LogLine[] {
  const needle = search.trim().toLowerCase();
  return lines.filter(
    (line) =>
      (source === '' || sourceGroup(line.source) === source) &&
      (needle === '' || line.text.toLowerCase().includes(needle)),
  );
}

/** The distinct source groups seen, sorted, for the filter's options. */
export function sourceGroups(lines: LogLine[]): string[] {
  return [...new Set(lines.map((l) => sourceGroup(l.source)))].sort();
}
