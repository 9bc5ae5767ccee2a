// A tenant's Dockerfile may not build from another project's images (rules as table tests; host
// names resolve through a table standing in for DNS, and through the system's resolver for names
// this machine resolves itself).
import { describe, expect, it } from 'vitest';
import {
  dockerfileInstructions,
  dockerfileRefsProblem,
  dockerfileRegistryHosts,
  platformRegistryHosts,
  type Resolve,
} from '../../src/runtime/swarm/dockerfile-refs.js';

const REGISTRY = '127.0.0.1:5000';
const OWN = 'alpha';
/** Name → addresses, as a resolver would answer (nothing leaves this machine). */
const NAMES: Record<string, string[]> = {
  localhost: ['127.0.0.1', '::1'],
  vm: ['127.0.0.1'],
  'localtest.me': ['127.0.0.1'],
  'registry.internal': ['10.9.0.5'],
  'ghcr.io': ['140.82.112.33'],
  '127.1': ['127.0.0.1'],
};
const resolve: Resolve = async (host) => NAMES[host] ?? [];
const check = async (text: string, registry = REGISTRY) =>
  dockerfileRefsProblem(
    text,
    await platformRegistryHosts(dockerfileRegistryHosts(text), registry, resolve),
    OWN,
  );

describe('images a Dockerfile may name', () => {
  it.each([
    ['the base image', 'FROM paastech/base:latest\nRUN true'],
    ['a Docker Hub image', 'FROM node:20-bookworm'],
    ['another registry', 'FROM ghcr.io/acme/app:1.2 AS build'],
    ["the project's own image", `FROM ${REGISTRY}/${OWN}:v3`],
    ["the project's own image by digest", `FROM ${REGISTRY}/${OWN}@sha256:${'a'.repeat(64)}`],
    [
      'an earlier stage',
      'FROM paastech/base AS build\nRUN make\nFROM paastech/base\nCOPY --from=build /out /app',
    ],
    ['a stage by index', 'FROM paastech/base\nFROM paastech/base\nCOPY --from=0 /a /b'],
    ['a platform flag', 'FROM --platform=linux/amd64 paastech/base'],
    ['comments and continuations', '# FROM 127.0.0.1:5000/beta:v1\nFROM \\\n  paastech/base'],
  ])('allows %s', async (_case, text) => {
    expect(await check(text)).toBeNull();
  });

  it.each([
    ["another project's image", `FROM ${REGISTRY}/beta:v1`, "only this project's own images"],
    [
      'upper-case registry spelling',
      'FROM 127.0.0.1:5000/beta:v1'.replace('FROM', 'from'),
      "only this project's own",
    ],
    ['localhost spelling', 'FROM localhost:5000/beta:v1', "only this project's own"],
    ['another loopback address', 'FROM 127.0.0.2:5000/beta', "only this project's own"],
    ['IPv6 loopback', 'FROM [::1]:5000/beta:v2', "only this project's own"],
    ['a prefix of its own name', `FROM ${REGISTRY}/${OWN}x:v1`, "only this project's own"],
    ['a nested path', `FROM ${REGISTRY}/${OWN}/../beta:v1`, "only this project's own"],
    [
      'COPY --from another project',
      `FROM paastech/base\nCOPY --from=${REGISTRY}/beta:v1 /app /stolen`,
      'COPY --from',
    ],
    [
      'RUN --mount from another project',
      `FROM paastech/base\nRUN --mount=type=bind,from=${REGISTRY}/beta:v1,target=/x ls /x`,
      'RUN --from',
    ],
    ['an image id', `FROM sha256:${'b'.repeat(64)}`, 'image ids are not allowed'],
    ['a short image id', 'FROM 0123456789ab', 'image ids are not allowed'],
    ['a variable', 'ARG BASE=paastech/base\nFROM $BASE', 'may not use variables'],
    ['a braced variable in --from', `FROM paastech/base\nCOPY --from=\${X} /a /b`, 'may not use variables'],
    ['continued FROM line', `FROM \\\n ${REGISTRY}/beta:v1`, "only this project's own"],
    ['a name resolving to loopback', 'FROM vm:5000/beta:v1', "only this project's own"],
    ['a public name resolving to loopback', 'FROM localtest.me:5000/beta:v1', "only this project's own"],
    ['a short loopback address', 'FROM 127.1:5000/beta:v1', "only this project's own"],
    ['the unspecified address', 'FROM 0.0.0.0:5000/beta:v1', "only this project's own"],
  ])('refuses %s', async (_case, text, message) => {
    expect(await check(text)).toContain(message);
  });

  it("refuses another name of a registry on a private address, allows the project's own there", async () => {
    const registry = '10.9.0.5:5000';
    expect(await check('FROM registry.internal:5000/beta:v1', registry)).toContain("only this project's own");
    expect(await check(`FROM registry.internal:5000/${OWN}:v2`, registry)).toBeNull();
    expect(await check('FROM ghcr.io/acme/app:1', registry)).toBeNull();
  });

  it("resolves with the system's resolver: localhost and short loopback forms are this machine", async () => {
    const text = 'FROM localhost:5000/beta\nFROM 127.1:5000/beta\nFROM paastech/base';
    const hosts = await platformRegistryHosts(dockerfileRegistryHosts(text), REGISTRY);
    expect([...hosts].sort()).toEqual(['127.1:5000', 'localhost:5000']);
  });

  it('joins continued lines and drops comments', () => {
    expect(dockerfileInstructions('# c\nFROM a \\\n  AS b\n\nRUN x \\\n y\n')).toEqual([
      'FROM a    AS b',
      'RUN x   y',
    ]);
  });
});
