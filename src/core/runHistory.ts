// The run history's storage format: every run is a folder in the history folder (the extension's global
// storage, never the workspace) holding `run.json` (what ran, on what, how it went) and one NDJSON file of
// items per input file (`items-0.ndjson`, …), appended while the run streams. Folders, not one index file,
// so that several windows can record runs at once without losing each other's.
//
// A run that is still streaming when its window closes is sealed as "interrupted" with what had arrived
// (synchronously, in deactivate); one whose host died without that (kill -9) is found by its owner's pid
// and sealed the same way the next time the history is listed.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emitter } from './emitter';

/** Bumped when run.json changes incompatibly; runs of other formats are listed as unreadable, not misread. */
export const HISTORY_FORMAT = 1;

export type RunStatus = 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';
export type RunMode = 'execute' | 'stream';

/** One input file of a run and how it went. */
export interface RunFile {
  path: string;
  items: number;
  ended: boolean;
  error?: string;
  cancelled?: boolean;
}

/** What starts a run: the plugin and how it was called. */
export interface RunInit {
  plugin: string;
  pluginVersion?: string;
  mode: RunMode;
  /** Every file the run was asked to process (a re-run uses these). */
  targets: string[];
  config?: Record<string, unknown>;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  /** The manifest's `"results"` renderer, if it names one. */
  results?: string;
}

/** The content of run.json. */
export interface RunRecord extends RunInit {
  format: typeof HISTORY_FORMAT;
  id: string;
  /** Epoch milliseconds. */
  startedAt: number;
  durationMs?: number;
  status: RunStatus;
  files: RunFile[];
  items: number;
  errors: number;
  /** Size of the stored items. */
  bytes: number;
  /** The process recording the run, while it runs. */
  owner?: { pid: number; host: string };
}

export interface HistoryLimits {
  /** Most runs kept; the oldest finished ones go first. 0 keeps none. */
  maxRuns: number;
  /** Most bytes of stored items. */
  maxBytes: number;
}

export interface StoredItems {
  /** The items of each input file, in order. */
  files: unknown[][];
  /** Lines that could not be read (a write cut short when the host died). */
  unreadableLines: number;
}

const RUN_FILE = 'run.json';
const FLUSH_INTERVAL_MS = 250;
const FLUSH_BYTES = 256 * 1024;

export const itemsFileName = (index: number) => `items-${index}.ndjson`;

export class RunHistory {
  private readonly changed = new Emitter<void>();
  /** Runs this process is recording, by id. */
  private readonly active = new Map<string, RunRecorder>();
  readonly onDidChange = this.changed.event;

  constructor(
    readonly dir: string,
    private limits: HistoryLimits,
    private readonly owner = { pid: process.pid, host: os.hostname() },
  ) {}

  setLimits(limits: HistoryLimits): Promise<void> {
    this.limits = limits;
    return this.prune();
  }

