// The worker protocol's messages as TypeScript types. The contract is schemas/protocol/*.schema.json;
// test/core/protocolSchemas.test.ts checks these declarations against it, key by key. Two more
// messages live with their concepts: WorkerStats (workerStats.ts) and JobError (errors.ts).

/** The bundled worker's one stdout line once it listens: schemas/protocol/ready-line.schema.json. */
export type ReadyLine = {
  rpp_worker: 1;
  protocol: number;
  port: number;
  pid: number;
  plugin: string;
  python: string;
};

/** The bundled worker's GET /health: schemas/protocol/health.schema.json. */
export type RppHealth = {
  status: 'ok';
  plugin: string;
  pid: number;
  busy: boolean;
  protocol: number;
};

/** cjm's GET /health: schemas/protocol/cjm-health.schema.json. */
export type CjmHealth = {
  status: string;
  pid: number;
  name?: string;
  version?: string;
};

export type WorkerHealth = RppHealth | CjmHealth;

/** The bundled worker's GET /progress: schemas/protocol/progress.schema.json. */
export type RppProgress = {
  busy: boolean;
  call_id: string | null;
  progress: number | null;
  message: string | null;
};

/** The current cjm worker's GET /progress: schemas/protocol/cjm-progress.schema.json. */
export type CjmProgress = {
  progress: number;
  message: string;
};

/** Either answer; cjm's has no busy or call_id (undefined), so both read the same way. */
export type WorkerProgress = RppProgress | (CjmProgress & { busy?: undefined; call_id?: undefined });

/** cjm's GET /stats (early: the first three; current: all): schemas/protocol/cjm-stats.schema.json. */
export type CjmStats = {
  pid: number;
  cpu_percent: number;
  memory_rss_mb: number;
  subtree_pids?: number[];
  usage?: unknown;
};

/** cjm's error answer (FastAPI's HTTPException): schemas/protocol/cjm-detail.schema.json. */
export type CjmDetail = {
  detail: string;
};

/** The last line of a failed stream on cjm's early worker: schemas/protocol/cjm-stream-error.schema.json. */
export type CjmStreamError = {
  error: string;
};
