// What a deployment's state means on screen: in progress or done, and its badge's tone.

export type Tone = 'ok' | 'bad' | 'busy' | 'neutral';

const IN_PROGRESS = new Set(['queued', 'building', 'releasing']);

/** True while a deployment is still moving (queued, building, releasing). */
export function isInProgress(state: string): boolean {
  return IN_PROGRESS.has(state);
}

/** The badge tone of a state. */
export function stateTone(state: string): Tone {
  if (state === 'active') return 'ok';
  if (state === 'failed' || state === 'cancelled') return 'bad';
  if (IN_PROGRESS.has(state)) return 'busy';
  return 'neutral';
}

/** True when the project can go back to this deployment: it once ran and is not the one running. */
export function canRollBackTo(state: string): boolean {
  return state === 'superseded';
}

/** The short form of a commit id. */
export function shortSha(sha: string): string {
  return /^[0-9a-f]{7,}$/i.test(sha) ? sha.slice(0, 7) : sha;
}
