import os from 'node:os';
import type { MachineInfo } from '../protocol/events.js';

/** What machine a run ran on: enough to explain a difference in speed between two runs. */
export function collectMachineInfo(): MachineInfo {
  const cpus = os.cpus();
  const info: MachineInfo = {
    hostname: os.hostname(),
    platform: process.platform,
    arch: process.arch,
    release: os.release(),
    cpuCount: cpus.length,
    memoryBytes: os.totalmem(),
    runtime: 'node',
    runtimeVersion: process.versions.node,
  };
  const model = cpus[0]?.model.trim();
  if (model) info.cpuModel = model;
  return info;
}
