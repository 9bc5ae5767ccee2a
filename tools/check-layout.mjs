#!/usr/bin/env node
// check-layout: enforces PaaSTech's dependency rules on source files under packages/, services/, apps/,
// e2e/ and bench/ (skipping node_modules, dist, packages/proto/src/gen and e2e/fixtures/apps).
//
//   service-imports-service  a file in services/X imports no other service (package name or relative path)
//   imports-app              nothing outside apps/X imports apps/* code (an app importing another app too)
//   package-imports-service  packages/* import no service and no app
//   client-imports-internal  apps/cli and apps/web import no proto (@paastech/proto, packages/proto,
//                            @grpc/grpc-js, @grpc/proto-loader) and no service
//   env-outside-config       only config.ts / config.mts / config.js read process.env
//                            (test files, e2e/ and bench/ are exempt from this rule only)
//   shell-string             platform code (packages/, services/, apps/) uses no child_process exec()/execSync()
//                            and no `shell: true`: subprocesses get argument arrays (spawn/execFile)
//
// Imports seen: `import … from`, `export … from`, `import '…'`, `import('…')`, `require('…')`.
// Usage: node tools/check-layout.mjs [rootDir] — prints `path:line: rule — detail` per violation and exits 1,
// or prints `layout ok: N files checked` and exits 0. Plain Node, no dependencies: it runs before any build.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const AREAS = ['packages', 'services', 'apps', 'e2e', 'bench'];
const WORKSPACE_AREAS = ['packages', 'services', 'apps'];
const PLATFORM_AREAS = new Set(['packages', 'services', 'apps']);
const CLIENT_APPS = new Set(['cli', 'web']);
const GRPC_PACKAGES = ['@grpc/grpc-js', '@grpc/proto-loader'];
const SOURCE_EXT = /\.(?:[cm]?[jt]s|[jt]sx)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'coverage']);
const SKIP_PATHS = new Set(['packages/proto/src/gen', 'e2e/fixtures/apps']);
const IDENT = /^[A-Za-z_$][\w$]*$/;
const REGEX_KEYWORDS = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'void',
  'yield',
  'await',
]);
const PROCESS_MODULES = new Set(['process', 'node:process']);
const CHILD_PROCESS_MODULES = new Set(['child_process', 'node:child_process']);

// Lists source files under the scanned areas as posix paths relative to root.
function collectFiles(root) {
  const files = [];
  const walk = (rel) => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.') && !SKIP_PATHS.has(child)) walk(child);
      } else if (entry.isFile() && SOURCE_EXT.test(entry.name)) {
        files.push(child);
      }
    }
  };
  for (const area of AREAS) if (fs.existsSync(path.join(root, area))) walk(area);
  return files.sort();
}

// Maps each workspace package name under packages/, services/, apps/ to its { area, ws } location.
function readWorkspaces(root) {
  const byName = new Map();
  for (const area of WORKSPACE_AREAS) {
    const areaDir = path.join(root, area);
    if (!fs.existsSync(areaDir)) continue;
    for (const entry of fs.readdirSync(areaDir, { withFileTypes: true })) {
      const pkgFile = path.join(areaDir, entry.name, 'package.json');
      if (!entry.isDirectory() || !fs.existsSync(pkgFile)) continue;
      const { name } = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
      if (name) byName.set(name, { area, ws: entry.name });
    }
  }
  return byName;
}

// True when a `/` following the code in `before` starts a regex literal rather than a division.
function regexAllowed(before) {
  let k = before.length - 1;
  while (k >= 0 && /\s/.test(before[k])) k--;
  if (k < 0 || '(,=:[!&|?{};+-*%<>~^'.includes(before[k])) return true;
  let w = k;
  while (w >= 0 && /[\w$]/.test(before[w])) w--;
  return REGEX_KEYWORDS.has(before.slice(w + 1, k + 1));
}

