// Questions on the terminal (e-mail, password, confirmations); hidden input for passwords.
import readline from 'node:readline';

/** Asks `question` on stderr and reads one line from stdin; `hidden` echoes nothing (passwords). */
export function ask(question: string, hidden = false): Promise<string> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    // readline echoes through _writeToOutput; print the question once and nothing of the answer.
    const internals = rl as unknown as { _writeToOutput(s: string): void };
    let shown = false;
    internals._writeToOutput = (s: string) => {
      if (!shown) process.stderr.write(question);
      shown = true;
      if (s.includes('\n')) process.stderr.write('\n');
    };
  }
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer);
    });
  });
}
