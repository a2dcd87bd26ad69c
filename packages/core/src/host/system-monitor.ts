/**
 * System metrics sampled in the background while a run is open, under DVCLive's names and units
 * (`system/cpu/usage (%)`, `system/ram/usage (GB)`, ...; GB = bytes / 1024^3), plus what a Node
 * process adds: its own CPU and memory, and the event loop's delay.
 *
 *   const monitor = startSystemMonitor(run);   // a sample every 5 s, at the run's current step
 *   ...train...
 *   monitor.stop();                             // one last sample, then nothing more
 *
 * CPU usage is measured from the kernel's cumulative tick counters (`os.cpus()`), so each value is
 * the exact average over the time since the previous sample: no need to sample often and average,
 * as DVCLive does with psutil. RAM values are read at the sample. The GPU is queried with
 * `nvidia-smi` in a child process, in the background, only when it answers; each sample logs the
 * latest answer and asks for a fresh one, so GPU values lag by at most one interval.
 *
 * The monitor never throws into the training loop: a failed sample is reported by one warning, and
 * sampling goes on. A loop that never yields to the event loop starves the interval timer; such a
 * loop (e.g. `track()` in @livestep/loop) calls `sampleIfDue()` now and then.
 */
import { type ChildProcess, type ExecFileException, execFile } from 'node:child_process';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { emitLivestepWarning } from '../delivery/livestep-warning.js';
import type { Run } from '../run/run.js';

/**
 * Time between samples. DVCLive logs once a second (20 samples 50 ms apart, averaged); tick
 * counters make the average exact whatever the interval, so a longer one only costs resolution,
 * and 5 s keeps a long run's files and streams small (720 points per metric per hour).
 */
export const DEFAULT_SYSTEM_MONITOR_INTERVAL_MS = 5_000;
/** Below this the samples cost more than they tell (os.cpus() and a child process per GPU query). */
const MIN_INTERVAL_MS = 100;
/** A last sample at stop() over a shorter window than this is noise next to the regular one just before. */
const MIN_FINAL_WINDOW_MS = 1_000;
/** nvidia-smi answers in well under a second; a hung driver must not leave a child behind. */
const NVIDIA_SMI_TIMEOUT_MS = 3_000;
/** psutil's threshold in DVCLive: a core busier than this counts as working in parallel. */
const ACTIVE_CORE_USAGE_PERCENT = 20;
/** Resolution of the event-loop delay histogram: Node's default, fine enough for training loops. */
const EVENT_LOOP_RESOLUTION_MS = 10;
/** DVCLive's unit: GB means GiB, bytes / 1024^3. */
const BYTES_PER_GB = 1024 ** 3;
/** nvidia-smi reports memory in MiB. */
const MIB_PER_GB = 1024;
/** Decimals kept: percentages to 0.01, GB to 0.1 MB, milliseconds to the microsecond. */
const PERCENT_DECIMALS = 2;
const GB_DECIMALS = 4;
const MS_DECIMALS = 3;

/** The metric names, as DVCLive's monitor_system writes them (and the process-level ones it lacks). */
export const SYSTEM_METRICS = {
  cpuCount: 'system/cpu/count',
  cpuUsage: 'system/cpu/usage (%)',
  cpuParallelization: 'system/cpu/parallelization (%)',
  ramUsagePercent: 'system/ram/usage (%)',
  ramUsage: 'system/ram/usage (GB)',
  ramTotal: 'system/ram/total (GB)',
  processCpuUsage: 'system/process/cpu/usage (%)',
  processRss: 'system/process/ram/rss (GB)',
  processHeapUsed: 'system/process/heap/used (GB)',
  eventLoopDelayP99: 'system/event-loop/delay/p99 (ms)',
  /** The GPU metrics below get the GPU's index appended: `system/gpu/usage (%)/0`. */
  gpuCount: 'system/gpu/count',
  gpuUsage: 'system/gpu/usage (%)',
  vramUsagePercent: 'system/vram/usage (%)',
  vramUsage: 'system/vram/usage (GB)',
  vramTotal: 'system/vram/total (GB)',
} as const;

