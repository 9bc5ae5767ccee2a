import { describe, expect, it } from 'vitest';
import { pushCommands, shellQuote } from '../src/features/projects/git-commands.js';

describe('git commands', () => {
  it('prints the remote and push lines for a clone URL', () => {
    expect(pushCommands('http://127.0.0.1:3001/shop.git')).toEqual([
      'git remote add paastech http://127.0.0.1:3001/shop.git',
      'git push paastech main',
    ]);
    expect(pushCommands('ssh://git@127.0.0.1:2222/shop.git')[0]).toBe(
      'git remote add paastech ssh://git@127.0.0.1:2222/shop.git',
    );
  });

  it.each([
    ['http://h/x.git; rm -rf ~', `'http://h/x.git; rm -rf ~'`],
    ['$(id)', `'$(id)'`],
    ["it's", `'it'\\''s'`],
    ['', `''`],
    ['a`b`', `'a\`b\`'`],
  ])('quotes the hostile value %j', (value, quoted) => {
    expect(shellQuote(value)).toBe(quoted);
  });
});
