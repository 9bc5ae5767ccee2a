// Calls a function every `ms` while the component is mounted (lists that change on the server).
import { useEffect } from 'react';

/** Runs `tick` every `ms` milliseconds; `ms` null pauses. */
export function useInterval(tick: () => void, ms: number | null): void {
  useEffect(() => {
    if (ms === null) return;
    const timer = setInterval(tick, ms);
    return () => clearInterval(timer);
  }, [tick, ms]);
}
