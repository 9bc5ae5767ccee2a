// Opening a URL in the user's browser: only with a graphical session, through xdg-open with the URL
// as one argument (never a shell string); failing to open is never an error, the URL is printed anyway.
import { spawn } from 'node:child_process';

/** Tries to open `url` in a browser; resolves true when xdg-open was started. */
export function openBrowser(url: string, hasDisplay: boolean): Promise<boolean> {
  if (!hasDisplay || !/^https?:\/\//.test(url)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}
