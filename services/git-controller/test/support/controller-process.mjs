// Runs the built git controller as a process of its own, for the tests that kill it (SIGKILL) in the
// middle of a push. Prints one line `ready <json endpoints>` once every listener is bound.
import { readGitControllerConfig, startGitController } from '../../dist/index.js';

const handle = startGitController(readGitControllerConfig(process.env));
await handle.ready;
process.stdout.write(`ready ${JSON.stringify(handle.endpoints())}\n`);
process.on('SIGTERM', () => {
  handle.stop().then(() => process.exit(0));
});
