// The route table: which page answers which path, and which pages need a signed-in account
// (visitors are sent to log in and brought back afterwards).
import { type ReactNode, useEffect } from 'react';
import { AuthForm } from '../features/auth/components/auth-form.js';
import { DevicePage } from '../features/device/components/device-page.js';
import { CreateProjectPage } from '../features/projects/components/create-project-page.js';
import { ProjectsPage } from '../features/projects/components/projects-page.js';
import { SshKeysPage } from '../features/ssh-keys/components/ssh-keys-page.js';
import { TokensPage } from '../features/tokens/components/tokens-page.js';
import { matchRoute, type RouteParams } from '../shared/route-match.js';
import { Link, navigate, usePathname } from '../shared/router.js';
import { useSession } from '../shared/session.js';
import { Page } from '../shared/ui/page.js';
import { Loading } from '../shared/ui/status.js';
import { ProjectPage } from './project-page.js';

interface Route {
  path: string;
  /** true = only for a signed-in account; false = only for visitors. */
  signedIn: boolean;
  render: (params: RouteParams) => ReactNode;
}

const ROUTES: Route[] = [
  { path: '/login', signedIn: false, render: () => <AuthForm mode="login" /> },
  { path: '/signup', signedIn: false, render: () => <AuthForm mode="signup" /> },
  { path: '/', signedIn: true, render: () => <ProjectsPage /> },
  { path: '/projects/new', signedIn: true, render: () => <CreateProjectPage /> },
  ...(['overview', 'deployments', 'logs', 'config', 'domains', 'scale', 'settings'] as const).map((tab) => ({
    path: tab === 'overview' ? '/projects/:name' : `/projects/:name/${tab}`,
    signedIn: true,
    render: (p: RouteParams) => <ProjectPage name={p.name!} tab={tab} />,
  })),
  {
    path: '/projects/:name/deployments/:number',
    signedIn: true,
    render: (p) => <ProjectPage name={p.name!} tab="deployments" deployment={deploymentNumber(p.number)} />,
  },
  { path: '/device', signedIn: true, render: () => <DevicePage /> },
  { path: '/account/tokens', signedIn: true, render: () => <TokensPage /> },
  { path: '/account/ssh-keys', signedIn: true, render: () => <SshKeysPage /> },
];

/** vN from the address; 0 (no such deployment) for anything that is not a positive integer. */
function deploymentNumber(text: string | undefined): number {
  return text && /^[1-9]\d{0,9}$/.test(text) ? Number(text) : 0;
}

/** The page shown for an unknown path. */
function NotFound() {
  return (
    <Page title="Page not found">
      <p>There is nothing at this address.</p>
      <Link to="/">Go to your projects</Link>
    </Page>
  );
}

/** Sends the browser elsewhere once rendered (redirects must not happen during render). */
function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return <Loading label="Redirecting…" />;
}

/** Renders the first route matching the current path, enforcing its sign-in requirement. */
export function Routes() {
  const pathname = usePathname();
  const { account } = useSession();
  for (const route of ROUTES) {
    const params = matchRoute(route.path, pathname);
    if (!params) continue;
    if (account === undefined) return <Loading label="Checking your session…" />;
    if (route.signedIn && account === null) {
      const here = `${pathname}${window.location.search}`;
      return <Redirect to={`/login?next=${encodeURIComponent(here)}`} />;
    }
    return <>{route.render(params)}</>;
  }
  return <NotFound />;
}
