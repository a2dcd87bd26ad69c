// The release rehearsed against a real registry, then every package used as its README says.
//
// A Verdaccio registry runs on 127.0.0.1 (a free port, temporary storage) with an uplink to the
// registry npm on this machine is configured to use (`npm config get registry`, read now, never
// written into the repository). In a temporary copy of the workspace (the real repository's
// versions and changesets are never touched) a test changeset is applied with `changeset
// version`, and `changeset publish` publishes every public package to Verdaccio, through each
// package's prepack guard, as `pnpm release` does after its build.
//
// Then, in a fresh temporary project per package, the install line of the package's README is
// run as written (`npm install @livestep/tfjs @livestep/core @tensorflow/tfjs`, ...), and the
// README's quickstart, extracted from the README so that a README that drifts fails here, runs
// as ESM, as CommonJS, and type-checks with TypeScript in strict mode. A small prelude per package
// gives the quickstart what it leaves to the reader (a compiled tfjs model, a few Iris batches);
// the code after it is the README's, verbatim. One install is made with pnpm, whose strict
// node_modules layout catches a dependency that is used but not declared. `npx livestep --help`
// runs from the installed CLI.
//
// better-sqlite3 (the server's store) gets its prebuilt addon as it would from GitHub, served from
// 127.0.0.1 (the workspace's build of the same version), since GitHub is out of reach here and
// compiling it twice took minutes.
//
// Each published tarball is checked (no tests or fixtures, source maps only with their sources),
// its packed size is printed, and so is the install size of @livestep/core with its dependencies
// next to pino's and @wandb/sdk's, and the licenses of every runtime dependency.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));
/** The pinned pnpm (the packageManager field), as every workspace command runs it. */
const PNPM = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager as string;

/** Starting Verdaccio takes about 2 s; far more means it cannot start. */
const REGISTRY_START_TIMEOUT_MS = 60_000;
/** `changeset version` and `changeset publish` of seven packages take about 30 s here. */
const RELEASE_TIMEOUT_MS = 240_000;
/**
 * One install: tfjs and onnxruntime-node are a few hundred MB, and better-sqlite3 (the server's
 * store) compiles its addon for about a minute where its prebuilt binary cannot be downloaded.
 */
const INSTALL_TIMEOUT_MS = 300_000;
/** Installs at a time: two cores, and each install is mostly network and disk. */
const INSTALL_CONCURRENCY = 2;
/** Quickstart runs and type-checks at a time, beside the installs: mostly CPU. */
const CHECK_CONCURRENCY = 2;
/** A quickstart trains a tiny model or evaluates a few rows: seconds. */
const RUN_TIMEOUT_MS = 90_000;
/** Type-checking one quickstart with its package's declarations. */
const TYPECHECK_TIMEOUT_MS = 120_000;
/** A test that waits for the installs and checks started in beforeAll (about two minutes). */
const WAIT_TIMEOUT_MS = 600_000;
/** The install size above which @livestep/core is no longer a light dependency (now ~4 MB). */
const CORE_INSTALL_BYTES_LIMIT = 15 * 1024 * 1024;
/** Licenses a dependency of a published package may have: permissive ones only. */
const ALLOWED_LICENSES = new Set([
  'MIT',
  'ISC',
  'Apache-2.0',
  'BSD-2-Clause',
  'BSD-3-Clause',
  '0BSD',
  'BlueOak-1.0.0',
  'CC0-1.0',
  'Unlicense',
  'Python-2.0',
]);
/**
 * Problems on main that belong to a package's owner: printed on every run (and in the report),
 * not failed, so that the fix lands with that package's own change. Any other problem of the
 * same kind fails. Remove an entry once its problem is gone (the run says so).
 */
const KNOWN_PROBLEMS: Record<string, string> = {};

/** The references the install size of core is printed against (issue 14). */
const REFERENCE_PACKAGES = ['pino', '@wandb/sdk'];
/** What the rehearsal changeset says, so it is never mistaken for a real one. */
const TEST_CHANGESET = 'release-rehearsal-test';

/** What every tarball holds; pnpm adds the workspace's LICENSE to a package that has none. */
const REQUIRED_ENTRIES = [
  'package/package.json',
  'package/README.md',
  'package/LICENSE',
  'package/dist/index.js',
  'package/dist/index.cjs',
  'package/dist/index.d.ts',
  'package/dist/index.d.cts',
];
/** What must never be published, with the reason shown when it is. */
const FORBIDDEN_ENTRIES: Array<[RegExp, string]> = [
  [/\.(test|spec)\.[^/]*$/, 'a test file'],
  [/(^|\/)(__tests__|tests?)\//, 'a test folder'],
  [/(^|\/)(__)?fixtures?(__)?\//, 'test fixtures'],
  [/(^|\/)test-support\//, 'test helpers'],
  [/^package\/src\//, 'the sources (src/)'],
  [
    /^package\/(tsconfig[^/]*\.json|tsup\.config\.[cm]?[jt]s|vitest\.config\.[cm]?[jt]s)$/,
    'a config',
  ],
  [/(^|\/)(node_modules|\.tmp|\.turbo|livestep)\//, 'a local folder'],
  [/\.tgz$/, 'a tarball'],
];

/** A package.json, as far as these tests read it. */
interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string | { type?: string };
  licenses?: Array<{ type: string }>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const DEPENDENCY_FIELDS = [
  'dependencies',
  'devDependencies',
  'peerDependencies',
  'optionalDependencies',
] as const;

/** A registry's document for one package (the fields read here). */
interface Packument {
  'dist-tags'?: Record<string, string>;
  versions?: Record<string, Manifest & { dist?: { tarball?: string } }>;
}

interface WorkspacePackage {
  /** Folder name under packages/. */
  folder: string;
  name: string;
  manifest: Manifest;
}

interface Prelude {
  /** import declarations the prelude needs (kept apart from the README's). */
  imports?: string;
  /** Statements run before the README's code: what the quickstart leaves to the reader. */
  body?: string;
  /** Files the quickstart reads, copied into the project before it runs. */
  files?: Record<string, string>;
  /** A file the quickstart must have written, to show it ran rather than merely loaded. */
  writes?: string;
  /** Text the quickstart must print. */
  prints?: RegExp;
}

/**
 * What each README's quickstart leaves to the reader, and what the quickstart must leave behind.
 * A published package with no entry here fails the test: its quickstart must be run too.
 */
const PRELUDES: Record<string, Prelude> = {
  '@livestep/core': {
    body: `
const loss = 0.42;
const accuracy = 0.81;
const validationLoss = 0.47;
const actual = [0, 1, 2, 2, 1];
const predicted = [0, 2, 2, 2, 1];`,
    writes: 'livestep/plots/metrics/train/loss.tsv',
  },
  '@livestep/tfjs': {
    imports: `import * as preludeTf from '@tensorflow/tfjs';`,
    body: `
const xs = preludeTf.randomNormal([24, 4]);
const ys = preludeTf.oneHot(
  preludeTf.tensor1d(Array.from({ length: 24 }, (_, index) => index % 3), 'int32'),
  3,
);
const model = preludeTf.sequential({
  layers: [preludeTf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })],
});
model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });`,
    writes: 'livestep/plots/metrics/train/loss.tsv',
  },
  '@livestep/onnx': {
    body: `
const validationBatches = [
  { features: Float32Array.from([5.1, 3.5, 1.4, 0.2, 6.4, 3.2, 4.5, 1.5]), species: [0, 1] },
  { features: Float32Array.from([6.3, 3.3, 6.0, 2.5, 4.9, 3.0, 1.4, 0.2]), species: [2, 0] },
];`,
    files: {
      'models/iris-mlp.onnx': join(root, 'examples', 'onnx-eval', 'models', 'iris-mlp.onnx'),
    },
    writes: 'livestep/mlp/metrics.json',
  },
  '@livestep/loop': {
    body: `
const epochs = 3;
function trainOneEpoch(epoch: number): number {
  return 1 / (epoch + 1);
}`,
    writes: 'livestep/plots/metrics/train/loss.tsv',
  },
  '@livestep/studio': {
    // No DVC_STUDIO_TOKEN in the environment: the quickstart records to the folder only.
    writes: 'livestep',
  },
  '@livestep/server': {
    prints: /http:\/\/127\.0\.0\.1:\d+/,
  },
};

// ---------------------------------------------------------------------------------------------
// Processes

/** The environment of every command: the machine's, without what `npm test` and pnpm add. */
function cleanEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|npm_config_|turbo_|vitest|LIVESTEP_|DVC_)/i.test(key)) continue;
    if (['NODE_OPTIONS', 'NODE_ENV', 'INIT_CWD'].includes(key)) continue;
    environment[key] = value;
  }
  // No workspace's node_modules/.bin on PATH: a project's commands are its own.
  environment.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((entry) => !entry.includes('node_modules'))
    .join(':');
  environment.ONNXRUNTIME_NODE_INSTALL = 'skip';
  environment.TURBO_TELEMETRY_DISABLED = '1';
  Object.assign(environment, extra);
  return environment;
}

interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code and output, also when it fails. */
async function command(
  file: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeout: number },
): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      cwd: options.cwd,
      env: options.env ?? cleanEnvironment(),
      timeout: options.timeout,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as {
      code?: number | string;
      stdout?: string;
      stderr?: string;
      killed?: boolean;
    };
    return {
      code: typeof failure.code === 'number' ? failure.code : 1,
      stdout: failure.stdout ?? '',
      stderr: `${failure.stderr ?? ''}${failure.killed ? `\n(killed after ${options.timeout} ms)` : ''}`,
    };
  }
}

