// The overview's "Traffic" card: requests the router counted for the project.
import { Fragment } from 'react';
import { timeAgo } from '../../../shared/format.js';
import { EmptyState } from '../../../shared/ui/status.js';
import { type Traffic, trafficFacts } from '../traffic.js';

/** Request counts since the platform started, or an empty state before the first request. */
export function TrafficCard({ traffic }: { traffic: Traffic | undefined }) {
  const facts = trafficFacts(traffic);
  return (
    <section className="card" aria-labelledby="traffic-title">
      <h2 id="traffic-title">Traffic</h2>
      {facts.length === 0 ? (
        <EmptyState title="No traffic yet">
          <p>Requests to the app show up here a few seconds after the router counts them.</p>
        </EmptyState>
      ) : (
        <>
          <dl className="facts" aria-label="Request counts">
            {facts.map((f) => (
              <Fragment key={f.label}>
                <dt>{f.label}</dt>
                <dd>{f.value}</dd>
              </Fragment>
            ))}
          </dl>
          {traffic ? (
            <p className="muted">
              Counted since the platform started (
              <time dateTime={traffic.counted_since}>{timeAgo(traffic.counted_since)}</time>).
            </p>
          ) : null}
        </>
      )}
    </section>
  );
}