export interface SystemMonitorOptions {
  /** Time between samples in ms (default 5000, at least 100). */
  intervalMs?: number;
  /** `'auto'` (default): GPU metrics when `nvidia-smi` answers; `false`: never ask. */
  gpu?: 'auto' | false;
  /** The nvidia-smi executable (default `nvidia-smi`, looked up on the PATH). */
  nvidiaSmiPath?: string;
  /** Where the one warning about a failing sample goes (default: process.emitWarning). */
  onWarning?: (message: string) => void;
}

export interface SystemMonitor {
  /** Logs a sample if the interval has passed since the last one: for loops that never yield. */
  sampleIfDue(): void;
  /** Logs a sample now, covering the time since the previous one. */
  sample(): void;
  /** Stops sampling, after a last sample of the time since the previous one. Safe to call twice. */
  stop(): void;
}

/** What the monitor needs of a run: to log, and to know when to stop. */
export type SystemMetricsTarget = Pick<Run, 'logMetric' | 'ended'>;

interface CoreTicks {
  idle: number;
  total: number;
}

export interface GpuReading {
  index: number;
  /** Percent of time a kernel ran, or undefined when the GPU does not say ("[N/A]"). */
  usagePercent: number | undefined;
  memoryUsedMib: number;
  memoryTotalMib: number;
}

const NVIDIA_SMI_ARGUMENTS = [
  '--query-gpu=index,utilization.gpu,memory.used,memory.total',
  '--format=csv,noheader,nounits',
];