/** The end of a command's output, for a failure message. */
function tail(result: CommandResult, lines = 40): string {
  return `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-lines).join('\n');
}

async function mustRun(
  file: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeout: number },
): Promise<CommandResult> {
  const result = await command(file, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${file} ${args.join(' ')} (in ${options.cwd}) exited ${result.code}:\n${tail(result)}`,
    );
  }
  return result;
}

const temporaryFolders: string[] = [];
function temporaryFolder(prefix: string): string {
  const folder = mkdtempSync(join(tmpdir(), `livestep-release-${prefix}-`));
  temporaryFolders.push(folder);
  return folder;
}

/** Runs at most `limit` tasks at a time. */
function limiter(limit: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async function limited<T>(task: () => Promise<T>): Promise<T> {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

// ---------------------------------------------------------------------------------------------
// The registry

interface Registry {
  url: string;
  token: string;
  child: ChildProcess;
  log: string;
}

async function npmConfig(key: string): Promise<string> {
  // Asked from a folder outside the repository, so the answer is the machine's configuration.
  const result = await mustRun('npm', ['config', 'get', key], {
    cwd: tmpdir(),
    timeout: 30_000,
  });
  return result.stdout.trim();
}

async function startRegistry(): Promise<Registry> {
  const folder = temporaryFolder('verdaccio');
  const uplink = await npmConfig('registry');
  const cafile = await npmConfig('cafile');
  const log = join(folder, 'verdaccio.log');
  // Published names are served from this registry alone (never mixed with a package of the same
  // name upstream); everything else is proxied to npm's registry and cached in the storage.
  const config = `
storage: ${JSON.stringify(join(folder, 'storage'))}
auth:
  htpasswd:
    file: ${JSON.stringify(join(folder, 'htpasswd'))}
    max_users: 10
uplinks:
  upstream:
    url: ${JSON.stringify(uplink)}
    timeout: 120s
    max_fails: 10
packages:
  '@livestep/*':
    access: $all
    publish: $authenticated
  'livestep':
    access: $all
    publish: $authenticated
  '@*/*':
    access: $all
    proxy: upstream
  '**':
    access: $all
    proxy: upstream
web:
  enable: false
log: { type: file, path: ${JSON.stringify(log)}, level: warn }
max_body_size: 200mb
`;
  writeFileSync(join(folder, 'config.yaml'), config);
  const launcher = join(folder, 'launch.cjs');
  writeFileSync(
    launcher,
    `const { runServer } = require(process.argv[2]);
runServer(process.argv[3]).then(
  (app) => app.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: app.address().port }))),
  (error) => { console.error(error); process.exit(1); },
);
`,
  );
  const environment = cleanEnvironment();
  // The uplink trusts what npm trusts.
  if (cafile !== '' && cafile !== 'null' && existsSync(cafile)) {
    environment.NODE_EXTRA_CA_CERTS = cafile;
  }
  const child = spawn(
    process.execPath,
    [launcher, require.resolve('verdaccio'), join(folder, 'config.yaml')],
    {
      cwd: folder,
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`Verdaccio did not start in ${REGISTRY_START_TIMEOUT_MS} ms:\n${output}`)),
      REGISTRY_START_TIMEOUT_MS,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /\{"port":(\d+)\}/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Verdaccio exited with ${code}:\n${output}`));
    });
  });
  const url = `http://127.0.0.1:${port}/`;
  // A user for publishing (`npm adduser` does the same request).
  const response = await fetch(`${url}-/user/org.couchdb.user:release-test`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'release-test', password: 'release-test-password', type: 'user' }),
  });
  const { token } = (await response.json()) as { token?: string };
  if (!response.ok || !token)
    throw new Error(`Verdaccio refused the test user: ${response.status}`);
  return { url, token, child, log };
}

