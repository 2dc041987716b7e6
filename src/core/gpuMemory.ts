// GPU memory, from `nvidia-smi` when that program exists: each GPU's total and free memory, and the
// memory each process uses (--query-compute-apps), so a worker's GPU memory is the sum over its
// process tree. Without nvidia-smi (no NVIDIA GPU, or no driver) there are no GPU figures at all.

export interface GpuDevice {
  index: number;
  uuid: string;
  totalBytes: number;
  freeBytes: number;
}

export interface GpuProcess {
  pid: number;
  gpuUuid: string;
  usedBytes: number;
}

export interface GpuSnapshot {
  devices: GpuDevice[];
  processes: GpuProcess[];
}

const MB = 1024 * 1024;
/** nvidia-smi takes 50–300 ms; figures this fresh are reused. */
const FRESH_MS = 1000;
/** After "not found", look again this much later (a driver may be installed meanwhile). */
const ABSENT_RECHECK_MS = 60_000;
const QUERY_TIMEOUT_MS = 5000;

export class GpuMonitor {
  private last: { at: number; snapshot: GpuSnapshot | undefined } | undefined;
  private pending: Promise<GpuSnapshot | undefined> | undefined;

  constructor(
    private readonly command = 'nvidia-smi',
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The current figures, or undefined when there is no nvidia-smi (or it fails). */
  snapshot(): Promise<GpuSnapshot | undefined> {
    const now = Date.now();
    const last = this.last;
    if (last && now - last.at < (last.snapshot ? FRESH_MS : ABSENT_RECHECK_MS)) return Promise.resolve(last.snapshot);
    this.pending ??= this.query()
      .then((snapshot) => {
        this.last = { at: Date.now(), snapshot };
        return snapshot;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async query(): Promise<GpuSnapshot | undefined> {
    // Loaded on first use, like the worker's libraries (dist/vendor): activation and `rpp --help` never pay for it.
    const { execa } = await import('execa');
    const run = (args: string[]) =>
      execa(this.command, args, { env: this.env, extendEnv: false, timeout: QUERY_TIMEOUT_MS, reject: false, stdin: 'ignore' });
    const [gpus, apps] = await Promise.all([
      run(['--query-gpu=index,uuid,memory.total,memory.free', '--format=csv,noheader,nounits']),
      run(['--query-compute-apps=pid,gpu_uuid,used_memory', '--format=csv,noheader,nounits']),
    ]);
    if (gpus.exitCode !== 0 || typeof gpus.stdout !== 'string') return undefined;
    const devices = parseGpuDevices(gpus.stdout);
    if (devices.length === 0) return undefined;
    return { devices, processes: apps.exitCode === 0 && typeof apps.stdout === 'string' ? parseComputeApps(apps.stdout) : [] };
  }
}

/** Lines of "index, uuid, memory.total, memory.free" in MiB; rows with unreadable figures are skipped. */
export function parseGpuDevices(csv: string): GpuDevice[] {
  return rows(csv, 4).flatMap(([index, uuid, total, free]) => {
    const figures = [Number(index), Number(total), Number(free)];
    if (!figures.every(Number.isFinite)) return [];
    return [{ index: figures[0]!, uuid: uuid!, totalBytes: figures[1]! * MB, freeBytes: figures[2]! * MB }];
  });
}

/** Lines of "pid, gpu_uuid, used_memory" in MiB; "[N/A]" (e.g. under WDDM, or without permission) is skipped. */
export function parseComputeApps(csv: string): GpuProcess[] {
  return rows(csv, 3).flatMap(([pid, gpuUuid, used]) => {
    if (!/^\d+$/.test(pid!) || !Number.isFinite(Number(used))) return [];
    return [{ pid: Number(pid), gpuUuid: gpuUuid!, usedBytes: Number(used) * MB }];
  });
}

/** The GPU memory of a set of processes (a worker's tree), in bytes. */
export function gpuBytesOf(snapshot: GpuSnapshot, pids: readonly number[]): number {
  const tree = new Set(pids);
  return snapshot.processes.filter((process) => tree.has(process.pid)).reduce((sum, process) => sum + process.usedBytes, 0);
}

/**
 * The GPUs a plugin may use: those named by CUDA_VISIBLE_DEVICES (indexes or UUIDs) in its environment,
 * else all. An empty or "-1" value hides every GPU.
 */
export function visibleDevices(snapshot: GpuSnapshot, cudaVisibleDevices: string | undefined): GpuDevice[] {
  if (cudaVisibleDevices === undefined) return snapshot.devices;
  const wanted = cudaVisibleDevices.split(',').map((item) => item.trim()).filter(Boolean);
  const picked: GpuDevice[] = [];
  for (const item of wanted) {
    if (/^-?\d+$/.test(item) && Number(item) < 0) break; // CUDA stops at the first invalid index
    const device = snapshot.devices.find((gpu) => String(gpu.index) === item || gpu.uuid === item || gpu.uuid.startsWith(item));
    if (!device) break;
    picked.push(device);
  }
  return picked;
}

function rows(csv: string, columns: number): string[][] {
  return csv
    .split(/\r?\n/)
    .map((line) => line.split(',').map((cell) => cell.trim()))
    .filter((cells) => cells.length === columns);
}
