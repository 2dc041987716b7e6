// How much memory the machine can still give a new worker: MemAvailable from /proc/meminfo (what the
// kernel can hand out without swapping, page cache included), and inside a container the room left
// under its cgroup's limit, whichever is smaller. Other systems: Node's os.freemem().
import fs from 'node:fs/promises';
import os from 'node:os';

export interface MemoryFigures {
  availableBytes: number;
  totalBytes: number;
}

/** Above this a cgroup limit means "no limit" (cgroup v1 writes 2^63 rounded to a page). */
const NO_LIMIT = 2 ** 60;

export async function systemMemory(): Promise<MemoryFigures> {
  const meminfo = await fs.readFile('/proc/meminfo', 'utf8').then(parseMeminfo, () => undefined);
  const machine = meminfo ?? { availableBytes: os.freemem(), totalBytes: os.totalmem() };
  const cgroup = await cgroupRoom();
  if (!cgroup) return machine;
  return { availableBytes: Math.min(machine.availableBytes, cgroup.availableBytes), totalBytes: Math.min(machine.totalBytes, cgroup.totalBytes) };
}

/** MemTotal and MemAvailable (kernels before 3.14 have no MemAvailable: MemFree + Cached then). */
export function parseMeminfo(text: string): MemoryFigures | undefined {
  const kb = (name: string): number | undefined => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable') ?? (kb('MemFree') ?? 0) + (kb('Cached') ?? 0);
  return total === undefined ? undefined : { availableBytes: available, totalBytes: total };
}

/** The limit of this process's memory cgroup and the room under it (v2, then v1); undefined without a limit. */
async function cgroupRoom(): Promise<MemoryFigures | undefined> {
  const v2Path = await fs.readFile('/proc/self/cgroup', 'utf8').then((text) => /^0::(.*)$/m.exec(text)?.[1], () => undefined);
  const candidates = [
    ...(v2Path !== undefined ? [{ dir: `/sys/fs/cgroup${v2Path === '/' ? '' : v2Path}`, limit: 'memory.max', usage: 'memory.current', inactive: 'inactive_file' }] : []),
    { dir: '/sys/fs/cgroup/memory', limit: 'memory.limit_in_bytes', usage: 'memory.usage_in_bytes', inactive: 'total_inactive_file' },
  ];
  for (const { dir, limit, usage, inactive } of candidates) {
    const limitText = await fs.readFile(`${dir}/${limit}`, 'utf8').catch(() => undefined);
    if (limitText === undefined) continue;
    const limitBytes = Number(limitText.trim());
    if (!Number.isFinite(limitBytes) || limitBytes >= NO_LIMIT) return undefined; // "max" or huge: no limit
    const usedBytes = Number((await fs.readFile(`${dir}/${usage}`, 'utf8').catch(() => '0')).trim());
    const stat = await fs.readFile(`${dir}/memory.stat`, 'utf8').catch(() => '');
    // The page cache of files no longer in use is given back under pressure: it counts as room.
    const reclaimable = Number(new RegExp(`^${inactive} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0);
    return { availableBytes: Math.max(0, limitBytes - usedBytes + reclaimable), totalBytes: limitBytes };
  }
  return undefined;
}
