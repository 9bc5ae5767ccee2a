// The route table: which page answers which path.
import type { ReactNode } from 'react';
import { matchRoute, type RouteParams } from '../shared/route-match.js';
import { Link, usePathname } from '../shared/router.js';
import { Page } from '../shared/ui/page.js';

interface Route {
  path: string;
  render: (params: RouteParams) => ReactNode;
}

const ROUTES: Route[] = [];

/** The page shown for an unknown path. */
function NotFound() {
  return (
    <Page title="Page not found">
      <p>There is nothing at this address.</p>
      <Link to="/">Go to your projects</Link>
    </Page>
  );
}

/** Renders the first route matching the current path. */
export function Routes() {
  const pathname = usePathname();
  for (const route of ROUTES) {
    const params = matchRoute(route.path, pathname);
    if (params) return <>{route.render(params)}</>;
  }
  return <NotFound />;
}
