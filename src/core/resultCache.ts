// Results already computed are not computed again: a result is stored under a key of (the input's
// content hash, plugin name and version, configuration, arguments, kind of call). One JSON file per
// entry, so that the extension and `rpp` share the cache without a database or a lock; its total size
// is capped, evicting the least recently used entries (a hit touches the file's mtime).
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomicWrite';
import { canonicalJson } from './canonicalJson';
import { ContentHasher } from './contentHash';

export type CallKind = 'execute' | 'stream';

/** What a result depends on. `content` is the input's hash; the input's path is not part of it. */
export interface CacheKeyParts {
  content: string;
  plugin: string;
  version: string;
  config: Record<string, unknown>;
  args: unknown[];
  kwargs: Record<string, unknown>;
  kind: CallKind;
}

export interface CachedResult {
  kind: CallKind;
  /** The result of an execute call. */
  value?: unknown;
  /** The items of a stream call, in order. */
  items?: unknown[];
  /** How long the call took when it ran (ms), so the UI can say what the cache saved. */
  ms: number;
  createdAt: number;
}

export interface CacheUsage {
  entries: number;
  bytes: number;
}

/** Bumped when the key or the entry format changes: old entries then simply miss. */
const FORMAT = 1;
/** Eviction goes below the cap by this much, so that it runs once per many puts, not on every one. */
const EVICT_TO = 0.9;
/** One entry may take at most this share of the cap. */
const MAX_ENTRY_SHARE = 0.25;

export class ResultCache {
  readonly hasher: ContentHasher;
  private readonly entriesDir: string;
  /** key → bytes, in least-recently-used order (a Map keeps insertion order; a use re-inserts). */
  private lru: Map<string, number> | undefined;
  private scanning: Promise<Map<string, number>> | undefined;
  private totalBytes = 0;

  constructor(
    readonly dir: string,
    private maxBytes: number,
  ) {
    this.entriesDir = path.join(dir, 'results');
    this.hasher = new ContentHasher(path.join(dir, 'content-index.json'));
  }

  static keyOf(parts: CacheKeyParts): string {
    return createHash('sha256').update(canonicalJson({ format: FORMAT, ...parts })).digest('hex');
  }

  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
    if (this.lru) void this.evict();
  }

  /** The stored result, or undefined (also when another process evicted it a moment ago). */
  async get(key: string): Promise<CachedResult | undefined> {
    const file = this.fileOf(key);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      return undefined;
    }
    let entry: CachedResult & { format?: number };
    try {
      entry = JSON.parse(text) as CachedResult & { format?: number };
    } catch {
      await fs.rm(file, { force: true }); // a damaged entry is a miss, and goes
      return undefined;
    }
    if (entry.format !== FORMAT) return undefined;
    this.touch(key, file, Buffer.byteLength(text));
    return { kind: entry.kind, value: entry.value, items: entry.items, ms: entry.ms, createdAt: entry.createdAt };
  }

  /** Stores a result; one too large for the cap is not stored. Never throws: a cache that cannot write only misses. */
  async put(key: string, result: CachedResult): Promise<boolean> {
    if (this.maxBytes <= 0) return false;
    const text = JSON.stringify({ format: FORMAT, ...result });
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxBytes * MAX_ENTRY_SHARE) return false;
    try {
      await writeFileAtomic(this.fileOf(key), text);
    } catch {
      return false;
    }
    const lru = await this.loadLru();
    this.totalBytes += bytes - (lru.get(key) ?? 0);
    lru.delete(key);
    lru.set(key, bytes);
    if (this.totalBytes > this.maxBytes) await this.evict();
    return true;
  }

  async usage(): Promise<CacheUsage> {
    const lru = await this.loadLru();
    return { entries: lru.size, bytes: this.totalBytes };
  }

  /** Removes every entry and the content index (Clear Cache); returns what was freed. */
  async clear(): Promise<CacheUsage> {
    const freed = await this.usage();
    await fs.rm(this.entriesDir, { recursive: true, force: true });
    await this.hasher.clear();
    this.lru = new Map();
    this.totalBytes = 0;
    return freed;
  }

  async flush(): Promise<void> {
    await this.hasher.flush();
  }

  private fileOf(key: string): string {
    return path.join(this.entriesDir, key.slice(0, 2), `${key}.json`);
  }

  private touch(key: string, file: string, bytes: number): void {
    if (this.lru) {
      if (!this.lru.has(key)) this.totalBytes += bytes;
      this.lru.delete(key);
      this.lru.set(key, bytes);
    }
    const now = new Date();
    void fs.utimes(file, now, now).catch(() => undefined); // the order other processes see
  }

  private async evict(): Promise<void> {
    const lru = await this.loadLru();
    const target = this.maxBytes * EVICT_TO;
    const victims: string[] = [];
    for (const [key, bytes] of lru) {
      if (this.totalBytes <= target) break;
      victims.push(key);
      this.totalBytes -= bytes;
    }
    for (const key of victims) lru.delete(key);
    await Promise.all(victims.map((key) => fs.rm(this.fileOf(key), { force: true })));
  }

  /** The entries on disk, oldest use first (read once, when the size first matters). */
  private loadLru(): Promise<Map<string, number>> {
    if (this.lru) return Promise.resolve(this.lru);
    this.scanning ??= this.scan().then((lru) => {
      this.lru = lru;
      this.totalBytes = [...lru.values()].reduce((sum, bytes) => sum + bytes, 0);
      return lru;
    });
    return this.scanning;
  }

  private async scan(): Promise<Map<string, number>> {
    const found: Array<{ key: string; bytes: number; usedAt: number }> = [];
    const shards = await fs.readdir(this.entriesDir).catch(() => [] as string[]);
    for (const shard of shards) {
      const names = await fs.readdir(path.join(this.entriesDir, shard)).catch(() => [] as string[]);
      await Promise.all(
        names
          .filter((name) => name.endsWith('.json'))
          .map(async (name) => {
            const stat = await fs.stat(path.join(this.entriesDir, shard, name)).catch(() => undefined);
            if (stat) found.push({ key: name.slice(0, -'.json'.length), bytes: stat.size, usedAt: stat.mtimeMs });
          }),
      );
    }
    found.sort((a, b) => a.usedAt - b.usedAt);
    return new Map(found.map(({ key, bytes }) => [key, bytes]));
  }
}
