// A deployment state as a coloured badge with its word (colour is never the only signal).
import { stateTone } from '../deployment-state.js';

/** The state badge. */
export function StateBadge({ state }: { state: string }) {
  const tone = stateTone(state);
  const cls = tone === 'neutral' ? 'badge' : `badge badge-${tone}`;
  return <span className={cls}>{state}</span>;
}
