import { describe, expect, it } from 'vitest';
import {
  type ConfigRow,
  changeFrom,
  isEmptyChange,
  nameProblem,
  rowProblems,
  rowsFrom,
  valueProblem,
} from '../src/features/config/config-edit.js';

const row = (name: string, value: string, extra: Partial<ConfigRow> = {}): ConfigRow => ({
  id: `new:${name}:${value}`,
  name,
  value,
  removed: false,
  ...extra,
});

describe('config var editor', () => {
  it('turns adds, edits and removals into one change', () => {
    const loaded = { A: '1', B: '2', C: '3' };
    const rows = rowsFrom(loaded);
    rows[0]!.value = '10';
    rows[1]!.removed = true;
    rows.push(row('D', '4'));
    expect(changeFrom(loaded, rows)).toEqual({ set: { A: '10', D: '4' }, unset: ['B'] });
  });

  it('treats a rename as set new + unset old', () => {
    const loaded = { OLD: 'x' };
    const rows = rowsFrom(loaded);
    rows[0]!.name = 'NEW';
    expect(changeFrom(loaded, rows)).toEqual({ set: { NEW: 'x' }, unset: ['OLD'] });
  });

  it('sees nothing to save when nothing changed', () => {
    const loaded = { A: '1' };
    expect(isEmptyChange(changeFrom(loaded, rowsFrom(loaded)))).toBe(true);
  });

  it('flags a name used twice', () => {
    const rows = [row('A', '1'), row('A', '2')];
    expect([...rowProblems(rows).values()]).toEqual(['name "A" is used twice']);
  });

  it.each([
    ['', /required/],
    ['lower', /upper case/],
    ['1ABC', /not start with a digit/],
    ['A-B', /upper case/],
    ['A B', /upper case/],
    ['$(rm -rf /)', /upper case/],
    ['PORT', /reserved/],
    ['PAASTECH_TOKEN', /reserved/],
    ['Ａ', /upper case/],
    ['A'.repeat(256), /at most 255/],
  ])('refuses the name %j', (name, rule) => {
    expect(nameProblem(name)).toMatch(rule);
  });

  it.each(['A', '_X', 'DATABASE_URL', 'A1'])('accepts the name %s', (name) => {
    expect(nameProblem(name)).toBeUndefined();
  });

  it('refuses a value over 32 KiB counted in UTF-8 bytes', () => {
    expect(valueProblem('é'.repeat(16 * 1024 + 1))).toMatch(/32 KiB/);
    expect(valueProblem('x'.repeat(32 * 1024))).toBeUndefined();
  });
});
