// Which images a tenant's Dockerfile may build from. The Docker daemon that runs `docker build` on
// the manager holds every project's deployment images and reaches the platform's registry, so a
// `FROM <registry>/<other project>:v3` (or `COPY --from=` it, or its image id) would hand one
// tenant another tenant's code. Rule: an image the Dockerfile names is a public/base image or the
// project's own repository; never another repository of the platform's registry — under whatever
// name resolves to it or to this machine —, never an image id, and never a variable that could
// become either.
import { lookup } from 'node:dns/promises';
import net from 'node:net';

/** Resolves a host name to its addresses (node:dns by default; injectable for unit tests). */
export type Resolve = (host: string) => Promise<string[]>;

const systemResolve: Resolve = async (host) =>
  (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);

/** Addresses that are this machine whatever the interface: loopback and unspecified. */
function isLocalAddress(address: string): boolean {
  const v4 = address.replace(/^::ffff:/i, '');
  if (net.isIPv4(v4)) return v4.startsWith('127.') || v4 === '0.0.0.0';
  return address === '::1' || address === '::';
}

/** The host name of `host[:port]` or `[v6]:port`. */
function hostName(registryHost: string): string {
  const v6 = /^\[([^\]]+)\]/.exec(registryHost);
  return v6?.[1] ?? registryHost.replace(/:\d+$/, '');
}

/**
 * The registry hosts among `hosts` that are the platform's registry (`registry`, host[:port]):
 * named as configured, or resolving to this machine or to an address of the registry's host.
 */
export async function platformRegistryHosts(
  hosts: string[],
  registry: string,
  resolve: Resolve = systemResolve,
): Promise<Set<string>> {
  const addressesOf = async (h: string) => {
    const name = hostName(h);
    return net.isIP(name) ? [name] : resolve(name);
  };
  const registryAddresses = new Set(await addressesOf(registry));
  const out = new Set<string>();
  for (const host of new Set(hosts)) {
    if (host.toLowerCase() === registry.toLowerCase()) {
      out.add(host);
      continue;
    }
    const addresses = await addressesOf(host);
    if (addresses.some((a) => isLocalAddress(a) || registryAddresses.has(a))) out.add(host);
  }
  return out;
}

/** The instructions of a Dockerfile (pure): line continuations joined, comments and blanks dropped. */
export function dockerfileInstructions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = current === '' ? raw.trimStart() : raw;
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    out.push((current + line).trim());
    current = '';
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

/** The registry host of an image reference, or "" for Docker Hub (pure). */
function registryOf(ref: string): string {
  const slash = ref.indexOf('/');
  if (slash < 0) return '';
  const first = ref.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')
    ? first
    : '';
}

/** An image reference the Dockerfile names, and where. */
interface ImageRef {
  ref: string;
  where: string;
}

/** The images a Dockerfile names in FROM, --from= and --mount=…from= (pure; stages left out). */
function imageRefs(text: string): ImageRef[] {
  const stages = new Set<string>();
  const out: ImageRef[] = [];
  for (const instruction of dockerfileInstructions(text)) {
    const [keyword = '', ...words] = instruction.split(/\s+/);
    const kw = keyword.toUpperCase();
    if (kw === 'FROM') {
      const args = words.filter((w) => !w.startsWith('--'));
      const ref = args[0] ?? '';
      if (!stages.has(ref.toLowerCase())) out.push({ ref, where: 'FROM' });
      if (args[1]?.toUpperCase() === 'AS' && args[2]) stages.add(args[2].toLowerCase());
      continue;
    }
    for (const w of words) {
      const flag = /^--(?:from|mount=.*\bfrom)=([^,\s]+)/i.exec(w);
      if (!flag?.[1] || /^\d+$/.test(flag[1]) || stages.has(flag[1].toLowerCase())) continue;
      out.push({ ref: flag[1], where: `${kw} --from` });
    }
  }
  return out;
}

/** The registry hosts a Dockerfile names (pure): what `platformRegistryHosts` is asked about. */
export function dockerfileRegistryHosts(text: string): string[] {
  return imageRefs(text)
    .map((r) => registryOf(r.ref))
    .filter((h) => h !== '');
}

/**
 * Why the Dockerfile may not be built, or null (pure). `platformHosts` are the registry hosts it
 * names that are the platform's registry (platformRegistryHosts); `ownRepository` is the
 * project's repository there.
 */
export function dockerfileRefsProblem(
  text: string,
  platformHosts: Set<string>,
  ownRepository: string,
): string | null {
  for (const { ref, where } of imageRefs(text)) {
    if (ref.includes('$')) return `${where} "${ref}": image names may not use variables`;
    if (/^(sha256:)?[0-9a-f]{12,64}$/i.test(ref))
      return `${where} "${ref}": image ids are not allowed; name the image`;
    const host = registryOf(ref);
    if (!platformHosts.has(host)) continue;
    const repository = ref.slice(host.length + 1).split(/[@:]/)[0] ?? '';
    if (repository !== ownRepository)
      return `${where} "${ref}": only this project's own images may come from the platform's registry`;
  }
  return null;
}
