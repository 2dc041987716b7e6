// What /proc says about processes, sockets and file descriptors: one copy for every test (Linux only).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A /proc/<pid>/<file> as text, or undefined when the process is gone or not ours. */
export function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return undefined;
  }
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** The fields of /proc/PID/stat from field 3 (state) on: the command name before them may hold spaces and parentheses. */
function statFields(pid: number): string[] | undefined {
  const stat = readProc(pid, 'stat');
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Whether the process runs (a zombie, dead but not yet reaped, does not). */
export function processAlive(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

export function parentPid(pid: number): number | undefined {
  const ppid = statFields(pid)?.[1];
  return ppid === undefined ? undefined : Number(ppid);
}

/** The process's start time (field 22 of /proc/PID/stat): with the pid, it names one process, never a reused pid. */
export function startTimeOf(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** A number field of /proc/PID/status (VmRSS in kB, Threads), or undefined when the process is gone. */
export function statusField(pid: number, field: 'VmRSS' | 'VmHWM' | 'Threads'): number | undefined {
  const value = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readProc(pid, 'status') ?? '')?.[1];
  return value === undefined ? undefined : Number(value);
}

/** The worker's secret, read the way only the same user can: from its initial environment. */
export function secretOf(pid: number): string {
  const entry = (readProc(pid, 'environ') ?? '').split('\0').find((e) => e.startsWith('RPP_WORKER_SECRET='));
  if (!entry) throw new Error(`no RPP_WORKER_SECRET in /proc/${pid}/environ`);
  return entry.slice('RPP_WORKER_SECRET='.length);
}

export function openFdCount(pid: number | 'self' = 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The inodes of the sockets a process has open (its fd links read "socket:[INODE]"). */
export function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
    const match = /^socket:\[(\d+)\]$/.exec(safeReadlink(`/proc/${pid}/fd/${fd}`) ?? '');
    if (match) inodes.add(match[1]);
  }
  return inodes;
}

export interface ListeningSocket {
  file: 'tcp' | 'tcp6';
  address: string; // dotted IPv4, or the raw hex for tcp6
  port: number;
  /** Connections the kernel has established that the process has not accepted yet. */
  acceptQueue: number;
}

/** The TCP sockets a process listens on, from its fd links and /proc/net/tcp{,6}. */
export function listeningSockets(pid: number): ListeningSocket[] {
  const inodes = socketInodes(pid);
  const found: ListeningSocket[] = [];
  for (const file of ['tcp', 'tcp6'] as const) {
    const rows = (readProc(pid, `net/${file}`) ?? '').trim().split('\n').slice(1);
    for (const row of rows) {
      // sl local_address rem_address st tx_queue:rx_queue ... inode (10th); st 0A = LISTEN, whose rx_queue is the accept queue
      const cols = row.trim().split(/\s+/);
      const [hexAddress, hexPort] = cols[1].split(':');
      const listening = cols[3] === '0A';
      if (!listening || !inodes.has(cols[9])) continue;
      const acceptQueue = parseInt(cols[4].split(':')[1], 16);
      found.push({ file, address: file === 'tcp' ? ipv4(hexAddress) : hexAddress, port: parseInt(hexPort, 16), acceptQueue });
    }
  }
  return found;
}

/** /proc/net/tcp writes IPv4 addresses as a little-endian hex word. */
function ipv4(hex: string): string {
  return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
}

/** The one listening socket of a worker process. */
export function workerSocket(pid: number): ListeningSocket {
  const sockets = listeningSockets(pid);
  if (sockets.length !== 1) throw new Error(`expected one listening socket for ${pid}, got ${JSON.stringify(sockets)}`);
  return sockets[0];
}

/** The loopback port the worker of `pid` listens on. */
export function workerPort(pid: number): number {
  return workerSocket(pid).port;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeReadlink(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}