// Blanks comments, string/template/regex contents (keeping identifier-like strings such as 'env') with
// spaces, preserving offsets and newlines; returns the masked code and every string literal found.
function scan(src) {
  const blank = (s) => s.replace(/[^\n]/g, ' ');
  const strings = []; // { start, value }: start is the offset of the opening quote
  const braces = []; // open `{` count per `${` substitution we are inside
  let out = '';
  let i = 0;
  // Consumes template text from i (just after '`' or a substitution's '}') up to '`' or '${'.
  const template = (fromBacktick) => {
    const start = i;
    while (i < src.length && src[i] !== '`' && !(src[i] === '$' && src[i + 1] === '{')) {
      i += src[i] === '\\' ? 2 : 1;
    }
    const text = src.slice(start, i);
    const whole = fromBacktick && src[i] === '`'; // a template without substitutions is a plain string
    out += whole && IDENT.test(text) ? text : blank(text);
    if (src[i] === '`') {
      if (whole) strings.push({ start: start - 1, value: text });
      out += '`';
      i++;
    } else if (i < src.length) {
      out += '${';
      i += 2;
      braces.push(0);
    }
  };
  while (i < src.length) {
    const c = src[i];
    const d = src[i + 1];
    if (c === '/' && (d === '/' || d === '*')) {
      const close = d === '/' ? src.indexOf('\n', i) : src.indexOf('*/', i + 2);
      const end = close < 0 ? src.length : d === '/' ? close : close + 2;
      out += blank(src.slice(i, end));
      i = end;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      const value = src.slice(i + 1, j);
      strings.push({ start: i, value });
      out += c + (IDENT.test(value) ? value : blank(value)) + src.slice(j, j + 1);
      i = j + 1;
    } else if (c === '`') {
      i++;
      out += '`';
      template(true);
    } else if (c === '{' && braces.length > 0) {
      braces[braces.length - 1]++;
      out += c;
      i++;
    } else if (c === '}' && braces.length > 0 && braces[braces.length - 1] === 0) {
      braces.pop();
      out += c;
      i++;
      template(false);
    } else if (c === '}' && braces.length > 0) {
      braces[braces.length - 1]--;
      out += c;
      i++;
    } else if (c === '/' && regexAllowed(out)) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n' && (inClass || src[j] !== '/')) {
        if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        j += src[j] === '\\' ? 2 : 1;
      }
      if (src[j] !== '/') j = i; // not a regex after all: treat the '/' as an operator
      out += `/${blank(src.slice(i + 1, j))}${j > i ? '/' : ''}`;
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return { code: out, strings };
}

