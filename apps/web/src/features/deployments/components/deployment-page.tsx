// One deployment: its state and build output. While it is in progress, state changes, build steps
// and output lines stream in live (server-sent events); every line is rendered as text.
import { useEffect, useRef, useState } from 'react';
import { timeAgo } from '../../../shared/format.js';
import { type Problem, toProblem } from '../../../shared/problem.js';
import { sseJson } from '../../../shared/sse.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { Loading } from '../../../shared/ui/status.js';
import { useLoad } from '../../../shared/use-load.js';
import { followDeployment, getDeployment } from '../api/deployments.js';
import { isInProgress, shortSha } from '../deployment-state.js';
import { StateBadge } from './state-badge.js';

interface LiveEvent {
  state?: string;
  failure_reason?: string | null;
  title?: string;
  text?: string;
  source?: string;
  detail?: string;
}

/** Follows vN while it runs; returns the live state, the streamed lines and a stream problem. */
function useLiveDeployment(
  name: string,
  number: number,
  initialState: string | undefined,
  onEnd: () => void,
) {
  const [state, setState] = useState<string>();
  const [failure, setFailure] = useState<string | null>(null);
  const [lines, setLines] = useState<string[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const live = initialState !== undefined && isInProgress(initialState);
  useEffect(() => {
    if (!live) return;
    const abort = new AbortController();
    const onMessage = (m: { event: string; data: string }) => {
      const e = (sseJson(m) ?? {}) as LiveEvent;
      if (m.event === 'state' && e.state) {
        setState(e.state);
        if (e.failure_reason) setFailure(e.failure_reason);
      } else if (m.event === 'step' && e.title) setLines((ls) => [...ls, `-----> ${e.title}`]);
      else if (m.event === 'log' && typeof e.text === 'string') setLines((ls) => [...ls, e.text!]);
      else if (m.event === 'error' && e.detail)
        setProblem({ status: 500, title: 'stream failed', detail: e.detail });
    };
    followDeployment(name, number, onMessage, abort.signal).then(
      () => {
        if (!abort.signal.aborted) onEnd();
      },
      (error: unknown) => setProblem(toProblem(error)),
    );
    return () => abort.abort();
  }, [name, number, live, onEnd]);
  return { state, failure, lines, problem };
}

/** Deployment vN of project `name`. */
export function DeploymentPage({ name, number }: { name: string; number: number }) {
  const detail = useLoad(() => getDeployment(name, number), [name, number]);
  const live = useLiveDeployment(name, number, detail.data?.state, detail.reload);
  const output = useRef<HTMLPreElement>(null);
  const state = live.state ?? detail.data?.state;
  const failure = live.failure ?? detail.data?.failure_reason ?? null;
  // The event stream replays from the start, so while live its lines are the whole output; once
  // finished, the stored output (what the API kept) is authoritative.
  const stored = detail.data?.build_output;
  const finished = detail.data !== undefined && !isInProgress(detail.data.state);
  const lines =
    finished && stored ? stored.split('\n') : live.lines.length > 0 ? live.lines : (stored ?? '').split('\n');

  useEffect(() => {
    const el = output.current;
    if (el && lines.length > 0) el.scrollTop = el.scrollHeight;
  }, [lines.length]);

  if (detail.loading && !detail.data) return <Loading label={`Loading v${number}…`} />;
  if (!detail.data) return <ProblemNotice problem={detail.problem} />;
  const d = detail.data;
  return (
    <section aria-labelledby="deployment-title">
      <h2 id="deployment-title">
        v{d.number} <StateBadge state={state ?? d.state} />
      </h2>
      <ProblemNotice problem={live.problem ?? detail.problem} />
      <dl className="facts">
        <dt>Commit</dt>
        <dd>
          <code>{shortSha(d.commit_sha)}</code> ({d.ref_name})
        </dd>
        <dt>Reason</dt>
        <dd>{d.reason}</dd>
        <dt>Created</dt>
        <dd>{timeAgo(d.created_at)}</dd>
        {d.finished_at ? (
          <>
            <dt>Finished</dt>
            <dd>{timeAgo(d.finished_at)}</dd>
          </>
        ) : null}
      </dl>
      {failure ? (
        <div className="notice notice-error" role="alert">
          <p className="notice-title">{failure}</p>
          <p className="notice-hint">
            The previous deployment keeps serving. Fix the cause (see the output below) and push again.
          </p>
        </div>
      ) : null}
      {state && isInProgress(state) ? <Loading label={`Deployment is ${state}…`} /> : null}
      <h3>Build output</h3>
      <pre
        className="log"
        ref={output}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard to scroll it.
        tabIndex={0}
        role="log"
        aria-live="off"
        aria-label={`Build output of v${d.number}`}
      >
        {lines.map((line, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: output lines only ever get appended.
          <span className="log-line" key={i}>
            {line}
            {'\n'}
          </span>
        ))}
      </pre>
    </section>
  );
}
