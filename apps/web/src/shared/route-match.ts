// Matches a pathname against a route pattern such as `/projects/:name/logs`. Pure, so the router's
// rules (exact segments, one parameter per segment, undecodable input refused) are table-tested.

export type RouteParams = Record<string, string>;

/** Returns the pattern's parameters when `pathname` matches it exactly, else null. */
export function matchRoute(pattern: string, pathname: string): RouteParams | null {
  const want = splitPath(pattern);
  const got = splitPath(pathname);
  if (want.length !== got.length) return null;
  const params: RouteParams = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(':')) {
      const value = safeDecode(g);
      if (value === null || value === '' || value.includes('/')) return null;
      params[w.slice(1)] = value;
    } else if (w !== g) {
      return null;
    }
  }
  return params;
}

/** Splits a path into its non-empty segments (a trailing slash is ignored). */
function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/** decodeURIComponent that answers null instead of throwing on malformed escapes. */
function safeDecode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** Builds a path from a pattern, encoding every parameter: `/projects/:name` + {name} → `/projects/x`. */
export function buildPath(pattern: string, params: RouteParams = {}): string {
  return pattern.replace(/:([A-Za-z_]\w*)/g, (_, key: string) => encodeURIComponent(params[key] ?? ''));
}
