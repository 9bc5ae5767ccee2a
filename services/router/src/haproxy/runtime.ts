// A client of HAProxy's Runtime API (the stats socket): one command per connection, serialised.
import net from 'node:net';

/** HAProxy refused a command; the message is its answer. */
export class RuntimeApiError extends Error {}

/** Answers HAProxy gives to commands that did not take effect. */
const FAILURE =
  /^(Unknown command|No such|Require|Invalid|Can't|Cannot|Failed|Unexpected|'[^']+' is not|Missing|Error|Unable|Server is still|This command|Too many|No server|Out of memory)/m;

export class RuntimeApi {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly socketPath: string) {}

  /** Sends one command (with an optional `<<` payload) and resolves with HAProxy's answer. */
  send(command: string, payload?: string): Promise<string> {
    const run = () => this.exchange(payload === undefined ? `${command}\n` : `${command} <<\n${payload}\n\n`);
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Like send, but rejects with RuntimeApiError when HAProxy says the command failed. */
  async must(command: string, payload?: string): Promise<string> {
    return this.check(command, await this.send(command, payload));
  }

  /** Returns `answer`, or throws RuntimeApiError when it says `command` failed. */
  check(command: string, answer: string): string {
    if (FAILURE.test(answer.trim())) throw new RuntimeApiError(`haproxy "${command}": ${answer.trim()}`);
    return answer;
  }

  /** One connection: write the request, read until HAProxy closes. */
  private exchange(request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socketPath);
      let answer = '';
      socket.setTimeout(10_000, () => socket.destroy(new Error('haproxy runtime API timed out')));
      socket.on('connect', () => socket.write(request));
      socket.on('data', (b) => {
        answer += b.toString();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(answer));
    });
  }
}