// Returns a function mapping a character offset of src to its 1-based line number.
function lineLocator(src) {
  const starts = [0];
  for (let i = 0; i < src.length; i++) if (src[i] === '\n') starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

// Finds module specifiers of import/export-from/side-effect/dynamic import/require, with the clause text
// (e.g. `{ env }` or `* as cp`) for static imports and the offset of the specifier's quote.
function findImports(code, strings) {
  const keywords = [...code.matchAll(/(?<![\w$.])(?:import|export)\b/g)].map((m) => m.index);
  const imports = [];
  for (const { start, value } of strings) {
    const before = code.slice(Math.max(0, start - 200), start);
    const fromKw = /(?<![\w$.])from\s*$/.exec(before);
    if (fromKw || /(?<![\w$.])(?:import\s*\(?|require\s*\()\s*$/.test(before)) {
      let clause = '';
      if (fromKw) {
        const fromAt = start - before.length + fromKw.index;
        const kw = keywords.filter((k) => k < fromAt).pop() ?? fromAt;
        clause = code.slice(kw, fromAt).replace(/^(?:import|export)\s*(?:type\b)?/, '');
      }
      imports.push({ spec: value, start, clause });
    }
  }
  return imports;
}

// Locates an import specifier: { area, ws, label } for repo code, { area: 'grpc' } for gRPC, else null.
function resolveTarget(spec, fileRel, root, workspaces) {
  if (spec.startsWith('.') || spec.startsWith('/')) {
    const abs = spec.startsWith('/') ? spec : path.resolve(root, path.dirname(fileRel), spec);
    const rel = path.relative(root, abs).split(path.sep).join('/');
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
    const [area, ws] = rel.split('/');
    return { area, ws, label: [area, ws].filter(Boolean).join('/') };
  }
  for (const [name, loc] of workspaces) {
    if (spec === name || spec.startsWith(`${name}/`)) return { ...loc, label: `${loc.area}/${loc.ws}` };
  }
  if (GRPC_PACKAGES.some((g) => spec === g || spec.startsWith(`${g}/`))) return { area: 'grpc', label: spec };
  return null;
}

// Returns the import rule violated when a file at (area, ws) imports target t, or null.
function importRule(area, ws, t) {
  const isService = t.area === 'services';
  const isApp = t.area === 'apps';
  if (area === 'packages' && (isService || isApp)) return 'package-imports-service';
  if (area === 'services' && isService && t.ws !== ws) return 'service-imports-service';
  if (isApp && !(area === 'apps' && t.ws === ws)) return 'imports-app';
  const isProto = (t.area === 'packages' && t.ws === 'proto') || t.area === 'grpc';
  if (area === 'apps' && CLIENT_APPS.has(ws) && (isService || isProto)) return 'client-imports-internal';
  return null;
}

// True for files exempt from env-outside-config: tests, test/ and tests/ dirs, e2e/ and bench/.
function isTestFile(fileRel) {
  const parts = fileRel.split('/');
  return (
    parts[0] === 'e2e' ||
    parts[0] === 'bench' ||
    // The test-harness workspace starts real daemons for the tests and hands them an environment.
    (parts[0] === 'packages' && parts[1] === 'testing') ||
    parts.some((p) => p === 'test' || p === 'tests' || p === '__tests__') ||
    /\.(?:test|spec)\.[cm]?[jt]sx?$/.test(fileRel)
  );
}

// Offsets of process.env reads in masked code (member access, bracket access, destructuring, node:process).
function envReads(code, imports) {
  const hits = [];
  for (const m of code.matchAll(
    /\bprocess\s*(?:\?\.\s*|\.\s*)env\b|\bprocess\s*(?:\?\.)?\[\s*(['"`])env\1\s*\]/g,
  )) {
    hits.push({ at: m.index, what: 'process.env' });
  }
  for (const m of code.matchAll(/\{[^{}]*\benv\b[^{}]*\}\s*=\s*process\b(?!\s*(?:\?\.|\.|\[))/g)) {
    hits.push({ at: m.index, what: 'destructures env from process' });
  }
  for (const imp of imports) {
    if (PROCESS_MODULES.has(imp.spec) && /\{[^}]*\benv\b/.test(imp.clause)) {
      hits.push({ at: imp.start, what: `imports env from '${imp.spec}'` });
    }
  }
  return hits;
}

// Escapes an identifier (which may contain `$`) for use inside a RegExp.
function escapeRe(id) {
  return id.replace(/\$/g, '\\$');
}

// Offsets of shell-spawning calls: child_process exec()/execSync() and `shell: true` options.
function shellUses(code, imports) {
  const hits = [];
  const named = new Set();
  const namespaces = new Set();
  const cpImports = imports.filter((imp) => CHILD_PROCESS_MODULES.has(imp.spec));
  for (const imp of cpImports) {
    for (const m of imp.clause.matchAll(/\b(exec|execSync)\b(?:\s+as\s+([\w$]+))?/g)) named.add(m[2] ?? m[1]);
    const ns = /^\s*(?:\*\s*as\s+)?([\w$]+)/.exec(imp.clause); // `import cp from` / `import * as cp from`
    if (ns) namespaces.add(ns[1]);
    // `const { exec } = require(...)`, `const cp = require(...)`, `require(...).exec(`
    const decl = /(?:const|let|var)\s+(\{[^}]*\}|[\w$]+)\s*=\s*(?:await\s+)?(?:require|import)\s*\(\s*$/.exec(
      code.slice(0, imp.start),
    );
    if (decl?.[1].startsWith('{')) {
      for (const m of decl[1].matchAll(/\b(exec|execSync)\b(?:\s*:\s*([\w$]+))?/g)) named.add(m[2] ?? m[1]);
    } else if (decl) namespaces.add(decl[1]);
    const chained = /^\s*\)\s*\.\s*(exec|execSync)\b/.exec(code.slice(imp.start + imp.spec.length + 2));
    if (chained) hits.push({ at: imp.start, what: `${chained[1]}() runs a shell` });
  }
  for (const name of named) {
    const id = escapeRe(name);
    const use = new RegExp(`(?<![\\w$.])${id}\\s*\\(|\\bpromisify\\s*\\(\\s*${id}(?![\\w$])`, 'g');
    for (const m of code.matchAll(use)) hits.push({ at: m.index, what: `${name}() runs a shell` });
  }
  for (const ns of namespaces) {
    for (const m of code.matchAll(
      new RegExp(`(?<![\\w$.])${escapeRe(ns)}\\s*\\.\\s*(execSync|exec)\\b`, 'g'),
    )) {
      hits.push({ at: m.index, what: `${ns}.${m[1]}() runs a shell` });
    }
  }
  for (const m of code.matchAll(/(?<![\w$])(['"]?)shell\1\s*:\s*true\b/g)) {
    hits.push({ at: m.index, what: '`shell: true` runs a shell' });
  }
  return hits;
}

// Checks one file and returns its violations.
function checkFile(root, fileRel, workspaces) {
  const src = fs.readFileSync(path.join(root, fileRel), 'utf8');
  const { code, strings } = scan(src);
  const lineOf = lineLocator(src);
  const [area, ws] = fileRel.split('/');
  const imports = findImports(code, strings);
  const violations = [];
  const add = (at, rule, detail) => violations.push({ file: fileRel, line: lineOf(at), rule, detail });
  for (const imp of imports) {
    const target = resolveTarget(imp.spec, fileRel, root, workspaces);
    const rule = target && importRule(area, ws, target);
    if (rule) add(imp.start, rule, `imports '${imp.spec}' (${target.label})`);
  }
  if (!/^config\.[cm]?[jt]s$/.test(path.posix.basename(fileRel)) && !isTestFile(fileRel)) {
    for (const hit of envReads(code, imports)) {
      add(hit.at, 'env-outside-config', `${hit.what}; read configuration in config.ts`);
    }
  }
  if (PLATFORM_AREAS.has(area)) {
    for (const hit of shellUses(code, imports)) {
      add(hit.at, 'shell-string', `${hit.what}; use spawn/execFile with an argument array`);
    }
  }
  return violations;
}

// Scans the repository at rootDir: returns { files: number checked, violations sorted by file and line }.
export function scanLayout(rootDir) {
  const root = path.resolve(rootDir);
  const workspaces = readWorkspaces(root);
  const files = collectFiles(root);
  const violations = files.flatMap((f) => checkFile(root, f, workspaces));
  violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule));
  return { files: files.length, violations };
}

// Returns the layout violations ({ file, line, rule, detail }) of the repository at rootDir.
export function checkLayout(rootDir) {
  return scanLayout(rootDir).violations;
}

// Renders one violation as `path:line: rule — detail`.
export function formatViolation(v) {
  return `${v.file}:${v.line}: ${v.rule} — ${v.detail}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const rootDir = process.argv[2] ?? path.resolve(import.meta.dirname, '..');
  const { files, violations } = scanLayout(rootDir);
  for (const v of violations) console.error(formatViolation(v));
  if (violations.length > 0) {
    console.error(`layout: ${violations.length} violation(s) in ${files} files checked`);
    process.exit(1);
  }
  console.log(`layout ok: ${files} files checked`);
}
