/**
 * ClearML and MLflow sinks: requests and bytes per 100,000 points, against what the vendors' own
 * SDKs' batching sends for the same points (the issue's baselines: ClearML's SDK flushes a batch
 * per 100 events or every 5 s, backends.md A.6; MLflow's sends a log-batch per 1000 metrics).
 * Target: never more requests than the vendor's SDK.
 *
 * Two workloads, each through a real sink to a counting receiver on 127.0.0.1 that answers as the
 * tracker does (success envelopes only; the fakes in test-support check the bodies, this counts):
 *
 * - fast: 100,000 points logged as fast as a training loop can (yielding every 1,000);
 * - paced: 200 points a second for 10 s (a loop with a step every 50 ms logging 10 metrics).
 *   The SDK model is applied to the same timeline (when each point was logged), then both are
 *   given per 100,000 points.
 *
 * The ratio compares data requests (events.add_batch, runs/log-batch), the ones the SDK models
 * count; the calls around them (login, project or experiment, task or run, params, the end) are
 * printed in the totals, and the SDKs make them too. Bytes are request bodies.
 */
import { createServer } from 'node:http';
import { createClearmlSink, createMlflowSink, Run } from '@livestep/core';
import { formatInteger, printResult, round, target } from './lib/report.mjs';

const FAST_POINTS = 100_000;
const PACED_SECONDS = 10;
const PACED_POINTS_PER_STEP = 10;
const PACED_STEP_MS = 50;
const PER = 100_000;

/** A receiver that counts requests and body bytes per path and answers as the tracker does. */
function startReceiver(answer) {
  const requests = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = new URL(request.url, 'http://x').pathname;
      requests.push({ path, bytes: body.length, body, at: performance.now() });
      const [status, json] = answer(path, body);
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, requests, url: `http://127.0.0.1:${server.address().port}` }),
    ),
  );
}

function clearmlAnswer(path, body) {
  const envelope = (data) => [
    200,
    { meta: { result_code: 200, result_subcode: 0, result_msg: 'OK' }, data },
  ];
  if (path === '/auth.login') return envelope({ token: 'bench-token' });
  if (path === '/projects.get_all') return envelope({ projects: [{ id: 'p1', name: 'bench' }] });
  if (path === '/tasks.create') return envelope({ id: 't1' });
  if (path === '/events.add_batch') {
    const added = body.toString('utf8').split('\n').filter(Boolean).length;
    return envelope({ added, errors: 0, errors_info: {} });
  }
  return envelope({ updated: 1, fields: {} });
}

function mlflowAnswer(path) {
  if (path.endsWith('/experiments/get-by-name')) {
    return [200, { experiment: { experiment_id: '1', name: 'bench', lifecycle_stage: 'active' } }];
  }
  if (path.endsWith('/runs/create'))
    return [200, { run: { info: { run_id: 'r1', run_uuid: 'r1' } } }];
  return [200, {}];
}

/** Logs points into `run`, fast or paced; returns when each point was logged (ms, performance.now). */
async function logPoints(run, workload) {
  const times = [];
  if (workload === 'fast') {
    for (let index = 0; index < FAST_POINTS; index++) {
      run.logMetric(`train/m${index % 10}`, (index % 997) / 997, { step: Math.floor(index / 10) });
      times.push(performance.now());
      if (index % 1000 === 999) await new Promise(setImmediate);
    }
    return times;
  }
  const steps = (PACED_SECONDS * 1000) / PACED_STEP_MS;
  const started = performance.now();
  for (let step = 0; step < steps; step++) {
    for (let metric = 0; metric < PACED_POINTS_PER_STEP; metric++) {
      run.logMetric(`train/m${metric}`, ((step * 7 + metric) % 997) / 997, { step });
      times.push(performance.now());
    }
    const next = started + (step + 1) * PACED_STEP_MS;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
  }
  return times;
}