async function packument(registry: Registry, name: string): Promise<Packument | undefined> {
  const response = await fetch(`${registry.url}${name.replace('/', '%2f')}`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${name}: ${response.status}`);
  return (await response.json()) as Packument;
}

// ---------------------------------------------------------------------------------------------
// better-sqlite3's prebuilt addon

interface PrebuildMirror {
  /** What prebuild-install is told: `npm_config_better_sqlite3_binary_host`. */
  url: string;
  close(): Promise<void>;
  /** Where prebuild-install cached what it downloaded (removed at the end). */
  cached: string[];
}

/**
 * better-sqlite3 (the server's store) installs by downloading its prebuilt addon from GitHub,
 * else by compiling SQLite for a minute or more. GitHub is out of reach here, and two compiles
 * beside the other installs took five minutes, so the download is served from 127.0.0.1: the
 * addon the workspace built from the same version, packed as its release asset is (prebuild-
 * install's documented mirror setting). A version other than the workspace's is not served, and
 * then the install compiles it, as on a machine without the download.
 */
async function startPrebuildMirror(): Promise<PrebuildMirror> {
  const packageFolder = dirname(
    require.resolve('better-sqlite3/package.json', { paths: [join(root, 'packages', 'server')] }),
  );
  const { version } = JSON.parse(readFileSync(join(packageFolder, 'package.json'), 'utf8'));
  const addon = join('build', 'Release', 'better_sqlite3.node');
  const asset = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const folder = temporaryFolder('prebuilds');
  if (existsSync(join(packageFolder, addon))) {
    await mustRun('tar', ['-czf', join(folder, asset), '-C', packageFolder, addon], {
      cwd: folder,
      timeout: 60_000,
    });
  }
  const server = createHttpServer((request, response) => {
    const file = join(folder, asset);
    if (request.url === `/v${version}/${asset}` && existsSync(file)) {
      response.writeHead(200, { 'content-type': 'application/gzip' });
      response.end(readFileSync(file));
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cache = await npmConfig('cache');
  const downloadUrl = `${url}/v${version}/${asset}`;
  const digest = createHash('sha512').update(downloadUrl).digest('hex').slice(0, 6);
  const cached = join(cache, '_prebuilds', `${digest}-${asset.replace(/[^a-zA-Z0-9.]+/g, '-')}`);
  return {
    url,
    cached: [cached],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------------------------------------
// The release, rehearsed in a copy

function workspaceFolders(): string[] {
  const folders: string[] = [];
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, group))) {
      if (existsSync(join(root, group, name, 'package.json'))) folders.push(join(group, name));
    }
  }
  for (const folder of ['test-e2e', 'bench']) {
    if (existsSync(join(root, folder, 'package.json'))) folders.push(folder);
  }
  return folders;
}

function publishedPackages(base: string): WorkspacePackage[] {
  return readdirSync(join(base, 'packages'))
    .filter((folder) => existsSync(join(base, 'packages', folder, 'package.json')))
    .map((folder) => ({
      folder,
      manifest: JSON.parse(readFileSync(join(base, 'packages', folder, 'package.json'), 'utf8')),
    }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ folder, manifest }) => ({ folder, name: manifest.name as string, manifest }));
}

/** Nothing the build, the tests or an install left behind is copied. */
const NOT_COPIED = new Set(['node_modules', '.tmp', '.turbo', 'livestep', 'coverage']);

/**
 * A copy of the workspace as `pnpm release` would publish it: the root manifest, lockfile and
 * changesets, every workspace package's manifest (so the release plan is the real one), and the
 * published packages whole, built output included.
 */
function copyWorkspace(): string {
  const copy = temporaryFolder('workspace');
  for (const file of [
    'package.json',
    'pnpm-workspace.yaml',
    'pnpm-lock.yaml',
    '.npmrc',
    'LICENSE',
  ]) {
    if (existsSync(join(root, file))) cpSync(join(root, file), join(copy, file));
  }
  cpSync(join(root, '.changeset'), join(copy, '.changeset'), { recursive: true });
  cpSync(join(root, 'scripts'), join(copy, 'scripts'), { recursive: true });
  for (const folder of workspaceFolders()) {
    mkdirSync(join(copy, folder), { recursive: true });
    if (folder.startsWith('packages/')) {
      cpSync(join(root, folder), join(copy, folder), {
        recursive: true,
        filter: (source) => !NOT_COPIED.has(source.split('/').pop()!),
      });
    } else {
      cpSync(join(root, folder, 'package.json'), join(copy, folder, 'package.json'));
    }
  }
  return copy;
}

/**
 * pnpm replaces `workspace:` ranges at pack time with the versions of the packages it finds in
 * each package's node_modules: link them as `pnpm install` would.
 */
function linkWorkspaceDependencies(copy: string, packages: WorkspacePackage[]): void {
  // Private packages (the shared test helpers) are linked too: a published package's
  // devDependency on one is still a `workspace:` range pnpm must resolve when it packs.
  const folderOf = new Map(
    readdirSync(join(copy, 'packages'))
      .filter((folder) => existsSync(join(copy, 'packages', folder, 'package.json')))
      .map((folder) => {
        const manifest = JSON.parse(
          readFileSync(join(copy, 'packages', folder, 'package.json'), 'utf8'),
        );
        return [manifest.name as string, folder] as const;
      }),
  );
  for (const pkg of packages) {
    for (const field of DEPENDENCY_FIELDS) {
      for (const [dependency, range] of Object.entries(pkg.manifest[field] ?? {})) {
        const target = folderOf.get(dependency);
        if (!String(range).startsWith('workspace:') || target === undefined) continue;
        const link = join(copy, 'packages', pkg.folder, 'node_modules', dependency);
        if (existsSync(link)) continue;
        mkdirSync(dirname(link), { recursive: true });
        symlinkSync(relative(dirname(link), join(copy, 'packages', target)), link);
      }
    }
  }
}

interface Rehearsal {
  copy: string;
  packages: WorkspacePackage[];
  /** Version of each package before `changeset version`, and after. */
  before: Map<string, string>;
  after: Map<string, string>;
  publishOutput: string;
  environment: NodeJS.ProcessEnv;
}

/** The directory holding the pinned pnpm's executable, so changesets can spawn `pnpm`. */
async function pnpmBinFolder(): Promise<string> {
  const result = await mustRun('npx', ['--yes', '-p', PNPM, '-c', 'command -v pnpm'], {
    cwd: tmpdir(),
    timeout: 120_000,
  });
  return dirname(result.stdout.trim().split('\n').pop()!);
}

function changesetBin(): string {
  return join(root, 'node_modules', '@changesets', 'cli', 'bin.js');
}

async function rehearseRelease(registry: Registry): Promise<Rehearsal> {
  const copy = copyWorkspace();
  const packages = publishedPackages(copy);
  const before = new Map(packages.map((pkg) => [pkg.name, pkg.manifest.version as string]));
  linkWorkspaceDependencies(copy, packages);

  // A test changeset beside the real ones: every published package released at least as a patch.
  writeFileSync(
    join(copy, '.changeset', `${TEST_CHANGESET}.md`),
    `---\n${packages.map((pkg) => `"${pkg.name}": patch`).join('\n')}\n---\n\nRelease rehearsal (test only).\n`,
  );

  const host = new URL(registry.url).host;
  const userConfig = join(copy, '.publish-npmrc');
  const machineUserConfig = await npmConfig('userconfig');
  writeFileSync(
    userConfig,
    [
      existsSync(machineUserConfig) ? readFileSync(machineUserConfig, 'utf8') : '',
      `registry=${registry.url}`,
      `//${host}/:_authToken=${registry.token}`,
      '',
    ].join('\n'),
  );
  const environment = cleanEnvironment({
    npm_config_registry: registry.url,
    npm_config_userconfig: userConfig,
    PATH: `${await pnpmBinFolder()}:${cleanEnvironment().PATH}`,
  });
  const git = (args: string[]) =>
    mustRun(
      'git',
      ['-c', 'user.name=release-test', '-c', 'user.email=release-test@localhost', ...args],
      {
        cwd: copy,
        env: environment,
        timeout: 60_000,
      },
    );
  // changeset publish tags each release in git, as the workflow does.
  await git(['init', '-q', '-b', 'main']);
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', 'the workspace as released']);

  await mustRun(process.execPath, [changesetBin(), 'version'], {
    cwd: copy,
    env: environment,
    timeout: RELEASE_TIMEOUT_MS,
  });
  const versioned = publishedPackages(copy);
  const after = new Map(versioned.map((pkg) => [pkg.name, pkg.manifest.version as string]));
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', 'version packages']);

  const published = await mustRun(process.execPath, [changesetBin(), 'publish'], {
    cwd: copy,
    env: environment,
    timeout: RELEASE_TIMEOUT_MS,
  });
  return {
    copy,
    packages: versioned,
    before,
    after,
    publishOutput: `${published.stdout}\n${published.stderr}`,
    environment,
  };
}

// ---------------------------------------------------------------------------------------------
// Tarballs

interface Tarball {
  name: string;
  version: string;
  bytes: number;
  unpackedBytes: number;
  entries: string[];
  files: Map<string, Buffer>;
}

