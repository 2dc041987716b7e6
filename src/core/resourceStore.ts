// What each plugin's workers really used, remembered across restarts (and shared by the extension and
// `rpp`): per plugin, version and configuration, the peak memory and GPU memory of its last few worker
// lives. Admission counts the largest of those instead of the manifest's guess once one is known; only
// the last few count, so a plugin that got leaner is believed after a few runs.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { writeFileAtomic } from './atomicWrite';
import { DebouncedSave } from './debouncedSave';
import { canonicalJson } from './canonicalJson';

export interface MeasuredUse {
  memoryBytes: number;
  gpuMemoryBytes: number;
  /** Worker lives measured (all time). */
  lives: number;
  updatedAt: number;
}

interface StoredRecord {
  /** Peaks of the last lives, newest last: [memoryBytes, gpuMemoryBytes]. */
  peaks: Array<[number, number]>;
  lives: number;
  updatedAt: number;
}

interface StoreFile {
  version: 1;
  records: Record<string, StoredRecord>;
}

const KEPT_LIVES = 5;
const MAX_RECORDS = 2000;
const SAVE_DELAY_MS = 500;

export class ResourceStore {
  private records: Map<string, StoredRecord> | undefined;
  private loading: Promise<Map<string, StoredRecord>> | undefined;
  private readonly saves = new DebouncedSave(() => this.save(), SAVE_DELAY_MS);

  /** `file`: where the figures are kept; undefined keeps them for this process only. */
  constructor(private readonly file: string | undefined) {}

  static keyOf(plugin: string, version: string, config: Record<string, unknown>): string {
    const configHash = createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
    return `${plugin}@${version}#${configHash}`;
  }

  /** Loads the figures (once); get() answers from memory afterwards. */
  async load(): Promise<void> {
    if (this.records) return;
    this.loading ??= readStore(this.file).then((records) => (this.records = records));
    await this.loading;
  }

  /** What a worker of this key needs, judged by its recent lives; undefined before the first is measured. */
  get(key: string): MeasuredUse | undefined {
    const record = this.records?.get(key);
    if (!record || record.peaks.length === 0) return undefined;
    return {
      memoryBytes: Math.max(...record.peaks.map(([memory]) => memory)),
      gpuMemoryBytes: Math.max(...record.peaks.map(([, gpu]) => gpu)),
      lives: record.lives,
      updatedAt: record.updatedAt,
    };
  }

  /** Records the peak of one worker life that ended (or a running one's peak so far, with `replaceLast`). */
  async record(key: string, memoryBytes: number, gpuMemoryBytes: number, options: { replaceLast?: boolean } = {}): Promise<void> {
    await this.load();
    const records = this.records!;
    const record = records.get(key) ?? { peaks: [], lives: 0, updatedAt: 0 };
    if (options.replaceLast && record.peaks.length > 0) record.peaks.pop();
    else record.lives++;
    record.peaks.push([Math.round(memoryBytes), Math.round(gpuMemoryBytes)]);
    record.peaks = record.peaks.slice(-KEPT_LIVES);
    record.updatedAt = Date.now();
    records.delete(key);
    records.set(key, record);
    if (this.file) this.saves.schedule();
  }

  async flush(): Promise<void> {
    await this.saves.flush();
  }

  private async save(): Promise<void> {
    if (!this.file || !this.records) return;
    // Another process (rpp beside the extension) may have measured other plugins meanwhile: merge, newest wins.
    const onDisk = await readStore(this.file);
    for (const [key, record] of this.records) {
      const other = onDisk.get(key);
      if (!other || other.updatedAt <= record.updatedAt) onDisk.set(key, record);
    }
    const newest = [...onDisk].sort((a, b) => a[1].updatedAt - b[1].updatedAt).slice(-MAX_RECORDS);
    const content: StoreFile = { version: 1, records: Object.fromEntries(newest) };
    await writeFileAtomic(this.file, JSON.stringify(content, null, 1)).catch(() => undefined); // figures, not data: losing them costs a re-measure
  }
}

async function readStore(file: string | undefined): Promise<Map<string, StoredRecord>> {
  if (!file) return new Map();
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<StoreFile>;
    if (parsed.version !== 1 || typeof parsed.records !== 'object' || parsed.records === null) return new Map();
    return new Map(Object.entries(parsed.records).filter(([, record]) => Array.isArray(record?.peaks)));
  } catch {
    return new Map();
  }
}