/** ClearML's SDK: a flush when 100 events wait, or 5 s after the previous flush (A.6). */
function clearmlSdkRequests(times) {
  let requests = 0;
  let waiting = 0;
  let lastFlush = times[0] ?? 0;
  for (const at of times) {
    if (waiting > 0 && at - lastFlush >= 5000) {
      requests++;
      waiting = 0;
      lastFlush = at;
    }
    waiting++;
    if (waiting >= 100) {
      requests++;
      waiting = 0;
      lastFlush = at;
    }
  }
  return requests + (waiting > 0 ? 1 : 0);
}

/** MLflow's batching as the issue states it: a log-batch per 1000 metrics. */
function mlflowSdkRequests(times) {
  return Math.ceil(times.length / 1000);
}

async function measure(tracker, workload) {
  const receiver = await startReceiver(tracker === 'clearml' ? clearmlAnswer : mlflowAnswer);
  const sink =
    tracker === 'clearml'
      ? createClearmlSink({
          apiHost: receiver.url,
          accessKey: 'bench',
          secretKey: 'bench-secret',
          onTaskLink() {},
          onWarning() {},
        })
      : createMlflowSink({ trackingUri: receiver.url, onWarning() {} });
  const run = new Run({
    experiment: 'bench',
    name: 'bench',
    exitHooks: false,
    collectGit: false,
    sinks: [sink],
  });
  const times = await logPoints(run, workload);
  const report = await run.end();
  receiver.server.close();
  if (!report.ok)
    throw new Error(
      `${tracker} ${workload}: not everything was delivered: ${JSON.stringify(report)}`,
    );
  const dataPath = tracker === 'clearml' ? '/events.add_batch' : '/api/2.0/mlflow/runs/log-batch';
  const data = receiver.requests.filter((request) => request.path === dataPath);
  const points = times.length;
  const sdkRequests = tracker === 'clearml' ? clearmlSdkRequests(times) : mlflowSdkRequests(times);
  const dataBytes = data.reduce((sum, request) => sum + request.bytes, 0);
  const scale = PER / points;
  return {
    points,
    requests: receiver.requests.length * scale,
    dataRequests: data.length * scale,
    sdkRequests: sdkRequests * scale,
    bytes: receiver.requests.reduce((sum, request) => sum + request.bytes, 0) * scale,
    dataBytes: dataBytes * scale,
  };
}

const rows = [];
const metrics = {};
const targets = [];
for (const tracker of ['clearml', 'mlflow']) {
  for (const workload of ['fast', 'paced']) {
    const result = await measure(tracker, workload);
    rows.push([tracker, workload, result]);
    const key = `${tracker}_${workload}`;
    metrics[`${key}_requests_per_100k`] = round(result.requests, 1);
    metrics[`${key}_data_requests_per_100k`] = round(result.dataRequests, 1);
    metrics[`${key}_sdk_requests_per_100k`] = round(result.sdkRequests, 1);
    metrics[`${key}_bytes_per_100k`] = Math.round(result.bytes);
    const issueBaseline = tracker === 'clearml' || workload === 'fast';
    targets.push(
      target(
        `${tracker} ${workload}: data requests per 100k points / the SDK's`,
        round(result.dataRequests / result.sdkRequests, 3),
        1,
        issueBaseline ? 'target' : 'goal',
      ),
    );
  }
}

console.log(
  'requests and bytes per 100,000 points; "data" are events.add_batch / runs/log-batch, the',
);
console.log('SDK model counts only those (both also log in, create the task or run, and end it)');
console.log('tracker  workload  all requests  data requests  SDK data requests  ratio  body bytes');
for (const [tracker, workload, result] of rows) {
  console.log(
    `${tracker.padEnd(8)} ${workload.padEnd(9)} ${formatInteger(result.requests).padStart(12)}  ${formatInteger(result.dataRequests).padStart(13)}  ${formatInteger(result.sdkRequests).padStart(17)}  ${(result.dataRequests / result.sdkRequests).toFixed(3).padStart(5)}  ${formatInteger(result.bytes).padStart(10)}`,
  );
}
console.log(
  "MLflow paced is a goal, not a target: the issue's baseline (a log-batch per 1000 metrics) holds points without a time bound, which a live sink must not; livestep sends one request a second at most (postIntervalMs), MLflow's fluent log_metric one per point.",
);
printResult({ name: 'tracker-requests', metrics, targets });