async function downloadTarball(
  registry: Registry,
  name: string,
  version: string,
): Promise<Tarball> {
  const meta = await packument(registry, name);
  const tarballUrl = meta?.versions?.[version]?.dist?.tarball as string | undefined;
  if (!tarballUrl) throw new Error(`${name}@${version} is not on the registry`);
  const response = await fetch(tarballUrl);
  if (!response.ok) throw new Error(`GET ${tarballUrl}: ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  const folder = temporaryFolder('tarball');
  const file = join(folder, 'package.tgz');
  writeFileSync(file, bytes);
  await mustRun('tar', ['-xzf', file, '-C', folder], { cwd: folder, timeout: 60_000 });
  const files = new Map<string, Buffer>();
  const walk = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(folder, path).split('\\').join('/'), readFileSync(path));
    }
  };
  walk(join(folder, 'package'));
  const entries = [...files.keys()].sort();
  const unpackedBytes = [...files.values()].reduce((sum, content) => sum + content.length, 0);
  return { name, version, bytes: bytes.length, unpackedBytes, entries, files };
}

/**
 * Source maps only with their sources: every source a map names ships in the tarball, or its
 * text is embedded in the map (`sourcesContent`); a map never points at a file the user does not
 * have. Every `sourceMappingURL` names a map that ships.
 */
function sourceMapProblems(tarball: Tarball): string[] {
  const problems: string[] = [];
  for (const [path, content] of tarball.files) {
    if (/\.[cm]?js$/.test(path)) {
      const match = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(content.toString('utf8'));
      if (match && !match[1]!.startsWith('data:')) {
        const map = posix.join(posix.dirname(path), match[1]!);
        if (!tarball.files.has(map))
          problems.push(`${path} points at ${map}, which is not published`);
      }
    }
    if (!path.endsWith('.map')) continue;
    const map = JSON.parse(content.toString('utf8')) as {
      sources?: string[];
      sourcesContent?: Array<string | null>;
    };
    for (const [index, source] of (map.sources ?? []).entries()) {
      const resolved = posix.normalize(posix.join(posix.dirname(path), source));
      const embedded =
        typeof map.sourcesContent?.[index] === 'string' && map.sourcesContent[index] !== '';
      if (!tarball.files.has(resolved) && !embedded) {
        problems.push(`${path} names ${source}, which neither ships nor is embedded`);
      }
      if (/\.(test|spec)\.[^/]*$/.test(source) || /(^|\/)(fixtures?|test-support)\//.test(source)) {
        problems.push(`${path} carries a test source: ${source}`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// READMEs

interface CodeBlock {
  language: string;
  code: string;
  /** The heading the block sits under. */
  heading: string;
}

function codeBlocks(readme: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  let heading = '';
  const lines = readme.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const headingMatch = /^#{1,6}\s+(.*)$/.exec(line);
    if (headingMatch) heading = headingMatch[1]!.trim();
    const fence = /^(\s*)```(\w*)\s*$/.exec(line);
    if (!fence) continue;
    const indent = fence[1]!.length;
    const body: string[] = [];
    index++;
    while (index < lines.length && !/^\s*```\s*$/.test(lines[index]!)) {
      body.push(lines[index]!.slice(indent));
      index++;
    }
    blocks.push({ language: fence[2]!, code: body.join('\n'), heading });
  }
  return blocks;
}

const CODE_LANGUAGES = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);

/** The quickstart: the first TypeScript or JavaScript block under a "Quickstart" heading, else the first one. */
function quickstartOf(readme: string): CodeBlock | undefined {
  const blocks = codeBlocks(readme).filter((block) => CODE_LANGUAGES.has(block.language));
  return blocks.find((block) => /quick ?start/i.test(block.heading)) ?? blocks[0];
}

/** The first `npm install` line of a shell block that names the package. */
function installLineOf(readme: string, name: string): string | undefined {
  for (const block of codeBlocks(readme)) {
    if (!['sh', 'bash', 'shell', 'console'].includes(block.language)) continue;
    for (const raw of block.code.split('\n')) {
      const line = raw.replace(/\s+#.*$/, '').trim();
      const words = line.split(/\s+/);
      if (words[0] === 'npm' && ['install', 'i'].includes(words[1]!) && words.includes(name))
        return line;
    }
  }
  return undefined;
}

/** Splits a program into its import declarations and the rest, each as its source text. */
function splitImports(code: string): { imports: string[]; body: string[] } {
  const source = ts.createSourceFile(
    'snippet.ts',
    code,
    ts.ScriptTarget.Latest,
    true,
    ts.ScriptKind.TS,
  );
  const imports: string[] = [];
  const body: string[] = [];
  for (const statement of source.statements) {
    const text = statement.getFullText(source);
    if (ts.isImportDeclaration(statement) || ts.isImportEqualsDeclaration(statement))
      imports.push(text.trim());
    else body.push(text);
  }
  return { imports, body };
}

/** Every module a block imports, with the names it imports from it. */
function importsOf(code: string): Array<{ specifier: string; names: string[] }> {
  const source = ts.createSourceFile(
    'snippet.ts',
    code,
    ts.ScriptTarget.Latest,
    true,
    ts.ScriptKind.TS,
  );
  const found: Array<{ specifier: string; names: string[] }> = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier))
      continue;
    const names: string[] = [];
    const bindings = statement.importClause?.namedBindings;
    if (bindings && ts.isNamedImports(bindings)) {
      for (const element of bindings.elements) {
        if (!element.isTypeOnly) names.push((element.propertyName ?? element.name).text);
      }
    }
    found.push({ specifier: statement.moduleSpecifier.text, names });
  }
  return found;
}

interface Programs {
  /** TypeScript sources, type-checked as they are. */
  esmSource: string;
  cjsSource: string;
  /** What node runs: the same programs with the types stripped. */
  esm: string;
  cjs: string;
}

/** The quickstart made into two programs: ESM (top-level await) and CommonJS (in an async function). */
function programsFor(snippet: string, prelude: Prelude): Programs {
  const readme = splitImports(snippet);
  const preludeParts = splitImports(`${prelude.imports ?? ''}\n${prelude.body ?? ''}`);
  const imports = [...preludeParts.imports, ...readme.imports].join('\n');
  const statements = [
    ...preludeParts.body,
    '\n// The README quickstart, verbatim:',
    ...readme.body,
  ].join('');
  const esmSource = `${imports}\n${statements}\n`;
  const cjsSource = `${imports}\n\nasync function quickstart(): Promise<void> {${statements}\n}\n\nquickstart().catch((error: unknown) => {\n  console.error(error);\n  process.exitCode = 1;\n});\n`;
  const strip = (code: string, module: ts.ModuleKind) =>
    ts.transpileModule(code, {
      compilerOptions: { module, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
  return {
    esmSource,
    cjsSource,
    esm: strip(esmSource, ts.ModuleKind.ESNext),
    cjs: strip(cjsSource, ts.ModuleKind.CommonJS),
  };
}

interface TypecheckResult {
  /** Errors in the quickstart or in a livestep package's declarations: these fail the test. */
  ours: string[];
  /** Errors inside other packages' declarations (tfjs and onnxruntime-common need the DOM lib). */
  theirs: string[];
}

/**
 * Type-checks files of a project as a strict TypeScript project for Node would: strict, NodeNext
 * resolution (the `import` and `require` conditions of the exports map), Node's types, and the
 * declarations of every package checked too (no skipLibCheck), so a broken livestep `.d.ts`
 * fails. Errors inside other packages' declarations are reported apart: they are not ours.
 */
async function typecheck(
  project: string,
  label: string,
  files: string[],
): Promise<TypecheckResult> {
  const config = `tsconfig.${label}.json`;
  writeFileSync(
    join(project, config),
    JSON.stringify(
      {
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2023'],
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          // Node's own types, from the repository: a user of Node has them.
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        files,
      },
      null,
      2,
    ),
  );
  const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  const result = await command(process.execPath, [tsc, '-p', config, '--pretty', 'false'], {
    cwd: project,
    timeout: TYPECHECK_TIMEOUT_MS,
  });
  const errors = result.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
  const isTheirs = (line: string) =>
    /^node_modules\//.test(line) &&
    !/^node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?(@livestep\/|livestep\/)/.test(line);
  const ours = errors.filter((line) => !isTheirs(line));
  if (result.code !== 0 && errors.length === 0) ours.push(tail(result));
  return { ours, theirs: errors.filter(isTheirs) };
}

// ---------------------------------------------------------------------------------------------
// User projects

interface Project {
  folder: string;
  tool: 'npm' | 'pnpm';
  install: string;
  installResult: CommandResult;
}

function freshProject(label: string): string {
  const folder = temporaryFolder(`project-${label.replace(/[@/]/g, '-')}`);
  writeFileSync(
    join(folder, 'package.json'),
    `${JSON.stringify({ name: 'user-project', version: '1.0.0', private: true }, null, 2)}\n`,
  );
  return folder;
}

async function installInFreshProject(
  registry: Registry,
  label: string,
  line: string,
  tool: 'npm' | 'pnpm',
): Promise<Project> {
  const folder = freshProject(`${tool}-${label}`);
  const words = line.split(/\s+/).slice(2);
  const env = cleanEnvironment({ npm_config_registry: registry.url });
  if (prebuildMirror) env.npm_config_better_sqlite3_binary_host = prebuildMirror.url;
  const installResult =
    tool === 'npm'
      ? await command('npm', ['install', ...words, '--no-audit', '--no-fund'], {
          cwd: folder,
          env,
          timeout: INSTALL_TIMEOUT_MS,
        })
      : await command(
          'npx',
          ['--yes', PNPM, 'add', ...words.map((word) => (word === '--save-dev' ? '-D' : word))],
          { cwd: folder, env, timeout: INSTALL_TIMEOUT_MS },
        );
  const install = tool === 'npm' ? line : `pnpm add ${words.join(' ').replace('--save-dev', '-D')}`;
  return { folder, tool, install, installResult };
}

/** Runs a program in a project, from a clean run folder, as a user would. */
async function runIn(project: string, file: string, source: string): Promise<CommandResult> {
  rmSync(join(project, 'livestep'), { recursive: true, force: true });
  rmSync(join(project, 'dvc.yaml'), { force: true });
  writeFileSync(join(project, file), source);
  return command(process.execPath, [file], { cwd: project, timeout: RUN_TIMEOUT_MS });
}

/** Bytes and package count of a project's node_modules (files as stored, symlinks not followed). */
function installSize(project: string): { bytes: number; packages: number } {
  let bytes = 0;
  let packages = 0;
  const walk = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isSymbolicLink()) continue;
      if (!entry.isDirectory()) {
        bytes += lstatSync(path).size;
        continue;
      }
      const parent = dirname(path);
      const inModules =
        parent.endsWith('/node_modules') ||
        (parent.split('/').pop()!.startsWith('@') && dirname(parent).endsWith('/node_modules'));
      if (inModules && !entry.name.startsWith('.') && existsSync(join(path, 'package.json')))
        packages++;
      walk(path);
    }
  };
  const modules = join(project, 'node_modules');
  if (existsSync(modules)) walk(modules);
  return { bytes, packages };
}

interface License {
  name: string;
  version: string;
  license: string;
  requiredBy: string;
}

/** The licenses of a package's runtime dependencies, all the way down (npm's layout). */
function runtimeLicenses(project: string, name: string): License[] {
  const seen = new Set<string>();
  const found: License[] = [];
  /** Node's lookup: the nearest node_modules/<dependency> from the requiring package up. */
  const locate = (from: string, dependency: string): string | undefined => {
    for (let directory = from; ; directory = dirname(directory)) {
      const candidate = join(directory, 'node_modules', dependency);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
      if (directory === project || directory === dirname(directory)) return undefined;
    }
  };
  const visit = (folder: string, requiredBy: string) => {
    const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
    const dependencies = { ...manifest.optionalDependencies, ...manifest.dependencies };
    for (const dependency of Object.keys(dependencies)) {
      const location = locate(folder, dependency);
      if (location === undefined) continue; // an optional dependency for another platform
      const dependencyManifest = JSON.parse(readFileSync(join(location, 'package.json'), 'utf8'));
      const key = `${dependencyManifest.name}@${dependencyManifest.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (!String(dependencyManifest.name).startsWith('@livestep/')) {
        found.push({
          name: dependencyManifest.name,
          version: dependencyManifest.version,
          license: licenseOf(dependencyManifest),
          requiredBy,
        });
      }
      visit(location, dependencyManifest.name);
    }
  };
  visit(join(project, 'node_modules', ...name.split('/')), name);
  return found;
}

function licenseOf(manifest: Manifest): string {
  if (typeof manifest.license === 'string') return manifest.license;
  if (typeof manifest.license?.type === 'string') return manifest.license.type;
  if (Array.isArray(manifest.licenses)) {
    return manifest.licenses.map((entry) => entry.type).join(' OR ');
  }
  return 'UNKNOWN';
}

/** Whether an SPDX expression allows use under one of the allowed licenses. */
function licenseAllowed(expression: string): boolean {
  const cleaned = expression.replace(/[()]/g, ' ').trim();
  if (/\bOR\b/.test(cleaned)) return cleaned.split(/\s+OR\s+/).some(licenseAllowed);
  if (/\bAND\b/.test(cleaned)) return cleaned.split(/\s+AND\s+/).every(licenseAllowed);
  return ALLOWED_LICENSES.has(cleaned);
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024).toFixed(1)} kB`;
}

/**
 * Environment variables a built file reads: a `LIVESTEP_*`, `DVC_*` or `STUDIO_*` property read on
 * something named like an environment (`process.env.X`, `environment.X`, `env?.X`).
 */
function environmentVariablesIn(code: string): string[] {
  const pattern =
    /\b[A-Za-z_$]*(?:[eE]nv|[eE]nvironment)[A-Za-z_$]*\??\.((?:LIVESTEP|DVC|STUDIO)_[A-Z0-9_]*[A-Z0-9])\b/g;
  return [...new Set([...code.matchAll(pattern)].map((match) => match[1]!))].sort();
}

/** Whether a text names a variable as a whole word (`STUDIO_TOKEN` is not in `DVC_STUDIO_TOKEN`). */
function mentions(text: string, variable: string): boolean {
  return new RegExp(`(^|[^A-Z0-9_])${variable}([^A-Z0-9_]|$)`).test(text);
}

// ---------------------------------------------------------------------------------------------
// The test

const realPackages = publishedPackages(root);
const realVersions = new Map(realPackages.map((pkg) => [pkg.name, pkg.manifest.version as string]));
const realChangesets = readdirSync(join(root, '.changeset')).sort();

let registry: Registry;
let prebuildMirror: PrebuildMirror | undefined;
let rehearsal: Rehearsal;
const tarballs = new Map<string, Promise<Tarball>>();
/** Installs by `<tool> <package>`, each in its own fresh project. */
const installs = new Map<string, Promise<Project>>();
/** The quickstart of each package, run as ESM and as CommonJS and type-checked. */
const quickstarts = new Map<string, Promise<QuickstartResults>>();
const references = new Map<string, Promise<Project>>();
const report: Record<string, unknown> = {};
const timings: Array<{ step: string; seconds: number }> = [];
/** Entries of KNOWN_PROBLEMS that this run saw. */
const knownSeen = new Set<string>();

interface QuickstartResults {
  project: Project;
  esm: CommandResult;
  cjs: CommandResult;
  types: TypecheckResult;
}

function packageNamed(name: string): WorkspacePackage {
  const found = rehearsal.packages.find((pkg) => pkg.name === name);
  if (!found) throw new Error(`${name} was not released`);
  return found;
}

function readmeOf(pkg: WorkspacePackage): string {
  return readFileSync(join(rehearsal.copy, 'packages', pkg.folder, 'README.md'), 'utf8');
}

/** A promise whose rejection is reported by the test that awaits it, not as unhandled. */
function settled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

async function timed<T>(step: string, task: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await task();
  } finally {
    timings.push({ step, seconds: Math.round((performance.now() - started) / 100) / 10 });
  }
}

/** The README's quickstart with its prelude, or why there is none. */
function quickstartPrograms(name: string): Programs {
  const prelude = PRELUDES[name];
  if (!prelude) throw new Error(`no prelude for ${name}'s quickstart: add one to PRELUDES`);
  const block = quickstartOf(readmeOf(packageNamed(name)));
  if (!block) throw new Error(`${name}'s README has no TypeScript or JavaScript quickstart`);
  return programsFor(block.code, prelude);
}

