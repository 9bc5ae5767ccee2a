// Scale: instances per process type (0..10 each, 20 in all), applied at once without a new
// deployment; the running instances; restart.
import { type FormEvent, useEffect, useState } from 'react';
import { type Problem, toProblem } from '../../../shared/problem.js';
import { Field } from '../../../shared/ui/field.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { Loading } from '../../../shared/ui/status.js';
import { useInterval } from '../../../shared/use-interval.js';
import { useLoad } from '../../../shared/use-load.js';
import { getFormation, getStatus, restart, setFormation } from '../api/scale.js';
import { countProblem, formationFrom, processTypes } from '../formation.js';
import { InstancesTable } from './instances-table.js';

/** How often the instances table refreshes (instances start, crash and restart on their own). */
const STATUS_REFRESH_MS = 3000;

/** The scale tab of project `name`. */
export function ScalePage({ name }: { name: string }) {
  const formation = useLoad(() => getFormation(name), [name]);
  const status = useLoad(() => getStatus(name), [name]);
  const [current, setCurrent] = useState<Record<string, number>>();
  const [counts, setCounts] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState<'scale' | 'restart' | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [done, setDone] = useState('');

  useInterval(status.reload, STATUS_REFRESH_MS);
  const runningTypes = [...new Set(status.data?.instances.map((i) => i.process_type) ?? [])].sort().join(' ');

  useEffect(() => {
    if (formation.data) setCurrent(formation.data);
  }, [formation.data]);

  // The form shows the formation as loaded or as last saved, plus any type seen running.
  useEffect(() => {
    if (!current) return;
    const defaults = Object.keys(current).length === 0 ? { web: 1 } : current;
    const types = processTypes(current, runningTypes ? runningTypes.split(' ') : []);
    setCounts(Object.fromEntries(types.map((t) => [t, String(defaults[t] ?? 0)])));
  }, [current, runningTypes]);

  const problems = Object.fromEntries(Object.entries(counts).map(([t, v]) => [t, countProblem(v)]));
  const { formation: wanted, problem: totalProblem } = formationFrom(counts);
  const invalid = Object.values(problems).some(Boolean) || totalProblem !== undefined;

  const run = async (kind: 'scale' | 'restart', action: () => Promise<unknown>, message: string) => {
    setBusy(kind);
    setProblem(null);
    setDone('');
    try {
      await action();
      setDone(message);
      status.reload();
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(null);
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!invalid) void run('scale', async () => setCurrent(await setFormation(name, wanted)), 'Scaled.');
  };

  return (
    <>
      <form className="card" onSubmit={submit} noValidate aria-labelledby="scale-title">
        <h2 id="scale-title">Scale</h2>
        <ProblemNotice problem={problem ?? formation.problem} />
        {done ? (
          <p className="notice notice-ok" role="status">
            {done}
          </p>
        ) : null}
        {formation.loading && !formation.data ? <Loading label="Loading formation…" /> : null}
        {Object.keys(counts).map((type) => (
          <Field
            key={type}
            label={`${type} instances`}
            type="number"
            inputMode="numeric"
            min={0}
            max={10}
            value={counts[type]}
            onChange={(e) => setCounts((c) => ({ ...c, [type]: e.target.value }))}
            error={problems[type]}
          />
        ))}
        {totalProblem ? <p className="field-error">{totalProblem}</p> : null}
        <div className="button-row">
          <button
            className="button"
            type="submit"
            disabled={busy !== null || invalid}
            aria-busy={busy === 'scale'}
          >
            {busy === 'scale' ? 'Scaling…' : 'Scale'}
          </button>
          <button
            className="button button-secondary"
            type="button"
            disabled={busy !== null}
            onClick={() => run('restart', () => restart(name), 'Restart under way.')}
          >
            {busy === 'restart' ? 'Restarting…' : 'Restart all instances'}
          </button>
        </div>
      </form>
      <section aria-labelledby="instances-title">
        <h2 id="instances-title">Instances</h2>
        {status.loading && !status.data ? <Loading label="Loading instances…" /> : null}
        <ProblemNotice problem={status.problem} />
        {status.data ? <InstancesTable status={status.data} /> : null}
      </section>
    </>
  );
}
