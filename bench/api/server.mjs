#!/usr/bin/env node
// The server side of the API benchmark: the built API and git controller in one process (the
// project list asks the git controller for clone URLs), configured from the environment like
// paastechd, with rate limits lifted so the login measurement is not throttled. Prints one JSON
// line {"url": …} once ready; stops on SIGTERM.
import { readApiConfig, startApi } from '@paastech/api';
import { readGitControllerConfig, startGitController } from '@paastech/git-controller';
import { createLogger } from '@paastech/kit';

const UNLIMITED = { max: 1e9, windowMs: 1000 };
const api = readApiConfig();
const git = readGitControllerConfig();
const log = { level: 'warn', format: 'json', destination: process.stderr };
const gitHandle = startGitController(git, createLogger('git', log));
await gitHandle.ready;
const apiHandle = startApi(
  {
    ...api,
    rateLimits: { loginPerIp: UNLIMITED, loginPerAccount: UNLIMITED, signupPerIp: UNLIMITED },
  },
  createLogger('api', log),
);
await apiHandle.ready;
console.log(JSON.stringify({ url: apiHandle.endpoints()[0].url.replace(/\/$/, '') }));
for (const sig of ['SIGTERM', 'SIGINT'])
  process.on(sig, async () => {
    await apiHandle.stop();
    await gitHandle.stop();
    process.exit(0);
  });