/** A folder of the project for one program, with the files its quickstart reads. */
function programFolder(project: Project, name: string, label: string): string {
  const folder = join(project.folder, label);
  mkdirSync(folder, { recursive: true });
  for (const [target, source] of Object.entries(PRELUDES[name]?.files ?? {})) {
    mkdirSync(dirname(join(folder, target)), { recursive: true });
    cpSync(source, join(folder, target));
  }
  return folder;
}

async function runQuickstart(
  name: string,
  project: Project,
  checks: ReturnType<typeof limiter>,
): Promise<QuickstartResults> {
  if (project.installResult.code !== 0) {
    throw new Error(`${project.install} failed:\n${tail(project.installResult)}`);
  }
  const programs = quickstartPrograms(name);
  const label = `${project.tool} ${name}`;
  const [esm, cjs, types] = await Promise.all([
    checks(() =>
      timed(`${label}: quickstart as ESM`, () =>
        runIn(programFolder(project, name, 'esm'), 'quickstart.mjs', programs.esm),
      ),
    ),
    checks(() =>
      timed(`${label}: quickstart as CommonJS`, () =>
        runIn(programFolder(project, name, 'cjs'), 'quickstart.cjs', programs.cjs),
      ),
    ),
    checks(() =>
      timed(`${label}: tsc --strict`, async () => {
        writeFileSync(join(project.folder, 'quickstart-types.mts'), programs.esmSource);
        writeFileSync(join(project.folder, 'quickstart-types.cts'), programs.cjsSource);
        return typecheck(project.folder, 'quickstart', [
          'quickstart-types.mts',
          'quickstart-types.cts',
        ]);
      }),
    ),
  ]);
  return { project, esm, cjs, types };
}

