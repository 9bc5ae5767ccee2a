import { describe, expect, it } from 'vitest';
import {
  canRollBackTo,
  isInProgress,
  shortSha,
  stateTone,
} from '../src/features/deployments/deployment-state.js';
import {
  countProblem,
  formationFrom,
  formatUptime,
  processTypes,
  showsNodes,
} from '../src/features/scale/formation.js';

describe('deployment states', () => {
  it.each([
    ['queued', true, 'busy'],
    ['building', true, 'busy'],
    ['releasing', true, 'busy'],
    ['active', false, 'ok'],
    ['failed', false, 'bad'],
    ['cancelled', false, 'bad'],
    ['superseded', false, 'neutral'],
    ['<b>odd</b>', false, 'neutral'],
  ])('%s: in progress %s, tone %s', (state, busy, tone) => {
    expect(isInProgress(state)).toBe(busy);
    expect(stateTone(state)).toBe(tone);
  });

  it('offers rollback only to deployments that ran before', () => {
    expect(['superseded', 'active', 'failed', 'building'].filter(canRollBackTo)).toEqual(['superseded']);
  });

  it('shortens commit ids and leaves anything else alone', () => {
    expect(shortSha('c0ffee0000000000000000000000000000000000')).toBe('c0ffee0');
    expect(shortSha('')).toBe('');
  });
});

describe('scale form', () => {
  it('lists web first, then the other types', () => {
    expect(processTypes({ worker: 1 }, ['clock', 'web'])).toEqual(['web', 'clock', 'worker']);
  });

  it.each([
    ['', 'must be a whole number'],
    ['-1', 'must be a whole number'],
    ['1.5', 'must be a whole number'],
    ['1e3', 'must be a whole number'],
    ['11', 'must be at most 10'],
    ['0', undefined],
    ['10', undefined],
  ])('count %j: %s', (text, problem) => {
    expect(countProblem(text)).toBe(problem);
  });

  it('refuses more than 20 instances in all', () => {
    expect(formationFrom({ web: '10', worker: '10' }).problem).toBeUndefined();
    expect(formationFrom({ web: '10', worker: '10', clock: '1' }).problem).toBe(
      'at most 20 instances in all',
    );
    expect(formationFrom({ web: '2', worker: '0' }).formation).toEqual({ web: 2, worker: 0 });
  });

  it.each([
    [null, ''],
    [5, '5s'],
    [125, '2m'],
    [7500, '2h 5m'],
    [90000, '1d 1h'],
  ])('uptime %j is %s', (seconds, text) => {
    expect(formatUptime(seconds)).toBe(text);
  });
});

describe('the Node column of the instances table', () => {
  it.each([
    ['no instances', [], false],
    ['local runtime: node null', [{ node: null }, { node: null }], false],
    ['an API older than the field', [{}], false],
    ['empty names', [{ node: '' }], false],
    ['swarm runtime', [{ node: 'manager-1' }, { node: 'w2' }], true],
    ['one instance not yet placed', [{ node: null }, { node: 'w2' }], true],
  ])('%s: %s', (_name, instances, shown) => {
    expect(showsNodes(instances)).toBe(shown);
  });
});
