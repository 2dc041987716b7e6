// The content hash of an input file, for the result cache. Hashing a large recording again on every
// run would cost more than the cache saves, so a small index remembers each path's identity (size,
// mtime, ctime, inode, device) with its hash: an unchanged identity is the hash, without reading the
// file. A file whose mtime is within RACY_MS of when it was hashed is hashed again (a write in the same
// clock tick keeps mtime and size, git's "racy" case), until it has been quiet for that long.
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomicWrite';
import { DebouncedSave } from './debouncedSave';
import { PluginError } from './errors';

/** [size, mtimeMs, ctimeMs, ino, dev, hash, checkedAt] — arrays keep the index file small. */
type IndexRecord = [number, number, number, number, number, string, number];

interface IndexFile {
  version: 1;
  files: Record<string, IndexRecord>;
}

const RACY_MS = 2000;
/** Files up to this size are read in one go; larger ones are streamed. */
const WHOLE_READ_MAX = 1 << 20;
/** Parallel reads while hashing: more only thrashes a disk. */
const MAX_PARALLEL_READS = 4;
/** The index is written at most this often while files are hashed (and at dispose): a big folder means a big index. */
const SAVE_DELAY_MS = 5000;
/** The index forgets the paths checked longest ago beyond this many. */
const MAX_INDEX_ENTRIES = 200_000;

export class ContentHasher {
  private index: Map<string, IndexRecord> | undefined;
  private loading: Promise<Map<string, IndexRecord>> | undefined;
  private readonly saves = new DebouncedSave(() => this.save(), SAVE_DELAY_MS);
  private readonly reads = new Slots(MAX_PARALLEL_READS);
  /** Files hashed by reading them (not from the index), for figures and tests. */
  readCount = 0;

  /** `indexFile`: where the identities are kept between runs; undefined keeps them in memory only. */
  constructor(private readonly indexFile: string | undefined) {}

  /** "sha256:<hex>" of the file's content; from the index when the file's identity did not change. */
  async hashFile(filePath: string): Promise<string> {
    const absolute = path.resolve(filePath);
    const before = await statFile(absolute);
    const index = await this.loadIndex();
    const known = index.get(absolute);
    if (known && sameIdentity(known, before) && known[6] - before.mtimeMs > RACY_MS) {
      index.delete(absolute); // most recently checked last, so the oldest are dropped first
      index.set(absolute, known);
      return known[5];
    }
    const hash = await this.reads.run(() => hashContent(absolute, before.size));
    this.readCount++;
    const after = await statFile(absolute);
    // Changed while it was read: the hash is of neither version, so it is not remembered.
    if (sameIdentity(identityOf(before, '', 0), after)) {
      index.delete(absolute);
      index.set(absolute, identityOf(after, hash, Date.now()));
      if (this.indexFile) this.saves.schedule();
    }
    return hash;
  }

  /** The identity a later hashFile() would compare against, to see whether a file changed during a call. */
  async identity(filePath: string): Promise<string> {
    const stat = await statFile(path.resolve(filePath));
    return identityOf(stat, '', 0).slice(0, 5).join(':');
  }

  /** Forgets every path (Clear Cache). */
  async clear(): Promise<void> {
    (await this.loadIndex()).clear();
    if (this.indexFile) this.saves.schedule();
  }

  /** Writes the index now (at dispose); later calls still work. */
  async flush(): Promise<void> {
    await this.saves.flush();
  }

  private loadIndex(): Promise<Map<string, IndexRecord>> {
    if (this.index) return Promise.resolve(this.index);
    this.loading ??= readIndex(this.indexFile).then((index) => (this.index = index));
    return this.loading;
  }

  private async save(): Promise<void> {
    const index = this.index;
    if (!this.indexFile || !index) return;
    while (index.size > MAX_INDEX_ENTRIES) index.delete(index.keys().next().value as string);
    const content: IndexFile = { version: 1, files: Object.fromEntries(index) };
    await writeFileAtomic(this.indexFile, JSON.stringify(content)).catch(() => undefined); // a cache: losing it costs one re-hash
  }
}

/** "sha256:<hex>" of bytes (an unsaved editor's content). */
export function hashBytes(bytes: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function hashContent(file: string, size: number): Promise<string> {
  if (size <= WHOLE_READ_MAX) return hashBytes(await fs.readFile(file));
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: WHOLE_READ_MAX })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function statFile(file: string): Promise<Stats> {
  let stat: Stats;
  try {
    stat = await fs.stat(file);
  } catch (error) {
    throw new PluginError('usage', `Cannot read "${file}": ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message}.`, { cause: error });
  }
  if (!stat.isFile()) throw new PluginError('usage', `"${file}" is not a file.`);
  return stat;
}

function identityOf(stat: Stats, hash: string, checkedAt: number): IndexRecord {
  return [stat.size, stat.mtimeMs, stat.ctimeMs, stat.ino, stat.dev, hash, checkedAt];
}

function sameIdentity(record: IndexRecord, stat: Stats): boolean {
  return record[0] === stat.size && record[1] === stat.mtimeMs && record[2] === stat.ctimeMs && record[3] === stat.ino && record[4] === stat.dev;
}

async function readIndex(file: string | undefined): Promise<Map<string, IndexRecord>> {
  if (!file) return new Map();
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<IndexFile>;
    if (parsed.version !== 1 || typeof parsed.files !== 'object' || parsed.files === null) return new Map();
    const entries = Object.entries(parsed.files).filter(([, record]) => Array.isArray(record) && record.length === 7 && typeof record[5] === 'string');
    // Oldest check first, so that the map's order is the order of forgetting.
    return new Map(entries.sort((a, b) => a[1][6] - b[1][6]));
  } catch {
    return new Map(); // missing or damaged: start again
  }
}

/** At most `limit` tasks at a time; the rest wait in order. */
class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next in line, so that no newcomer slips in between.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