beforeAll(
  async () => {
    registry = await timed('start Verdaccio', startRegistry);
    prebuildMirror = await startPrebuildMirror();
    rehearsal = await timed('changeset version + changeset publish', () =>
      rehearseRelease(registry),
    );
    for (const pkg of rehearsal.packages) {
      const version = rehearsal.after.get(pkg.name)!;
      tarballs.set(pkg.name, settled(downloadTarball(registry, pkg.name, version)));
    }
    // Everything starts now: installs two at a time, and each package's quickstart checks as
    // soon as its install is done, so the tests below mostly read finished results.
    const installing = limiter(INSTALL_CONCURRENCY);
    const checks = limiter(CHECK_CONCURRENCY);
    const install = (key: string, label: string, line: string, tool: 'npm' | 'pnpm') => {
      const promise = settled(
        installing(() =>
          timed(`${tool} install ${label}`, () =>
            installInFreshProject(registry, label, line, tool),
          ),
        ),
      );
      installs.set(key, promise);
      return promise;
    };
    // The slowest first: the CLI and the server compile better-sqlite3's addon.
    const order = ['livestep', '@livestep/server', '@livestep/tfjs', '@livestep/onnx'];
    const packages = [...rehearsal.packages].sort(
      (a, b) =>
        (order.indexOf(a.name) + 1 || order.length + 1) -
        (order.indexOf(b.name) + 1 || order.length + 1),
    );
    for (const pkg of packages) {
      const line = installLineOf(readmeOf(pkg), pkg.name);
      if (line === undefined) continue;
      const project = install(`npm ${pkg.name}`, pkg.name, line, 'npm');
      if (pkg.name !== 'livestep') {
        quickstarts.set(
          `npm ${pkg.name}`,
          settled(project.then((done) => runQuickstart(pkg.name, done, checks))),
        );
      }
      // pnpm's strict layout: tfjs's peers, and every dependency the CLI's bundle imports.
      if (pkg.name === '@livestep/tfjs') {
        const pnpmProject = install(`pnpm ${pkg.name}`, pkg.name, line, 'pnpm');
        quickstarts.set(
          `pnpm ${pkg.name}`,
          settled(pnpmProject.then((done) => runQuickstart(pkg.name, done, checks))),
        );
      }
      if (pkg.name === 'livestep') install(`pnpm ${pkg.name}`, pkg.name, line, 'pnpm');
    }
    for (const name of REFERENCE_PACKAGES) {
      references.set(name, install(`reference ${name}`, name, `npm install ${name}`, 'npm'));
    }
  },
  RELEASE_TIMEOUT_MS * 2 + REGISTRY_START_TIMEOUT_MS,
);

afterAll(async () => {
  // Every install and check has finished (or failed) before the registry goes away.
  await Promise.allSettled([...installs.values(), ...quickstarts.values(), ...tarballs.values()]);
  const gone = Object.keys(KNOWN_PROBLEMS).filter((key) => !knownSeen.has(key));
  if (gone.length > 0) {
    console.log(
      `\nKnown problems not seen in this run (remove them from KNOWN_PROBLEMS if their tests ran): ${gone.join('; ')}`,
    );
  }
  if (timings.length > 0) {
    console.log('\nRelease rehearsal, time per step (several run at once):');
    console.table(timings);
    report.timings = timings;
  }
  if (Object.keys(report).length > 0) {
    mkdirSync(join(root, 'test-e2e', '.tmp'), { recursive: true });
    writeFileSync(
      join(root, 'test-e2e', '.tmp', 'release-report.json'),
      `${JSON.stringify(report, null, 2)}\n`,
    );
  }
  registry?.child.kill();
  await prebuildMirror?.close();
  for (const file of prebuildMirror?.cached ?? []) rmSync(file, { force: true });
  for (const folder of temporaryFolders) rmSync(folder, { recursive: true, force: true });
}, INSTALL_TIMEOUT_MS);

async function installed(key: string): Promise<Project> {
  const project = await installs.get(key);
  if (project === undefined) {
    throw new Error(`no install was made for ${key}: its README has no npm install line naming it`);
  }
  expect(
    project.installResult.code,
    `${project.install} failed:\n${tail(project.installResult)}`,
  ).toBe(0);
  return project;
}

async function quickstartResults(key: string): Promise<QuickstartResults> {
  await installed(key);
  const results = await quickstarts.get(key);
  if (!results) throw new Error(`the quickstart of ${key} was not run`);
  return results;
}

function expectRan(name: string, folder: string, result: CommandResult, as: string): void {
  expect(result.code, `${name}'s quickstart as ${as}:\n${tail(result)}`).toBe(0);
  const { writes, prints } = PRELUDES[name]!;
  if (writes) {
    expect(existsSync(join(folder, writes)), `${name}'s quickstart as ${as} wrote ${writes}`).toBe(
      true,
    );
  }
  if (prints) expect(result.stdout, `${name}'s quickstart as ${as} printed`).toMatch(prints);
}

/** The package whose declarations an error is in (`node_modules/@livestep/x/dist/...`). */
function declarationPackage(line: string): string | undefined {
  return /^node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@livestep\/)?[^/(]+)\//.exec(
    line,
  )?.[1];
}

function expectTypes(name: string, types: TypecheckResult): void {
  const known = types.ours.filter((line) => {
    const owner = declarationPackage(line);
    return owner !== undefined && KNOWN_PROBLEMS[`${owner} declarations`] !== undefined;
  });
  expect(
    types.ours.filter((line) => !known.includes(line)),
    `tsc --strict on ${name}'s quickstart`,
  ).toEqual([]);
  for (const owner of new Set(known.map(declarationPackage))) {
    knownSeen.add(`${owner} declarations`);
    console.warn(`known problem, ${owner}: ${KNOWN_PROBLEMS[`${owner} declarations`]}`);
    report.knownProblems = {
      ...(report.knownProblems as object),
      [`${owner} declarations`]: known,
    };
  }
  if (types.theirs.length > 0) {
    const packages = [...new Set(types.theirs.map(declarationPackage))];
    console.log(
      `${name}: ${types.theirs.length} errors inside other packages' declarations without skipLibCheck (${packages.join(', ')}); none in livestep's`,
    );
  }
}

