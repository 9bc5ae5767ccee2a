// Project settings: health check path, builder, buildpack, outside-world access and per-instance limits,
// saved as one change (the API validates and names the rule a field breaks).
import { type FormEvent, useEffect, useState } from 'react';
import { fieldError, type Problem, toProblem } from '../../../shared/problem.js';
import { Field } from '../../../shared/ui/field.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { Loading } from '../../../shared/ui/status.js';
import { useLoad } from '../../../shared/use-load.js';
import { getSettings, saveSettings } from '../api/settings.js';
import { changeFrom, formFrom, LIMIT_FIELDS, type LimitField, type SettingsForm } from '../settings-form.js';

const BUILDERS = ['auto', 'node', 'static', 'python', 'procfile'] as const;
const LIMIT_LABELS: Record<LimitField, [string, string]> = {
  memory_mb: ['Memory (MiB)', '16–1048576; empty = platform default (512)'],
  cpu_millicores: ['CPU (millicores)', '1000 = one core; empty = platform default (1000)'],
  max_processes: ['Processes', 'empty = platform default (256)'],
  disk_mb: ['Disk (MiB)', 'size of /tmp; empty = platform default (1024)'],
};

/** The settings form of project `name`. */
export function SettingsPanel({ name }: { name: string }) {
  const loaded = useLoad(() => getSettings(name), [name]);
  const [form, setForm] = useState<SettingsForm | null>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    if (loaded.data) setForm(formFrom(loaded.data));
  }, [loaded.data]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!form) return;
    setBusy(true);
    setProblem(null);
    setSaved(false);
    try {
      setForm(formFrom(await saveSettings(name, changeFrom(form))));
      setSaved(true);
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <p className="muted">Changes apply at the next deployment; outside-world access changes at once.</p>
      <ProblemNotice problem={problem ?? loaded.problem} />
      {!form ? <Loading label="Loading settings…" /> : null}
      {form ? (
        <form onSubmit={save} noValidate>
          <Field
            label="Health check path"
            placeholder="/healthz"
            hint="new web instances must answer it with 2xx/3xx; empty = the port accepting connections"
            value={form.healthCheckPath}
            spellCheck={false}
            onChange={(e) => setForm({ ...form, healthCheckPath: e.target.value })}
            error={fieldError(problem, 'health_check_path')}
          />
          <div className="field">
            <label htmlFor="settings-builder">Builder</label>
            <select
              id="settings-builder"
              value={form.builder}
              onChange={(e) => setForm({ ...form, builder: e.target.value as SettingsForm['builder'] })}
            >
              {BUILDERS.map((b) => (
                <option key={b} value={b}>
                  {b === 'auto' ? 'auto (detect)' : b}
                </option>
              ))}
            </select>
          </div>
          <Field
            label="Buildpack"
            placeholder="auto-detect"
            hint="name of a buildpack installed on this platform, or an https:// git URL (optionally #ref); it builds instead of the builder; empty = auto-detect"
            value={form.buildpack}
            spellCheck={false}
            autoCapitalize="off"
            autoComplete="off"
            onChange={(e) => setForm({ ...form, buildpack: e.target.value })}
            error={fieldError(problem, 'buildpack')}
          />
          <div className="field">
            <label>
              <input
                type="checkbox"
                checked={form.egress}
                onChange={(e) => setForm({ ...form, egress: e.target.checked })}
              />{' '}
              Allow outside-world access (builds that download dependencies need it)
            </label>
          </div>
          {LIMIT_FIELDS.map((f) => (
            <Field
              key={f}
              label={LIMIT_LABELS[f][0]}
              hint={LIMIT_LABELS[f][1]}
              inputMode="numeric"
              value={form.limits[f]}
              onChange={(e) => setForm({ ...form, limits: { ...form.limits, [f]: e.target.value } })}
              error={fieldError(problem, `limits.${f}`)}
            />
          ))}
          <button className="button" type="submit" disabled={busy}>
            {busy ? 'Saving…' : 'Save settings'}
          </button>
          {saved ? (
            <p role="status" className="muted">
              Saved.
            </p>
          ) : null}
        </form>
      ) : null}
    </section>
  );
}
