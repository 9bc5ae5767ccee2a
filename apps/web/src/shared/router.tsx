// A tiny client-side router over the History API: the dashboard has a dozen routes, which does not
// justify a routing library in the first page's JavaScript.
import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();
let navigated = false;

/** Tells every subscriber that the location changed. */
function notify(): void {
  navigated = true;
  for (const listener of listeners) listener();
}

/** True once the person moved within the app (not on the page the browser first loaded). */
export function hasNavigated(): boolean {
  return navigated;
}

/** Subscribes to location changes (pushState through navigate, and back/forward). */
function subscribe(listener: () => void): () => void {
  const onPop = () => {
    navigated = true;
    listener();
  };
  listeners.add(listener);
  window.addEventListener('popstate', onPop);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', onPop);
  };
}

/** Goes to `to` (a same-origin path) without reloading the page. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.scrollTo(0, 0);
  notify();
}

/** The current pathname, re-rendering on navigation. */
export function usePathname(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname);
}

/** The current query string's parameters, re-rendering on navigation. */
export function useSearchParams(): URLSearchParams {
  const search = useSyncExternalStore(subscribe, () => window.location.search);
  return new URLSearchParams(search);
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string };

/** An anchor that navigates in-app on a plain left click and behaves as a normal link otherwise. */
export function Link({ to, onClick, 'aria-current': ariaCurrent, ...rest }: LinkProps) {
  const pathname = usePathname();
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  const current = ariaCurrent ?? (pathname === to ? 'page' : undefined);
  return <a href={to} aria-current={current} onClick={handle} {...rest} />;
}