describe('release rehearsal: changeset version and changeset publish to a local registry', () => {
  it('applies the test changeset in a copy: every published package gets a higher version; the repository is untouched', () => {
    expect(rehearsal.packages.map((pkg) => pkg.name).sort()).toEqual(
      [...realVersions.keys()].sort(),
    );
    for (const pkg of rehearsal.packages) {
      const before = rehearsal.before.get(pkg.name)!;
      const after = rehearsal.after.get(pkg.name)!;
      expect(after, `${pkg.name}: ${before} -> ${after}`).not.toBe(before);
      const changelog = readFileSync(
        join(rehearsal.copy, 'packages', pkg.folder, 'CHANGELOG.md'),
        'utf8',
      );
      expect(changelog).toContain(`## ${after}`);
      expect(changelog).toContain('Release rehearsal (test only).');
    }
    // The repository's own versions and changesets are as they were.
    expect(new Map(publishedPackages(root).map((pkg) => [pkg.name, pkg.manifest.version]))).toEqual(
      realVersions,
    );
    expect(readdirSync(join(root, '.changeset')).sort()).toEqual(realChangesets);
    // Every changeset was consumed in the copy.
    const left = readdirSync(join(rehearsal.copy, '.changeset')).filter(
      (file) => file.endsWith('.md') && file !== 'README.md',
    );
    expect(left).toEqual([]);
    report.versions = Object.fromEntries(
      rehearsal.packages.map((pkg) => [
        pkg.name,
        `${rehearsal.before.get(pkg.name)} -> ${rehearsal.after.get(pkg.name)}`,
      ]),
    );
  });

  it('publishes every package at its new version, with workspace ranges replaced by the released versions', async () => {
    for (const pkg of rehearsal.packages) {
      const version = rehearsal.after.get(pkg.name)!;
      const meta = await packument(registry, pkg.name);
      expect(Object.keys(meta?.versions ?? {}), `${pkg.name} on the registry`).toEqual([version]);
      expect(meta?.['dist-tags']?.latest).toBe(version);
      const published = meta?.versions?.[version];
      for (const field of DEPENDENCY_FIELDS) {
        for (const [dependency, range] of Object.entries(published?.[field] ?? {})) {
          expect(range, `${pkg.name} ${field}.${dependency}`).not.toMatch(/^workspace:/);
          const sibling = rehearsal.after.get(dependency);
          if (sibling !== undefined && field === 'dependencies') {
            expect(range, `${pkg.name} depends on the released ${dependency}`).toBe(`^${sibling}`);
          }
        }
      }
    }
    // changeset publish tagged each release, as the workflow pushes them.
    const tags = await mustRun('git', ['tag'], { cwd: rehearsal.copy, timeout: 30_000 });
    for (const pkg of rehearsal.packages) {
      expect(tags.stdout).toContain(`${pkg.name}@${rehearsal.after.get(pkg.name)}`);
    }
  });

  it('refuses to publish a package whose build is missing (its prepack guard stops changeset publish)', async () => {
    const victim =
      rehearsal.packages.find((pkg) => pkg.name === '@livestep/loop') ?? rehearsal.packages[0]!;
    rmSync(join(rehearsal.copy, 'packages', victim.folder, 'dist'), {
      recursive: true,
      force: true,
    });
    writeFileSync(
      join(rehearsal.copy, '.changeset', 'release-rehearsal-unbuilt.md'),
      `---\n"${victim.name}": patch\n---\n\nUnbuilt release (test only).\n`,
    );
    await mustRun(process.execPath, [changesetBin(), 'version'], {
      cwd: rehearsal.copy,
      env: rehearsal.environment,
      timeout: RELEASE_TIMEOUT_MS,
    });
    const unbuiltVersion = JSON.parse(
      readFileSync(join(rehearsal.copy, 'packages', victim.folder, 'package.json'), 'utf8'),
    ).version as string;
    expect(unbuiltVersion).not.toBe(rehearsal.after.get(victim.name));
    const result = await command(process.execPath, [changesetBin(), 'publish'], {
      cwd: rehearsal.copy,
      env: rehearsal.environment,
      timeout: RELEASE_TIMEOUT_MS,
    });
    expect(result.code, tail(result)).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toContain(
      `${victim.name} cannot be packed or published without its build output`,
    );
    const meta = await packument(registry, victim.name);
    expect(Object.keys(meta?.versions ?? {})).not.toContain(unbuiltVersion);
  });
});

describe('published tarballs', { timeout: WAIT_TIMEOUT_MS }, () => {
  for (const { name } of realPackages) {
    it(`${name}: README, ESM, CJS and types; no tests or fixtures; source maps only with their sources`, async () => {
      const tarball = await tarballs.get(name)!;
      const missing = REQUIRED_ENTRIES.filter((entry) => !tarball.entries.includes(entry));
      expect(missing, `${name}'s tarball lacks`).toEqual([]);
      const unwanted = tarball.entries.flatMap((entry) =>
        FORBIDDEN_ENTRIES.filter(([pattern]) => pattern.test(entry)).map(
          ([, what]) => `${entry} (${what})`,
        ),
      );
      expect(unwanted, `${name}'s tarball ships files users do not need`).toEqual([]);
      expect(sourceMapProblems(tarball), `${name}'s source maps`).toEqual([]);
      const readme = tarball.files.get('package/README.md')?.toString('utf8');
      expect(
        readme === readmeOf(packageNamed(name)),
        'the published README is the package README',
      ).toBe(true);
    });
  }

  it('prints the packed size of each package', async () => {
    const rows: Array<Record<string, string | number>> = [];
    for (const { name } of realPackages) {
      const tarball = await tarballs.get(name)!;
      const maps = [...tarball.files].filter(([path]) => path.endsWith('.map'));
      const mapBytes = maps.reduce((sum, [, content]) => sum + content.length, 0);
      rows.push({
        package: `${name}@${tarball.version}`,
        packed: formatBytes(tarball.bytes),
        unpacked: formatBytes(tarball.unpackedBytes),
        'of which source maps': formatBytes(mapBytes),
        files: tarball.entries.length,
      });
    }
    console.log('\nPacked size of each published package (its tarball on the registry):');
    console.table(rows);
    report.packed = rows;
    expect(rows).toHaveLength(realPackages.length);
  });
});

describe('each package installed alone from the registry, used as its README says', {
  timeout: WAIT_TIMEOUT_MS,
}, () => {
  for (const { name } of realPackages.filter((pkg) => pkg.name !== 'livestep')) {
    describe(name, () => {
      it('installs alone with the README install line (npm)', async () => {
        expect(
          installLineOf(readmeOf(packageNamed(name)), name),
          `${name}'s README has an npm install line naming it`,
        ).toBeDefined();
        const project = await installed(`npm ${name}`);
        const manifest = JSON.parse(
          readFileSync(
            join(project.folder, 'node_modules', ...name.split('/'), 'package.json'),
            'utf8',
          ),
        );
        expect(manifest.version).toBe(rehearsal.after.get(name));
      });

      it('runs the README quickstart as ESM', async () => {
        const { project, esm } = await quickstartResults(`npm ${name}`);
        expectRan(name, join(project.folder, 'esm'), esm, 'ESM');
      });

      it('runs the README quickstart as CommonJS', async () => {
        const { project, cjs } = await quickstartResults(`npm ${name}`);
        expectRan(name, join(project.folder, 'cjs'), cjs, 'CommonJS');
      });

      it('type-checks the README quickstart with TypeScript strict, as ESM and as CommonJS', async () => {
        const { types } = await quickstartResults(`npm ${name}`);
        expectTypes(name, types);
      });
    });
  }

  it('@livestep/tfjs with pnpm (strict node_modules, peers resolved by pnpm): the quickstart runs as ESM and CommonJS and type-checks', async () => {
    const { project, esm, cjs, types } = await quickstartResults('pnpm @livestep/tfjs');
    expectRan('@livestep/tfjs', join(project.folder, 'esm'), esm, 'ESM (pnpm)');
    expectRan('@livestep/tfjs', join(project.folder, 'cjs'), cjs, 'CommonJS (pnpm)');
    expectTypes('@livestep/tfjs', types);
  });

  it('livestep: npm install --save-dev livestep, then npx livestep --help, and livestep serve answers', async () => {
    const project = await installed('npm livestep');
    const help = await command('npx', ['--no-install', 'livestep', '--help'], {
      cwd: project.folder,
      timeout: RUN_TIMEOUT_MS,
    });
    expect(help.code, tail(help)).toBe(0);
    expect(help.stdout).toContain('Usage: livestep <command>');
    for (const subcommand of ['serve', 'ls', 'show', 'sync']) {
      expect(help.stdout).toContain(`  ${subcommand}`);
    }
    // The README's first command: a server, on a free port here, with its data in the project.
    // Started from the bin npx runs (npx does not pass Ctrl-C on to it), stopped with Ctrl-C.
    const serve = spawn(
      join(project.folder, 'node_modules', '.bin', 'livestep'),
      ['serve', '--port', '0'],
      {
        cwd: project.folder,
        env: cleanEnvironment(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    serve.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    serve.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => serve.on('exit', resolve));
    const within = <T>(promise: Promise<T>, what: string) =>
      Promise.race([
        promise,
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`${what} within ${RUN_TIMEOUT_MS} ms:\n${output}`)),
            RUN_TIMEOUT_MS,
          ).unref(),
        ),
      ]);
    try {
      const url = await within(
        new Promise<string>((resolve, reject) => {
          const poll = setInterval(() => {
            const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
            if (match) {
              clearInterval(poll);
              resolve(match[1]!);
            }
          }, 100);
          exited.then(() => {
            clearInterval(poll);
            reject(new Error(`livestep serve exited:\n${output}`));
          });
        }),
        'livestep serve printed no URL',
      );
      const runs = await fetch(`${url}/api/v1/runs`);
      expect(runs.status).toBe(200);
      serve.kill('SIGINT');
      expect(await within(exited, 'livestep serve did not stop on Ctrl-C'), output).toBe(0);
      expect(output).toContain('stopped');
    } finally {
      if (serve.exitCode === null) serve.kill('SIGKILL');
    }
  });

  it('livestep: the functions its README says it exports are exported, from ESM and CommonJS', async () => {
    const project = await installed('npm livestep');
    const sentence = /The same functions are exported for scripts:([^.]*)\./.exec(
      readmeOf(packageNamed('livestep')),
    );
    const names = [...(sentence?.[1] ?? '').matchAll(/`(\w+)`/g)].map((match) => match[1]!);
    expect(names.length, 'the CLI README names the functions it exports').toBeGreaterThan(0);
    const check = `const names = ${JSON.stringify(names)};
const esm = await import('livestep');
const cjs = (await import('node:module')).createRequire(import.meta.url)('livestep');
const missing = names.filter((name) => typeof esm[name] !== 'function' || typeof cjs[name] !== 'function');
if (missing.length > 0) { console.error('not exported: ' + missing.join(', ')); process.exit(1); }
`;
    const result = await runIn(project.folder, 'exports.mjs', check);
    expect(result.code, tail(result)).toBe(0);
  });

  it('livestep with pnpm (strict node_modules): pnpm add -D livestep, then pnpm exec livestep --help', async () => {
    const project = await installed('pnpm livestep');
    const help = await command('npx', ['--yes', PNPM, 'exec', 'livestep', '--help'], {
      cwd: project.folder,
      env: cleanEnvironment(),
      timeout: RUN_TIMEOUT_MS,
    });
    expect(help.code, tail(help)).toBe(0);
    expect(help.stdout).toContain('Usage: livestep <command>');
  });

  it('fails when a README quickstart drifts from the API (control: a renamed method)', async () => {
    const project = await installed('npm @livestep/core');
    const block = quickstartOf(readmeOf(packageNamed('@livestep/core')))!;
    expect(block.code).toContain('run.logMetrics(');
    const drifted = programsFor(
      block.code.replace('run.logMetrics(', 'run.logMetricsAll('),
      PRELUDES['@livestep/core']!,
    );
    const ran = await runIn(project.folder, 'drifted.mjs', drifted.esm);
    expect(ran.code).not.toBe(0);
    expect(ran.stderr).toContain('logMetricsAll');
    writeFileSync(join(project.folder, 'drifted-types.mts'), drifted.esmSource);
    const checked = await typecheck(project.folder, 'drifted', ['drifted-types.mts']);
    expect(checked.ours.join('\n')).toContain("Property 'logMetricsAll' does not exist");
  });
});