/** Starts sampling system metrics into `run`, at the run's current step. Returns `{ stop() }`. */
export function startSystemMonitor(
  run: SystemMetricsTarget,
  options: SystemMonitorOptions = {},
): SystemMonitor {
  const intervalMs = options.intervalMs ?? DEFAULT_SYSTEM_MONITOR_INTERVAL_MS;
  if (typeof intervalMs !== 'number' || !(intervalMs >= MIN_INTERVAL_MS)) {
    throw new TypeError(
      `livestep: system monitor intervalMs got ${String(intervalMs)}; pass a number of milliseconds >= ${MIN_INTERVAL_MS} (default ${DEFAULT_SYSTEM_MONITOR_INTERVAL_MS})`,
    );
  }
  if (options.gpu !== undefined && options.gpu !== 'auto' && options.gpu !== false) {
    throw new TypeError(
      `livestep: system monitor gpu got ${JSON.stringify(options.gpu)}; pass 'auto' or false`,
    );
  }
  const warn = options.onWarning ?? emitLivestepWarning;
  const nvidiaSmiPath = options.nvidiaSmiPath ?? 'nvidia-smi';

  let stopped = false;
  let warned = false;
  let samples = 0;
  let staticLogged = false;
  let gpuStaticLogged = false;
  let lastSampleAt = performance.now();
  let previousCores = readCoreTicks();
  let previousProcessCpu = process.cpuUsage();
  const eventLoopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  eventLoopDelay.enable();

  /** 'asking': the first query is out; 'on': it answered; 'off': it did not, or gpu is false. */
  let gpuState: 'asking' | 'on' | 'off' = options.gpu === false ? 'off' : 'asking';
  let gpuQueryInFlight = false;
  let gpuChild: ChildProcess | undefined;
  let latestGpuReadings: GpuReading[] | undefined;

  const log = (name: string, value: number, decimals?: number) => {
    run.logMetric(name, decimals === undefined ? value : round(value, decimals));
  };

  function warnOnce(message: string): void {
    if (warned) return;
    warned = true;
    try {
      warn(message);
    } catch {
      // A warning handler that throws must not reach the training loop either.
    }
  }

  function queryGpu(): void {
    if (gpuState === 'off' || gpuQueryInFlight) return;
    gpuQueryInFlight = true;
    let child: ChildProcess;
    try {
      child = execFile(
        nvidiaSmiPath,
        NVIDIA_SMI_ARGUMENTS,
        { windowsHide: true, encoding: 'utf8' },
        (error, stdout, stderr) => {
          clearTimeout(deadline);
          gpuQueryInFlight = false;
          gpuChild = undefined;
          if (stopped) return;
          const readings = error ? undefined : parseNvidiaSmi(String(stdout));
          if (readings !== undefined && readings.length > 0) {
            gpuState = 'on';
            latestGpuReadings = readings;
            return;
          }
          // Absent or broken on the first try: this machine has no GPU to report, quietly.
          if (gpuState === 'on') {
            warnOnce(
              `livestep: nvidia-smi stopped answering (${describeFailure(error, String(stderr))}); GPU metrics are off for the rest of the run`,
            );
          }
          gpuState = 'off';
          latestGpuReadings = undefined;
        },
      );
    } catch {
      gpuQueryInFlight = false;
      gpuState = 'off';
      return;
    }
    gpuChild = child;
    // execFile's own `timeout` holds the event loop; this deadline does not.
    const deadline = setTimeout(() => killSpawned(child), NVIDIA_SMI_TIMEOUT_MS);
    deadline.unref();
    // A background query must never keep the process alive.
    child.unref();
    unrefPipe(child.stdout);
    unrefPipe(child.stderr);
  }

  function takeSample(final = false): void {
    if (run.ended) {
      stop(false);
      return;
    }
    try {
      const now = performance.now();
      const windowMs = now - lastSampleAt;
      lastSampleAt = now;
      samples++;

      const cores = readCoreTicks();
      const cpuCount = cores.length || os.availableParallelism();
      if (!staticLogged) {
        log(SYSTEM_METRICS.cpuCount, cpuCount);
        log(SYSTEM_METRICS.ramTotal, os.totalmem() / BYTES_PER_GB, GB_DECIMALS);
        staticLogged = true;
      }
      if (cores.length > 0 && cores.length === previousCores.length) {
        const usages = cores.map((core, index) => coreUsagePercent(previousCores[index]!, core));
        const mean = usages.reduce((sum, usage) => sum + usage, 0) / usages.length;
        const active = usages.filter((usage) => usage >= ACTIVE_CORE_USAGE_PERCENT).length;
        log(SYSTEM_METRICS.cpuUsage, mean, PERCENT_DECIMALS);
        log(SYSTEM_METRICS.cpuParallelization, (100 * active) / usages.length, PERCENT_DECIMALS);
      }
      previousCores = cores;

      // os.freemem() is MemAvailable on Linux: what psutil's `percent` counts as not in use.
      const total = os.totalmem();
      const used = total - os.freemem();
      log(SYSTEM_METRICS.ramUsagePercent, (100 * used) / total, PERCENT_DECIMALS);
      log(SYSTEM_METRICS.ramUsage, used / BYTES_PER_GB, GB_DECIMALS);

      const processCpu = process.cpuUsage(previousProcessCpu);
      previousProcessCpu = process.cpuUsage();
      const cpuMicroseconds = processCpu.user + processCpu.system;
      // Like `top`: 100% is one core busy, so a process using several threads may exceed 100.
      const processUsage = windowMs > 0 ? (cpuMicroseconds / 1000 / windowMs) * 100 : 0;
      log(SYSTEM_METRICS.processCpuUsage, processUsage, PERCENT_DECIMALS);
      const memory = process.memoryUsage();
      log(SYSTEM_METRICS.processRss, memory.rss / BYTES_PER_GB, GB_DECIMALS);
      log(SYSTEM_METRICS.processHeapUsed, memory.heapUsed / BYTES_PER_GB, GB_DECIMALS);

      // No tick at all in the window means the loop was blocked for all of it.
      const delayMs =
        eventLoopDelay.count > 0 ? eventLoopDelay.percentile(99) / 1e6 : Math.max(0, windowMs);
      log(SYSTEM_METRICS.eventLoopDelayP99, delayMs, MS_DECIMALS);
      eventLoopDelay.reset();

      if (latestGpuReadings !== undefined) logGpu(latestGpuReadings);
    } catch (error) {
      warnOnce(
        `livestep: a system metrics sample failed (${error instanceof Error ? error.message : String(error)}); training goes on, and the monitor keeps trying`,
      );
    }
    if (!final && !stopped) {
      timer.refresh();
      queryGpu();
    }
  }

  function logGpu(readings: GpuReading[]): void {
    if (!gpuStaticLogged) {
      log(SYSTEM_METRICS.gpuCount, readings.length);
      for (const gpu of readings) {
        log(
          `${SYSTEM_METRICS.vramTotal}/${gpu.index}`,
          gpu.memoryTotalMib / MIB_PER_GB,
          GB_DECIMALS,
        );
      }
      gpuStaticLogged = true;
    }
    for (const gpu of readings) {
      if (gpu.usagePercent !== undefined) {
        log(`${SYSTEM_METRICS.gpuUsage}/${gpu.index}`, gpu.usagePercent, PERCENT_DECIMALS);
      }
      if (gpu.memoryTotalMib > 0) {
        log(
          `${SYSTEM_METRICS.vramUsagePercent}/${gpu.index}`,
          (100 * gpu.memoryUsedMib) / gpu.memoryTotalMib,
          PERCENT_DECIMALS,
        );
      }
      log(`${SYSTEM_METRICS.vramUsage}/${gpu.index}`, gpu.memoryUsedMib / MIB_PER_GB, GB_DECIMALS);
    }
  }

  function stop(finalSample = true): void {
    if (stopped) return;
    if (finalSample && !run.ended) {
      const windowMs = performance.now() - lastSampleAt;
      // Every monitored run gets at least one sample, however short it was.
      if (samples === 0 || windowMs >= MIN_FINAL_WINDOW_MS) takeSample(true);
    }
    stopped = true;
    clearTimeout(timer);
    eventLoopDelay.disable();
    if (gpuChild !== undefined) killSpawned(gpuChild);
  }

  const timer = setTimeout(function sampleOnTimer() {
    takeSample();
  }, intervalMs);
  // Sampling must never keep a finished script alive.
  timer.unref();
  queryGpu();

  return {
    sampleIfDue() {
      if (!stopped && performance.now() - lastSampleAt >= intervalMs) takeSample();
    },
    sample() {
      if (!stopped) takeSample();
    },
    stop() {
      stop(true);
    },
  };
}

