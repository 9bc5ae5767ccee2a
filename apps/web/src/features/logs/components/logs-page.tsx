// Live logs of a project: follows new lines (auto-scroll), filters by source, searches, pauses
// (lines keep arriving and are shown on resume). Lines are React text nodes: markup an app prints
// is shown, never interpreted.
import { useEffect, useMemo, useRef, useState } from 'react';
import { type Problem, toProblem } from '../../../shared/problem.js';
import { sseJson } from '../../../shared/sse.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { EmptyState } from '../../../shared/ui/status.js';
import { followLogs } from '../api/logs.js';
import { appendBounded, filterLines, type LogLine, sourceGroups } from '../log-lines.js';

let seq = 0;

/** Connects to the log stream; returns every line received and the connection's state. */
function useLogStream(name: string) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [status, setStatus] = useState<'connecting' | 'live' | 'ended'>('connecting');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [attempt, setAttempt] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `attempt` restarts the stream on purpose.
  useEffect(() => {
    const abort = new AbortController();
    setStatus('connecting');
    setProblem(null);
    setLines([]);
    const pending: LogLine[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Lines are batched per animation-frame-sized tick so a burst does not re-render per line.
    const flush = () => {
      timer = undefined;
      const batch = pending.splice(0);
      setLines((ls) => appendBounded(ls, batch));
    };
    followLogs(
      name,
      (m) => {
        setStatus('live');
        const e = sseJson(m) as
          | { time?: string; source?: string; text?: string; detail?: string }
          | undefined;
        if (m.event === 'log' && e && typeof e.text === 'string') {
          pending.push({ seq: ++seq, time: e.time ?? '', source: e.source ?? '', text: e.text });
          timer ??= setTimeout(flush, 50);
        } else if (m.event === 'error') {
          setProblem({ status: 500, title: 'log stream failed', detail: e?.detail ?? 'log stream failed' });
        }
      },
      abort.signal,
    ).then(
      () => {
        if (!abort.signal.aborted) setStatus('ended');
      },
      (error: unknown) => {
        setProblem(toProblem(error));
        setStatus('ended');
      },
    );
    return () => {
      abort.abort();
      if (timer) clearTimeout(timer);
    };
  }, [name, attempt]);
  return { lines, status, problem, reconnect: () => setAttempt((a) => a + 1) };
}

/** The logs tab of project `name`. */
export function LogsPage({ name }: { name: string }) {
  const stream = useLogStream(name);
  const [source, setSource] = useState('');
  const [search, setSearch] = useState('');
  const [paused, setPaused] = useState<LogLine[] | null>(null);
  const [follow, setFollow] = useState(true);
  const view = useRef<HTMLPreElement>(null);

  const base = paused ?? stream.lines;
  const shown = useMemo(() => filterLines(base, source, search), [base, source, search]);
  const groups = useMemo(() => sourceGroups(stream.lines), [stream.lines]);
  const waiting = paused ? stream.lines.length - paused.length : 0;

  useEffect(() => {
    const el = view.current;
    if (el && follow && !paused && shown.length > 0) el.scrollTop = el.scrollHeight;
  }, [shown, follow, paused]);

  return (
    <section aria-labelledby="logs-title">
      <h2 id="logs-title">Logs</h2>
      <div className="log-controls">
        <div className="field">
          <label htmlFor="log-source">Source</label>
          <select id="log-source" value={source} onChange={(e) => setSource(e.target.value)}>
            <option value="">All sources</option>
            {groups.map((g) => (
              <option key={g} value={g}>
                {g}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="log-search">Search</label>
          <input id="log-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </div>
        <label className="checkbox">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <button
          type="button"
          className="button button-secondary"
          aria-pressed={paused !== null}
          onClick={() => setPaused(paused ? null : stream.lines)}
        >
          {paused ? `Resume${waiting > 0 ? ` (${waiting} new)` : ''}` : 'Pause'}
        </button>
      </div>
      <p className="muted" role="status">
        {stream.status === 'connecting'
          ? 'Connecting to the log stream…'
          : stream.status === 'live'
            ? `Live · ${shown.length} of ${base.length} lines shown`
            : 'The log stream ended.'}
        {stream.status === 'ended' ? (
          <button type="button" className="button button-small button-secondary" onClick={stream.reconnect}>
            Reconnect
          </button>
        ) : null}
      </p>
      <ProblemNotice problem={stream.problem} />
      {stream.status !== 'connecting' && base.length === 0 ? (
        <EmptyState title="No log lines yet">
          <p>Build output and your app's output appear here as they are written.</p>
        </EmptyState>
      ) : (
        <pre
          className="log"
          ref={view}
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard to scroll it.
          tabIndex={0}
          role="log"
          aria-live="off"
          aria-label={`Logs of ${name}`}
        >
          {shown.map((l) => (
            <span className="log-line" key={l.seq}>
              <span className="log-time">{l.time ? new Date(l.time).toLocaleTimeString() : ''}</span>
              <span className="log-source">{l.source}</span>
              {l.text}
              {'\n'}
            </span>
          ))}
        </pre>
      )}
    </section>
  );
}
