// The code `paastech login` prints (e.g. WDJB-MJHT), as a person may type it: any case, with or
// without the dash, with stray spaces.

/** The canonical form `XXXX-XXXX`, or null when the input cannot be a user code. */
export function normaliseUserCode(input: string): string | null {
  const compact = input.replace(/[\s-]/g, '').toUpperCase();
  if (!/^[A-Z0-9]{8}$/.test(compact)) return null;
  return `${compact.slice(0, 4)}-${compact.slice(4)}`;
}
