// Which project a git remote URL points at: the last path segment without ".git", accepted only when
// it is a valid project name (a DNS label), so a URL never smuggles anything else into a request.

const PROJECT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** True when `name` has the shape of a project name (the API checks reserved names). */
export function isProjectName(name: string): boolean {
  return PROJECT_NAME.test(name);
}

/** The project named by a remote URL (http(s), ssh:// or scp-like user@host:name.git), or undefined. */
export function projectFromRemoteUrl(url: string): string | undefined {
  const pathPart = remotePath(url.trim());
  if (pathPart === undefined) return undefined;
  const last = pathPart.replace(/\/+$/, '').split('/').pop() ?? '';
  if (!last.endsWith('.git')) return undefined;
  const name = last.slice(0, -'.git'.length);
  return isProjectName(name) ? name : undefined;
}

/** The path of a remote URL, or undefined for forms that cannot be ours (file paths, ext::, options). */
function remotePath(url: string): string | undefined {
  if (/^(https?|ssh):\/\//i.test(url)) {
    try {
      const parsed = new URL(url);
      if (parsed.search || parsed.hash) return undefined;
      return parsed.pathname;
    } catch {
      return undefined;
    }
  }
  const scp = /^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:(?!\/\/)(.+)$/.exec(url);
  return scp && !url.startsWith('-') ? scp[1] : undefined;
}