describe('package READMEs (issue 14, item 3)', { timeout: WAIT_TIMEOUT_MS }, () => {
  for (const { name } of realPackages) {
    it(`${name}: install line, quickstart, peers and why, the environment variables it reads, a docs link`, async () => {
      const pkg = packageNamed(name);
      const readme = readmeOf(pkg);
      const missing: string[] = [];
      if (installLineOf(readme, name) === undefined)
        missing.push('an npm install line naming the package');
      if (name !== 'livestep' && quickstartOf(readme) === undefined) {
        missing.push('a TypeScript or JavaScript quickstart');
      }
      const peers = Object.keys(pkg.manifest.peerDependencies ?? {});
      for (const peer of peers) {
        if (!readme.includes(peer)) missing.push(`its peer dependency ${peer}`);
      }
      if (peers.length > 0 && !/peer dependenc/i.test(readme))
        missing.push('why its peers are peers');
      const tarball = await tarballs.get(name)!;
      const built = [...tarball.files]
        .filter(([path]) => /^package\/dist\/[^/]+\.js$/.test(path))
        .map(([, content]) => content.toString('utf8'))
        .join('\n');
      for (const variable of environmentVariablesIn(built)) {
        if (!mentions(readme, variable))
          missing.push(`${variable}, an environment variable it reads`);
      }
      if (!readme.includes('https://github.com/livestep/livestep'))
        missing.push('a link to the repository docs');
      expect(missing, `${name}'s README lacks`).toEqual([]);
    });
  }

  it('every import in every README code block resolves in the installed package', async () => {
    const problems: string[] = [];
    for (const pkg of rehearsal.packages) {
      const project = await installs.get(`npm ${pkg.name}`);
      if (project?.installResult.code !== 0) continue;
      const blocks = codeBlocks(readmeOf(pkg)).filter((block) =>
        CODE_LANGUAGES.has(block.language),
      );
      for (const block of blocks) {
        for (const { specifier, names } of importsOf(block.code)) {
          if (!/^(@livestep\/|livestep($|\/))/.test(specifier)) continue;
          const check = `const module = await import(${JSON.stringify(specifier)});
const missing = ${JSON.stringify(names)}.filter((name) => !(name in module));
if (missing.length > 0) { console.error('not exported: ' + missing.join(', ')); process.exit(1); }`;
          const result = await runIn(project.folder, 'import-check.mjs', check);
          if (result.code !== 0) {
            const reason =
              /(Error \[\w+\][^\n]*|not exported[^\n]*)/.exec(result.stderr)?.[1] ??
              tail(result, 3);
            problems.push(
              `${pkg.name} README ("${block.heading}"): import from '${specifier}': ${reason}`,
            );
          }
        }
      }
    }
    const isKnown = (problem: string) =>
      KNOWN_PROBLEMS[`${problem.split(' ')[0]} README imports`] !== undefined;
    for (const problem of problems.filter(isKnown)) {
      knownSeen.add(`${problem.split(' ')[0]} README imports`);
      console.warn(`known problem: ${problem}`);
    }
    report.readmeImportProblems = problems;
    expect(problems.filter((problem) => !isKnown(problem))).toEqual([]);
  });
});

describe('sizes and licenses', { timeout: WAIT_TIMEOUT_MS }, () => {
  it('prints the install size of @livestep/core with its dependencies, next to pino and @wandb/sdk', async () => {
    const core = await installed('npm @livestep/core');
    const rows: Array<Record<string, string | number>> = [];
    const coreSize = installSize(core.folder);
    rows.push({
      install: `${core.install} (${rehearsal.after.get('@livestep/core')})`,
      size: formatBytes(coreSize.bytes),
      packages: coreSize.packages,
    });
    for (const [name, promise] of references) {
      const project = await promise;
      if (project.installResult.code !== 0) {
        rows.push({
          install: project.install,
          size: `failed: ${tail(project.installResult, 2)}`,
          packages: 0,
        });
        continue;
      }
      const size = installSize(project.folder);
      const manifest = JSON.parse(
        readFileSync(
          join(project.folder, 'node_modules', ...name.split('/'), 'package.json'),
          'utf8',
        ),
      );
      rows.push({
        install: `${project.install} (${manifest.version})`,
        size: formatBytes(size.bytes),
        packages: size.packages,
      });
    }
    console.log(
      '\nInstall size: node_modules of a fresh project after the install, files as stored:',
    );
    console.table(rows);
    report.installSizes = rows;
    expect(coreSize.bytes).toBeLessThan(CORE_INSTALL_BYTES_LIMIT);
  });

  it('lists the licenses of the runtime dependencies of every package; all are permissive', async () => {
    const all = new Map<string, License & { packages: Set<string> }>();
    for (const pkg of rehearsal.packages) {
      const project = await installed(`npm ${pkg.name}`);
      for (const license of runtimeLicenses(project.folder, pkg.name)) {
        const key = `${license.name}@${license.version}`;
        const entry = all.get(key) ?? { ...license, packages: new Set<string>() };
        entry.packages.add(pkg.name);
        all.set(key, entry);
      }
    }
    const rows = [...all.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((entry) => ({
        dependency: `${entry.name}@${entry.version}`,
        license: entry.license,
        'needed by': [...entry.packages].join(', '),
      }));
    const byLicense = new Map<string, number>();
    for (const row of rows) byLicense.set(row.license, (byLicense.get(row.license) ?? 0) + 1);
    console.log(
      `\nRuntime dependencies of the published packages: ${rows.length}, by license: ${[
        ...byLicense,
      ]
        .map(([license, count]) => `${license} ${count}`)
        .join(', ')}`,
    );
    console.table(rows);
    report.licenses = rows;
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((row) => !licenseAllowed(row.license))).toEqual([]);
  });
});
