// Domains routed to a project: add (the API checks the hostname's rules), list, remove.
import { type FormEvent, useState } from 'react';
import { timeAgo } from '../../../shared/format.js';
import { fieldError, type Problem, toProblem } from '../../../shared/problem.js';
import { Field } from '../../../shared/ui/field.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { EmptyState, Loading } from '../../../shared/ui/status.js';
import { useLoad } from '../../../shared/use-load.js';
import { addDomain, listDomains, removeDomain } from '../api/domains.js';

/** The domains page of project `name`. */
export function DomainsPage({ name, appUrl }: { name: string; appUrl: string }) {
  const domains = useLoad(() => listDomains(name), [name]);
  const [hostname, setHostname] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  const run = async (key: string, action: () => Promise<unknown>) => {
    setBusy(key);
    setProblem(null);
    try {
      await action();
      domains.reload();
      return true;
    } catch (error) {
      setProblem(toProblem(error));
      return false;
    } finally {
      setBusy(null);
    }
  };
  const add = async (event: FormEvent) => {
    event.preventDefault();
    if (await run('add', () => addDomain(name, hostname.trim()))) setHostname('');
  };

  return (
    <section className="card" aria-labelledby="domains-title">
      <h2 id="domains-title">Domains</h2>
      <p className="muted">
        The app always answers at <code>{new URL(appUrl).host}</code>. Add your own hostnames and point their
        DNS at this server.
      </p>
      <ProblemNotice problem={problem ?? domains.problem} />
      <form onSubmit={add} noValidate>
        <Field
          label="Hostname"
          placeholder="www.example.com"
          value={hostname}
          autoCapitalize="none"
          spellCheck={false}
          onChange={(e) => setHostname(e.target.value)}
          error={fieldError(problem, 'hostname')}
        />
        <button className="button" type="submit" disabled={busy !== null || hostname.trim() === ''}>
          {busy === 'add' ? 'Adding domain…' : 'Add domain'}
        </button>
      </form>
      {domains.loading && !domains.data ? <Loading label="Loading domains…" /> : null}
      {domains.data?.length === 0 ? <EmptyState title="No custom domains yet" /> : null}
      {domains.data && domains.data.length > 0 ? (
        <ul className="plain-list">
          {domains.data.map((d) => (
            <li key={d.hostname}>
              <span className="mono">{d.hostname}</span>
              <span className="muted"> added {timeAgo(d.created_at)}</span>
              <button
                type="button"
                className="button button-secondary button-small"
                disabled={busy !== null}
                onClick={() => run(d.hostname, () => removeDomain(name, d.hostname))}
              >
                {busy === d.hostname ? 'Removing…' : 'Remove'}
                <span className="visually-hidden"> {d.hostname}</span>
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
