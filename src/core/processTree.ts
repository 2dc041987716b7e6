// The memory of a worker's whole process tree (the worker and every process it started), read from
// /proc: what it holds now (VmRSS) and the most each process has held (VmHWM, the kernel's own peak,
// so a spike between two samples is not missed). Elsewhere there is no /proc: undefined.
import fs from 'node:fs/promises';

export interface TreeMemory {
  /** The root and its descendants that were alive when read. */
  pids: number[];
  rssBytes: number;
  /** Sum of each process's peak: an upper bound of the tree's peak, which is what admission needs. */
  peakBytes: number;
}

export async function processTreeMemory(rootPid: number): Promise<TreeMemory | undefined> {
  const pids = await processTree(rootPid);
  if (pids.length === 0) return undefined;
  const figures = await Promise.all(pids.map(statusMemory));
  const alive = figures.filter((figure): figure is { pid: number; rss: number; peak: number } => figure !== undefined);
  if (alive.length === 0) return undefined;
  return {
    pids: alive.map((figure) => figure.pid),
    rssBytes: alive.reduce((sum, figure) => sum + figure.rss, 0),
    peakBytes: alive.reduce((sum, figure) => sum + Math.max(figure.peak, figure.rss), 0),
  };
}

/** The root and its descendants, from each thread's `children` list (a child belongs to the thread that forked it). */
export async function processTree(rootPid: number): Promise<number[]> {
  const found: number[] = [];
  const seen = new Set<number>();
  let frontier = [rootPid];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const pid of frontier) {
      if (seen.has(pid)) continue;
      const children = await childrenOf(pid);
      if (children === undefined) {
        if (pid === rootPid) return (await hasProc(rootPid)) ? scanTree(rootPid) : [];
        continue; // ended while we looked
      }
      seen.add(pid);
      found.push(pid);
      next.push(...children);
    }
    frontier = next;
  }
  return found;
}

async function childrenOf(pid: number): Promise<number[] | undefined> {
  let tasks: string[];
  try {
    tasks = await fs.readdir(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const lists = await Promise.all(tasks.map((tid) => fs.readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => undefined)));
  if (lists.every((list) => list === undefined)) return undefined;
  return lists.flatMap((list) => (list ?? '').split(' ').filter(Boolean).map(Number));
}

async function hasProc(pid: number): Promise<boolean> {
  return fs.access(`/proc/${pid}/stat`).then(() => true, () => false);
}

/** Without `children` files (an older kernel): the parent of every process, from /proc/*\/stat. */
async function scanTree(rootPid: number): Promise<number[]> {
  const names = (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const parents = new Map<number, number[]>();
  await Promise.all(
    names.map(async (name) => {
      const stat = await fs.readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
      if (!stat) return;
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
    }),
  );
  const found = [rootPid];
  for (let i = 0; i < found.length; i++) found.push(...(parents.get(found[i]!) ?? []));
  return found;
}

async function statusMemory(pid: number): Promise<{ pid: number; rss: number; peak: number } | undefined> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  if (!status) return undefined;
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { pid, rss: kb('VmRSS'), peak: kb('VmHWM') };
}
