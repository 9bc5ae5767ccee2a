// Config vars: add, edit, rename and remove several, then save them as ONE change. Values are
// masked until revealed, one by one or all at once.
import { type FormEvent, useEffect, useState } from 'react';
import { type Problem, toProblem } from '../../../shared/problem.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { EmptyState, Loading } from '../../../shared/ui/status.js';
import { useLoad } from '../../../shared/use-load.js';
import { changeConfig, getConfig } from '../api/config.js';
import { type ConfigRow, changeFrom, isEmptyChange, rowProblems, rowsFrom } from '../config-edit.js';

let nextId = 0;

/** One editable row: name, masked value, reveal and remove toggles. */
function VarRow(props: {
  row: ConfigRow;
  problem?: string;
  revealed: boolean;
  onChange: (row: ConfigRow) => void;
  onReveal: () => void;
}) {
  const { row, problem, revealed, onChange, onReveal } = props;
  const label = row.name || 'new variable';
  const errorId = `var-error-${row.id}`;
  return (
    <tr className={row.removed ? 'removed' : undefined}>
      <td>
        <input
          aria-label={`Name of ${label}`}
          value={row.name}
          disabled={row.removed}
          spellCheck={false}
          autoCapitalize="characters"
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? errorId : undefined}
          onChange={(e) => onChange({ ...row, name: e.target.value })}
        />
        {problem ? (
          <p id={errorId} className="field-error">
            {problem}
          </p>
        ) : null}
      </td>
      <td>
        <input
          aria-label={`Value of ${label}`}
          type={revealed ? 'text' : 'password'}
          autoComplete="off"
          spellCheck={false}
          value={row.value}
          disabled={row.removed}
          onChange={(e) => onChange({ ...row, value: e.target.value })}
        />
      </td>
      <td className="row-actions">
        <button type="button" className="button button-secondary button-small" onClick={onReveal}>
          {revealed ? 'Hide' : 'Reveal'}
          <span className="visually-hidden"> {label}</span>
        </button>
        <button
          type="button"
          className="button button-secondary button-small"
          onClick={() => onChange({ ...row, removed: !row.removed })}
        >
          {row.removed ? 'Undo remove' : 'Remove'}
          <span className="visually-hidden"> {label}</span>
        </button>
      </td>
    </tr>
  );
}

/** The config vars page of project `name`. */
export function ConfigPage({ name }: { name: string }) {
  const loaded = useLoad(() => getConfig(name), [name]);
  const [vars, setVars] = useState<Record<string, string>>({});
  const [rows, setRows] = useState<ConfigRow[]>([]);
  const [revealed, setRevealed] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState('');

  useEffect(() => {
    if (!loaded.data) return;
    setVars(loaded.data);
    setRows(rowsFrom(loaded.data));
  }, [loaded.data]);

  const problems = rowProblems(rows);
  const change = changeFrom(vars, rows);
  const dirty = !isEmptyChange(change);
  const update = (row: ConfigRow) => setRows((rs) => rs.map((r) => (r.id === row.id ? row : r)));
  const toggle = (id: string) =>
    setRevealed((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const add = () => {
    const id = `new:${++nextId}`;
    setRows((rs) => [...rs, { id, name: '', value: '', removed: false }]);
    setRevealed((s) => new Set(s).add(id));
    setSaved('');
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (problems.size > 0 || !dirty) return;
    setBusy(true);
    setProblem(null);
    try {
      const result = await changeConfig(name, change);
      setVars(result);
      setRows(rowsFrom(result));
      setRevealed(new Set());
      const count = Object.keys(change.set).length + change.unset.length;
      setSaved(`Saved ${count} change${count === 1 ? '' : 's'} as one update.`);
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(false);
    }
  };

  if (loaded.loading && !loaded.data) return <Loading label="Loading config vars…" />;
  if (loaded.problem && !loaded.data) return <ProblemNotice problem={loaded.problem} />;
  const allRevealed = rows.length > 0 && rows.every((r) => revealed.has(r.id));
  return (
    <form className="card" onSubmit={save} noValidate aria-labelledby="config-title">
      <h2 id="config-title">Config vars</h2>
      <p className="muted">
        Environment variables of the app, encrypted at rest. Saving applies every change below at once.
      </p>
      <ProblemNotice problem={problem} />
      {saved && !dirty ? (
        <p className="notice notice-ok" role="status">
          {saved}
        </p>
      ) : null}
      {rows.length === 0 ? (
        <EmptyState title="No config vars yet">
          <p>Add variables such as DATABASE_URL; the app reads them from its environment.</p>
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Value</th>
                <th scope="col">
                  <button
                    type="button"
                    className="button button-secondary button-small"
                    onClick={() => setRevealed(allRevealed ? new Set() : new Set(rows.map((r) => r.id)))}
                  >
                    {allRevealed ? 'Hide all' : 'Reveal all'}
                  </button>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <VarRow
                  key={row.id}
                  row={row}
                  problem={problems.get(row.id)}
                  revealed={revealed.has(row.id)}
                  onChange={update}
                  onReveal={() => toggle(row.id)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="button-row">
        <button type="button" className="button button-secondary" onClick={add}>
          Add variable
        </button>
        <button
          type="submit"
          className="button"
          disabled={busy || !dirty || problems.size > 0}
          aria-busy={busy}
        >
          {busy ? 'Saving…' : 'Save changes'}
        </button>
        {dirty ? (
          <button type="button" className="button button-secondary" onClick={() => setRows(rowsFrom(vars))}>
            Discard changes
          </button>
        ) : null}
      </div>
    </form>
  );
}
