// A project's pages behind one header and tab bar: the project is loaded once here and each tab's
// feature gets what it needs. This is where features meet (they never import each other).
import type { ReactNode } from 'react';
import { ConfigPage } from '../features/config/components/config-page.js';
import { DeploymentPage } from '../features/deployments/components/deployment-page.js';
import { DeploymentsPage } from '../features/deployments/components/deployments-page.js';
import { RecentDeployments } from '../features/deployments/components/recent-deployments.js';
import { DomainsPage } from '../features/domains/components/domains-page.js';
import { LogsPage } from '../features/logs/components/logs-page.js';
import { getProject, type Project } from '../features/projects/api/projects.js';
import { ProjectOverview } from '../features/projects/components/project-overview.js';
import { ScalePage } from '../features/scale/components/scale-page.js';
import { StatusCard } from '../features/scale/components/status-card.js';
import { DeleteProject } from '../features/settings/components/delete-project.js';
import { SettingsPanel } from '../features/settings/components/settings-form.js';
import { buildPath } from '../shared/route-match.js';
import { Link, usePathname } from '../shared/router.js';
import { Page } from '../shared/ui/page.js';
import { ProblemNotice } from '../shared/ui/problem-notice.js';
import { Loading } from '../shared/ui/status.js';
import { useLoad } from '../shared/use-load.js';

export type ProjectTab = 'overview' | 'deployments' | 'logs' | 'config' | 'domains' | 'scale' | 'settings';

const TABS: Array<{ tab: ProjectTab; label: string; path: string }> = [
  { tab: 'overview', label: 'Overview', path: '/projects/:name' },
  { tab: 'deployments', label: 'Deployments', path: '/projects/:name/deployments' },
  { tab: 'logs', label: 'Logs', path: '/projects/:name/logs' },
  { tab: 'config', label: 'Config vars', path: '/projects/:name/config' },
  { tab: 'domains', label: 'Domains', path: '/projects/:name/domains' },
  { tab: 'scale', label: 'Scale', path: '/projects/:name/scale' },
  { tab: 'settings', label: 'Settings', path: '/projects/:name/settings' },
];

/** The tab bar of a project (a deployment's page counts as the Deployments tab). */
function Tabs({ name, tab }: { name: string; tab: ProjectTab }) {
  const pathname = usePathname();
  return (
    <nav aria-label="Project">
      <ul className="tabs">
        {TABS.map((t) => {
          const to = buildPath(t.path, { name });
          const current = t.tab === tab && pathname !== to ? 'true' : undefined;
          return (
            <li key={t.tab}>
              <Link to={to} aria-current={current}>
                {t.label}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

/** The content of one tab. */
function TabContent({
  project,
  tab,
  deployment,
}: {
  project: Project;
  tab: ProjectTab;
  deployment?: number;
}) {
  const { name } = project;
  const content: Record<ProjectTab, () => ReactNode> = {
    overview: () => (
      <>
        <StatusCard name={name} />
        <RecentDeployments name={name} />
        <ProjectOverview project={project} />
      </>
    ),
    deployments: () =>
      deployment !== undefined ? (
        <DeploymentPage name={name} number={deployment} />
      ) : (
        <DeploymentsPage name={name} />
      ),
    logs: () => <LogsPage name={name} />,
    config: () => <ConfigPage name={name} />,
    domains: () => <DomainsPage name={name} appUrl={project.app_url} />,
    scale: () => <ScalePage name={name} />,
    settings: () => (
      <>
        <SettingsPanel name={name} />
        <DeleteProject name={name} />
      </>
    ),
  };
  return <>{content[tab]()}</>;
}

/** Project `name`, showing `tab` (and deployment vN on the deployments tab). */
export function ProjectPage({
  name,
  tab,
  deployment,
}: {
  name: string;
  tab: ProjectTab;
  deployment?: number;
}) {
  const project = useLoad(() => getProject(name), [name]);
  const label = TABS.find((t) => t.tab === tab)?.label ?? '';
  const title =
    deployment !== undefined ? `${name}: v${deployment}` : tab === 'overview' ? name : `${name}: ${label}`;
  return (
    <Page title={title}>
      <Tabs name={name} tab={tab} />
      {project.loading && !project.data ? <Loading label="Loading project…" /> : null}
      <ProblemNotice problem={project.problem} />
      {project.data ? <TabContent project={project.data} tab={tab} deployment={deployment} /> : null}
    </Page>
  );
}
