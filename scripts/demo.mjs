#!/usr/bin/env node
// The demo behind `npm run demo`: a livestep server on a free port with its embedded store, the
// tfjs example trained as a real process streaming to it (LIVESTEP_URL), then the run's final
// metrics read back from the server's query API, and the server kept up until Ctrl-C so the run
// can be looked at (`npx livestep ls --url <url>`, or the query API in a browser).
//
//   node scripts/demo.mjs                    what `npm run demo` runs after building
//   LIVESTEP_DEMO_EXIT=1 node scripts/demo.mjs   exit once the run was read back (for tests)
//
// The server's data stays in examples/tfjs-fit/livestep-server (LIVESTEP_SERVER_DATA to move it),
// the run's files in examples/tfjs-fit/livestep, as the example writes them.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const example = join(root, 'examples', 'tfjs-fit');
/** The metrics a user looks at first; the rest are one `livestep show` away. */
const HEADLINE_METRICS = ['train/loss', 'train/acc', 'eval/loss', 'eval/acc'];

const { createServer } = await import(
  pathToFileURL(join(root, 'packages', 'server', 'dist', 'index.js')).href
);
const dataDirectory = resolve(
  process.env.LIVESTEP_SERVER_DATA?.trim() || join(example, 'livestep-server'),
);
const server = await createServer({ port: 0, dataDirectory });
console.log(`livestep server at ${server.url} (data in ${dataDirectory})\n`);

const environment = { ...process.env, LIVESTEP_URL: server.url };
delete environment.LIVESTEP_TOKEN;
const code = await new Promise((done) => {
  const child = spawn(process.execPath, [join(example, 'src', 'main.mjs')], {
    cwd: example,
    env: environment,
    stdio: 'inherit',
  });
  child.on('exit', (exitCode, signal) => done(exitCode ?? (signal ? 1 : 0)));
});

async function get(path) {
  const response = await fetch(new URL(path, server.url));
  if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
  return response.json();
}

/** A metric value as the server sends it: a number, or "nan" / "inf" / "-inf". */
function format(value) {
  return typeof value === 'number' ? value.toFixed(4) : String(value);
}

if (code === 0) {
  const { runs } = await get('/api/v1/runs?sort=-created&limit=1');
  const run = runs[0];
  if (run === undefined) {
    console.error('The run did not reach the server: see the warnings above.');
  } else {
    const { latest } = await get(`/api/v1/runs/${run.id}/metrics/latest`);
    const byName = new Map(latest.map((entry) => [entry.name, entry]));
    console.log(`\nRead back from ${server.url}: run "${run.name}" (${run.state})`);
    for (const name of HEADLINE_METRICS) {
      const entry = byName.get(name);
      if (entry !== undefined) {
        console.log(`  ${name.padEnd(11)} ${format(entry.value)}  (step ${entry.step})`);
      }
    }
    console.log(`  all of it: ${server.url}/api/v1/runs/${run.id}`);
  }
}

if (code !== 0 || process.env.LIVESTEP_DEMO_EXIT === '1') {
  await server.close();
  process.exit(code);
}
console.log(
  `\nServing at ${server.url}: try \`npx livestep ls --url ${server.url}\`. Ctrl-C stops it.`,
);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await server.close();
    process.exit(0);
  });
}