/** One line on why a query failed: no answer in time, exit code and the first line it printed, or bad output. */
/**
 * Kills a child only once its spawn succeeded: Node 20 sends SIGTERM to the whole process group
 * when kill() is called on a child whose spawn has not reported yet (no pid), which would stop
 * the training process itself and its parent shell.
 */
function killSpawned(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null) child.kill();
}

function describeFailure(error: ExecFileException | null, stderr: string): string {
  if (error === null) return 'output not in the expected CSV form';
  if (error.killed) return `no answer within ${NVIDIA_SMI_TIMEOUT_MS / 1000} s`;
  const firstLine = stderr.trim().split(/\r?\n/)[0] || error.message.split(/\r?\n/)[0];
  return `exit code ${error.code ?? error.signal}: ${firstLine}`;
}

/** A child's stdout/stderr are sockets underneath; unref'd, they do not hold the event loop either. */
function unrefPipe(stream: unknown): void {
  (stream as { unref?: () => void } | null)?.unref?.();
}

function readCoreTicks(): CoreTicks[] {
  return os.cpus().map(({ times }) => ({
    idle: times.idle,
    total: times.user + times.nice + times.sys + times.idle + times.irq,
  }));
}

/** Busy share of a core between two readings; 0 when no tick passed (a window under ~10 ms). */
function coreUsagePercent(before: CoreTicks, after: CoreTicks): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  const idle = after.idle - before.idle;
  return Math.min(100, Math.max(0, 100 * (1 - idle / total)));
}

/**
 * Parses `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total
 * --format=csv,noheader,nounits`: one line per GPU, `0, 35, 1234, 16384` (percent, MiB, MiB).
 * Returns undefined when the output is not that.
 */
export function parseNvidiaSmi(output: string): GpuReading[] | undefined {
  const readings: GpuReading[] = [];
  for (const line of output.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const cells = line.split(',').map((cell) => cell.trim());
    if (cells.length !== 4) return undefined;
    const [index, usage, used, total] = cells.map(Number) as [number, number, number, number];
    if (!Number.isInteger(index) || !Number.isFinite(used) || !Number.isFinite(total)) {
      return undefined;
    }
    readings.push({
      index,
      usagePercent: Number.isFinite(usage) ? usage : undefined,
      memoryUsedMib: used,
      memoryTotalMib: total,
    });
  }
  return readings;
}

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
