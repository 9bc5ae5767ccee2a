// A project's pages behind one header and tab bar: the project is loaded once here and each tab's
// feature gets what it needs.
import { ConfigPage } from '../features/config/components/config-page.js';
import { DomainsPage } from '../features/domains/components/domains-page.js';
import { getProject } from '../features/projects/api/projects.js';
import { ProjectOverview } from '../features/projects/components/project-overview.js';
import { DeleteProject } from '../features/settings/components/delete-project.js';
import { buildPath } from '../shared/route-match.js';
import { Link } from '../shared/router.js';
import { Page } from '../shared/ui/page.js';
import { ProblemNotice } from '../shared/ui/problem-notice.js';
import { Loading } from '../shared/ui/status.js';
import { useLoad } from '../shared/use-load.js';

export type ProjectTab = 'overview' | 'config' | 'domains' | 'settings';

const TABS: Array<{ tab: ProjectTab; label: string; path: string }> = [
  { tab: 'overview', label: 'Overview', path: '/projects/:name' },
  { tab: 'config', label: 'Config vars', path: '/projects/:name/config' },
  { tab: 'domains', label: 'Domains', path: '/projects/:name/domains' },
  { tab: 'settings', label: 'Settings', path: '/projects/:name/settings' },
];

/** The tab bar of a project. */
function Tabs({ name }: { name: string }) {
  return (
    <nav aria-label="Project">
      <ul className="tabs">
        {TABS.map((t) => (
          <li key={t.tab}>
            <Link to={buildPath(t.path, { name })}>{t.label}</Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** Project `name`, showing `tab`. */
export function ProjectPage({ name, tab }: { name: string; tab: ProjectTab }) {
  const project = useLoad(() => getProject(name), [name]);
  const label = TABS.find((t) => t.tab === tab)?.label ?? '';
  return (
    <Page title={tab === 'overview' ? name : `${name}: ${label}`}>
      <Tabs name={name} />
      {project.loading && !project.data ? <Loading label="Loading project…" /> : null}
      <ProblemNotice problem={project.problem} />
      {project.data && tab === 'overview' ? <ProjectOverview project={project.data} /> : null}
      {project.data && tab === 'config' ? <ConfigPage name={name} /> : null}
      {project.data && tab === 'domains' ? <DomainsPage name={name} appUrl={project.data.app_url} /> : null}
      {project.data && tab === 'settings' ? <DeleteProject name={name} /> : null}
    </Page>
  );
}
