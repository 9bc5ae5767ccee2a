import { describe, expect, it } from 'vitest';
import { execForm, parseProcfile } from '../src/domain/procfile.js';

describe('parseProcfile', () => {
  it.each([
    ['web only', 'web: node server.js\n', { processes: { web: 'node server.js' } }],
    [
      'web and worker',
      'web: node a.js\nworker: node b.js',
      { processes: { web: 'node a.js', worker: 'node b.js' } },
    ],
    ['release apart', 'release: ./migrate\nweb: x', { processes: { web: 'x' }, release: './migrate' }],
    [
      'comments and blanks',
      '# comment\n\n  \nweb: x # not a comment\n',
      { processes: { web: 'x # not a comment' } },
    ],
    ['CRLF line ends', 'web: node s.js\r\nworker: w\r\n', { processes: { web: 'node s.js', worker: 'w' } }],
    ['BOM', '\uFEFFweb: x', { processes: { web: 'x' } }],
    ['colons in the command', 'web: node -e "a:b"', { processes: { web: 'node -e "a:b"' } }],
    ['upper case type', 'Web: x', { processes: { web: 'x' } }],
    ['dashes and underscores', 'my-worker_2: x', { processes: { 'my-worker_2': 'x' } }],
    ['empty file', '', { processes: {} }],
    [
      'shell metacharacters stay data',
      'web: a; rm -rf / && $(id)',
      { processes: { web: 'a; rm -rf / && $(id)' } },
    ],
  ])('%s', (_name, text, expected) => {
    expect(parseProcfile(text)).toEqual(expected);
  });

  it.each([
    ['no colon', 'web node server.js', 'Procfile line 1: "web node server.js": expected "<type>: <command>"'],
    ['empty command', 'web:', 'Procfile line 1: process type "web" has no command'],
    ['duplicate type', 'web: a\n\nweb: b', 'Procfile line 3: process type "web" is declared twice'],
    [
      'duplicate after case folding',
      'web: a\nWEB: b',
      'Procfile line 2: process type "web" is declared twice',
    ],
    [
      'duplicate release',
      'release: a\nrelease: b',
      'Procfile line 2: process type "release" is declared twice',
    ],
    ['space in type', 'my web: x', 'Procfile line 1: process type "my web" must be'],
    ['option-like type', '--privileged: x', 'Procfile line 1: process type "--privileged" must be'],
    ['path-like type', '../etc: x', 'Procfile line 1: process type "../etc" must be'],
    ['proto pollution', '__proto__: x', 'Procfile line 1: process type "__proto__" must be'],
    ['empty type', ': x', 'Procfile line 1: process type "" must be'],
    ['NUL in command', 'web: a\0b', 'Procfile line 1: command contains a NUL byte'],
    ['too long type', `${'a'.repeat(31)}: x`, 'Procfile line 1: process type'],
    ['line number after CRLF lines', 'web: a\r\n# c\r\nbad line\r\n', 'Procfile line 3:'],
  ])('rejects %s', (_name, text, message) => {
    expect(() => parseProcfile(text)).toThrow(message);
  });

  it('names the offending line in the error violations', () => {
    try {
      parseProcfile('web: a\nnope');
      expect.unreachable();
    } catch (err) {
      expect((err as { violations: unknown[] }).violations).toEqual([
        { field: 'Procfile:2', message: '"nope": expected "<type>: <command>"' },
      ]);
    }
  });
});

describe('execForm (the shell becomes the app when the command is one plain simple command)', () => {
  it.each([
    ['node server.js', 'exec node server.js'],
    ['npm start', 'exec npm start'],
    ['gunicorn -b 0.0.0.0:$PORT app:app', 'exec gunicorn -b 0.0.0.0:$PORT app:app'],
    ['./bin/web --port=$PORT', 'exec ./bin/web --port=$PORT'],
    ["node -e 'x'", "exec node -e 'x'"],
    // Run as written: operators, redirections, globs, groups, tabs, several commands.
    ['node a.js && node b.js', 'node a.js && node b.js'],
    ['node a.js; node b.js', 'node a.js; node b.js'],
    ['node a.js | tee log', 'node a.js | tee log'],
    ['node a.js > out', 'node a.js > out'],
    ['node a.js &', 'node a.js &'],
    ['node *.js', 'node *.js'],
    ['(node a.js)', '(node a.js)'],
    ['node\tserver.js', 'node\tserver.js'],
    ['node a.js\nnode b.js', 'node a.js\nnode b.js'],
    // The program is not a literal word naming a program: a built-in, an assignment, an expansion.
    ['cd web && node server.js', 'cd web && node server.js'],
    ['cd web', 'cd web'],
    ['exec node server.js', 'exec node server.js'],
    ['PORT=1 node server.js', 'PORT=1 node server.js'],
    ['$CMD --flag', '$CMD --flag'],
    ["'cd' x", "'cd' x"],
    ['echo hi', 'echo hi'],
    ['true', 'true'],
    ['. ./env.sh', '. ./env.sh'],
    ['chdir /tmp', 'chdir /tmp'],
    ['time node server.js', 'time node server.js'],
    ['source ./env.sh', 'source ./env.sh'],
    ['', ''],
  ])('%j → %j', (command, expected) => {
    expect(execForm(command)).toBe(expected);
  });
});
