// What a push does. Invariant: only the deploy branch deploys — refs/heads/main, or
// refs/heads/master when the repository has no main (neither before the push nor created by it) —
// and the deploy branch is never deleted by a push, so it always names what is deployed.
export const MAIN = 'refs/heads/main';
export const MASTER = 'refs/heads/master';

/** The object id git uses for "no object" (ref created or deleted). */
const ZERO_SHA = /^0+$/;

/** Push option that records the push without deploying it. */
export const SKIP_DEPLOY = 'skip-deploy';

/** One `<old> <new> <ref>` line of a push. */
export interface RefChange {
  oldSha: string;
  newSha: string;
  refName: string;
}

/** The decision about one push. */
export type PushDecision =
  | { kind: 'deploy'; refName: string; commitSha: string }
  | { kind: 'not-deployed'; reason: string }
  | { kind: 'rejected'; reason: string };

/** True when a ref update deletes the ref. */
export function isDeletion(change: RefChange): boolean {
  return ZERO_SHA.test(change.newSha);
}

/** Which of the two possible deploy branches exist in the repository before the push. */
export interface ExistingBranches {
  main: boolean;
  master: boolean;
}

/** True when the push creates or moves `ref`. */
function pushes(changes: readonly RefChange[], ref: string): boolean {
  return changes.some((c) => c.refName === ref && !isDeletion(c));
}

/** The deploy branch: main when it exists or is pushed, else master when that does, else main. */
export function deployBranch(changes: readonly RefChange[], existing: ExistingBranches): string {
  if (existing.main || pushes(changes, MAIN)) return MAIN;
  if (existing.master || pushes(changes, MASTER)) return MASTER;
  return MAIN;
}

/** Short name of a branch ref, for messages. */
function shortName(ref: string): string {
  return ref.replace(/^refs\/heads\//, '');
}

/** Decides what a push does, given the deploy branches that existed before it. */
export function decidePush(
  changes: readonly RefChange[],
  options: readonly string[],
  existing: ExistingBranches,
): PushDecision {
  const branch = deployBranch(changes, existing);
  const update = changes.find((c) => c.refName === branch);
  const only = `only ${shortName(branch)} deploys`;
  if (update && isDeletion(update))
    return {
      kind: 'rejected',
      reason: `branch "${shortName(branch)}" is the deploy branch: it cannot be deleted`,
    };
  if (!update) return { kind: 'not-deployed', reason: `stored, not deployed (${only})` };
  if (options.includes(SKIP_DEPLOY))
    return { kind: 'not-deployed', reason: `stored, not deployed (push option ${SKIP_DEPLOY})` };
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(update.newSha))
    return {
      kind: 'rejected',
      reason: `ref "${shortName(branch)}": "${update.newSha.slice(0, 80)}" is not a full object id`,
    };
  return { kind: 'deploy', refName: branch, commitSha: update.newSha };
}
