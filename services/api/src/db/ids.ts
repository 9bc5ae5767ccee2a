// Identifiers and timestamps generated in JS so that both databases store the same values.
import { randomBytes } from 'node:crypto';

/** A UUIDv7 (RFC 9562): time-ordered, so new rows land at the end of primary-key indexes. */
export function newId(now: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | ((b[6] ?? 0) & 0x0f);
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The current time (or `ms`) as the ISO-8601 UTC text every timestamp column holds. */
export function isoNow(ms: number = Date.now()): string {
  return new Date(ms).toISOString();
}
