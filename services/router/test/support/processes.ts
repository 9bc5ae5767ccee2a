// Finds the HAProxy processes a test router started (by the data dir on their command line).
import { execFileSync } from 'node:child_process';

/** Pids of haproxy processes whose command line mentions `dir`. */
export function haproxiesIn(dir: string): number[] {
  return execFileSync('ps', ['-eo', 'pid=,args='])
    .toString()
    .split('\n')
    .filter((l) => l.includes('haproxy') && l.includes(dir))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}