  /** Starts recording a run: its folder and run.json exist when this returns. */
  start(init: RunInit): RunRecorder {
    const startedAt = Date.now();
    const id = `${new Date(startedAt).toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
    const record: RunRecord = {
      format: HISTORY_FORMAT, id, ...init, startedAt, status: 'running', files: [], items: 0, errors: 0, bytes: 0, owner: this.owner,
    };
    const recorder = new RunRecorder(path.join(this.dir, id), record, () => this.onRecorderEnded(id));
    this.active.set(id, recorder);
    this.changed.fire();
    return recorder;
  }

  /** Every run, newest first. Runs left "running" by a host that is gone are sealed as interrupted. */
  async list(): Promise<RunRecord[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const records = await Promise.all(names.map((name) => this.read(name)));
    const found = records.filter((record): record is RunRecord => record !== undefined);
    return found.sort((a, b) => b.startedAt - a.startedAt || b.id.localeCompare(a.id));
  }

  async get(id: string): Promise<RunRecord | undefined> {
    return this.read(id);
  }

  /** The items of a run, per input file. A torn last line (the host died mid-write) is counted, not thrown. */
  async readItems(record: RunRecord): Promise<StoredItems> {
    const files: unknown[][] = [];
    let unreadableLines = 0;
    for (let index = 0; index < record.files.length; index++) {
      const items: unknown[] = [];
      let text = '';
      try {
        text = await fs.promises.readFile(path.join(this.dir, record.id, itemsFileName(index)), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      for (const line of text.split('\n')) {
        if (line.length === 0) continue;
        try {
          items.push(JSON.parse(line));
        } catch {
          unreadableLines += 1;
        }
      }
      files.push(items);
    }
    return { files, unreadableLines };
  }

  /** Deletes a run (a run still recording in this process is left alone: it would come back). */
  async delete(id: string): Promise<boolean> {
    if (this.active.has(id) || !isRunId(id)) return false;
    await fs.promises.rm(path.join(this.dir, id), { recursive: true, force: true });
    this.changed.fire();
    return true;
  }

  /** Deletes every finished run; returns how many. Runs still recording stay. */
  async clear(): Promise<number> {
    const records = await this.list();
    const finished = records.filter((record) => record.status !== 'running');
    await Promise.all(finished.map((record) => fs.promises.rm(path.join(this.dir, record.id), { recursive: true, force: true })));
    this.changed.fire();
    return finished.length;
  }

  /**
   * Drops the oldest finished runs until the history is within its limits: from the newest, runs are kept
   * while they fit, and from the first that does not, it and every older one go. The newest finished run
   * is kept even when it alone is over the size limit (it is the one the user just made).
   */
  async prune(): Promise<void> {
    const records = await this.list();
    let count = 0;
    let bytes = 0;
    let full = false;
    const drop: RunRecord[] = [];
    for (const record of records) {
      if (record.status === 'running') {
        count += 1;
        bytes += record.bytes;
        continue;
      }
      const isNewest = count === 0 || records.every((other) => other === record || other.status === 'running' || other.startedAt < record.startedAt);
      full ||= count + 1 > this.limits.maxRuns || (bytes + record.bytes > this.limits.maxBytes && !isNewest);
      if (full) {
        drop.push(record);
      } else {
        count += 1;
        bytes += record.bytes;
      }
    }
    if (drop.length === 0) return;
    await Promise.all(drop.map((record) => fs.promises.rm(path.join(this.dir, record.id), { recursive: true, force: true })));
    this.changed.fire();
  }

  /** Seals every run this process is still recording as interrupted (synchronously: the host is going away). */
  interruptAll(): void {
    for (const recorder of [...this.active.values()]) recorder.interrupt();
  }

  dispose(): void {
    this.changed.clear();
  }

  private onRecorderEnded(id: string): void {
    this.active.delete(id);
    this.changed.fire();
    void this.prune().catch(() => undefined);
  }

  private async read(id: string): Promise<RunRecord | undefined> {
    if (!isRunId(id)) return undefined;
    const active = this.active.get(id);
    if (active) return { ...active.record, files: active.record.files.map((file) => ({ ...file })) };
    const folder = path.join(this.dir, id);
    let record: RunRecord;
    try {
      record = JSON.parse(await fs.promises.readFile(path.join(folder, RUN_FILE), 'utf8')) as RunRecord;
    } catch {
      return undefined; // being created by another window, or not a run of ours
    }
    if (record.format !== HISTORY_FORMAT || record.id !== id) return undefined;
    if (record.status === 'running' && this.ownerIsGone(record)) return sealOrphan(folder, record);
    return record;
  }

  private ownerIsGone(record: RunRecord): boolean {
    const owner = record.owner;
    if (!owner || owner.host !== this.owner.host) return !owner;
    if (owner.pid === this.owner.pid) return true; // not in `active`: an earlier life of this pid
    try {
      process.kill(owner.pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
}

function isRunId(name: string): boolean {
  return /^\d{8}T\d{9}Z-[0-9a-f]{6}$/.test(name);
}

/** A run whose recorder died with its host: count what reached the disk and call it interrupted. */
async function sealOrphan(folder: string, record: RunRecord): Promise<RunRecord> {
  const sealed: RunRecord = { ...record, status: 'interrupted', owner: undefined, items: 0, bytes: 0 };
  sealed.files = await Promise.all(record.files.map(async (file, index) => {
    const text = await fs.promises.readFile(path.join(folder, itemsFileName(index)), 'utf8').catch(() => '');
    const items = text.split('\n').filter((line) => line.length > 0).length;
    sealed.items += items;
    sealed.bytes += Buffer.byteLength(text);
    return { ...file, items };
  }));
  writeRecord(folder, sealed);
  return sealed;
}

function writeRecord(folder: string, record: RunRecord): void {
  const file = path.join(folder, RUN_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(record, null, 1));
  fs.renameSync(temp, file);
}

/**
 * Records one run as it happens. Items are buffered and appended in order with synchronous writes
 * (small, every 250 ms or 256 KB), so that interrupt() can add the last of them without racing a write.
 */
export class RunRecorder {
  readonly record: RunRecord;
  private fd: number | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastFlush = performance.now();
  private readonly started = performance.now();
  private sealed = false;
  /** Why recording stopped early (a full disk, a deleted folder); the run itself goes on regardless. */
  writeError: string | undefined;

  constructor(
    private readonly folder: string,
    record: RunRecord,
    private readonly onEnded: () => void,
  ) {
    this.record = record;
    this.guarded(() => {
      fs.mkdirSync(folder, { recursive: true });
      writeRecord(folder, record);
    });
  }

  get id(): string {
    return this.record.id;
  }

  beginFile(filePath: string): void {
    if (this.sealed) return;
    this.flush();
    this.record.files.push({ path: filePath, items: 0, ended: false });
    this.guarded(() => {
      this.closeFile();
      this.fd = fs.openSync(path.join(this.folder, itemsFileName(this.record.files.length - 1)), 'a');
      writeRecord(this.folder, this.record);
    });
  }

  append(item: unknown): void {
    const file = this.record.files.at(-1);
    if (this.sealed || !file) return;
    const line = JSON.stringify(item) + '\n';
    this.pending.push(line);
    this.pendingBytes += line.length;
    file.items += 1;
    this.record.items += 1;
    // By size, by the clock (a fast stream is read in long macrotasks where timers wait), or by a timer.
    if (this.pendingBytes >= FLUSH_BYTES || performance.now() - this.lastFlush >= FLUSH_INTERVAL_MS) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  endFile(outcome: { error?: string; cancelled?: boolean }): void {
    const file = this.record.files.at(-1);
    if (this.sealed || !file) return;
    this.flush();
    file.ended = true;
    if (outcome.error !== undefined) {
      file.error = outcome.error;
      this.record.errors += 1;
    }
    if (outcome.cancelled) file.cancelled = true;
  }

  /** The run ended: its status, and it no longer counts as running. */
  finish(status: Exclude<RunStatus, 'running' | 'interrupted'>): void {
    this.seal(status);
  }

  /** The host is going away mid-run: keep what arrived, as "interrupted". */
  interrupt(): void {
    this.seal('interrupted');
  }

  private seal(status: Exclude<RunStatus, 'running'>): void {
    if (this.sealed) return;
    this.flush();
    this.guarded(() => this.closeFile());
    this.sealed = true;
    this.record.status = status;
    this.record.durationMs = Math.round(performance.now() - this.started);
    this.record.owner = undefined;
    this.guarded(() => writeRecord(this.folder, this.record));
    this.onEnded();
  }

  /** Storage trouble stops the recording, never the run: the error is kept for the log. */
  private guarded(write: () => void): void {
    if (this.writeError !== undefined) return;
    try {
      write();
    } catch (error) {
      this.writeError = error instanceof Error ? error.message : String(error);
      this.fd = undefined;
    }
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    this.lastFlush = performance.now();
    if (this.fd === undefined) {
      this.pending = []; // recording stopped (writeError): nothing to keep them for
      this.pendingBytes = 0;
      return;
    }
    const chunk = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    const fd = this.fd;
    this.guarded(() => {
      fs.writeSync(fd, chunk);
      this.record.bytes += chunk.length;
    });
  }

  private closeFile(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
