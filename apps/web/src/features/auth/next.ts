// Where to go after signing in: only a same-origin path, so `?next=` cannot send a person to
// another site (an open redirect).

/** `next` when it is a local path ("/…" but not "//…" or "/\…"), else "/". */
export function safeNext(next: string | null | undefined): string {
  if (!next?.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if ([...next].some((c) => c.charCodeAt(0) < 0x20)) return '/';
  return next;
}
