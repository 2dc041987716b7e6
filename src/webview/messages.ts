// The messages between a results panel (src/extension/resultsPanel.ts, runComparePanel.ts) and its
// webview (this folder). Plugin output travels only as data in `items`; the webview never parses it as HTML.
import type { MediaKind } from '../core/mediaFiles';
import type { ResultRenderer } from '../core/resultShapes';

/** One run shown in the panel (a comparison shows two). */
export interface RunHeader {
  /** "Run on tone.wav", "Stream on 3 files" — the user's words. */
  title: string;
  plugin: string;
  /** When and how it ran, for a run reopened from the history or compared ("14:32 · config chunk_ms=50"). */
  detail?: string;
  hint?: ResultRenderer;
  /** A reopened or compared run can be run again; a live one can be stopped. */
  live: boolean;
  /** A live run whose worker was not running: the status says it starts until the first item arrives. */
  cold?: boolean;
  /** Epoch milliseconds, for the elapsed time of a live run. */
  startedAt?: number;
}

/** A button of a file's error row (Configure…, Show Logs, …); the extension keeps the command behind `id`. */
export interface ErrorAction {
  id: number;
  title: string;
}

/** The input file of a section, as the webview may load it (localResourceRoots hold its folder). */
export interface SourceMedia {
  uri: string;
  kind: MediaKind;
}

export interface RunSummaryView {
  items: number;
  files: number;
  errors: number;
  cancelled: boolean;
  interrupted?: boolean;
  durationMs: number;
}

export interface ResolvedPath {
  path: string;
  base: string;
  kind: 'image' | 'file' | 'missing';
  /** For an image: a webview URI (inside localResourceRoots) or, outside them, its bytes. */
  uri?: string;
  bytes?: Uint8Array;
  mime?: string;
}

export type ToWebview =
  | { type: 'reset'; layout: 'single' | 'compare'; runs: RunHeader[] }
  | { type: 'file'; run: number; file: number; path: string; media?: SourceMedia }
  /** `json` is the items as one JSON array: a string crosses the frames between extension and webview far cheaper than objects. */
  | { type: 'items'; run: number; file: number; json: string }
  | { type: 'fileEnd'; run: number; file: number; error?: string; cancelled?: boolean; actions?: ErrorAction[] }
  | { type: 'end'; run: number; summary: RunSummaryView }
  | { type: 'paths'; resolved: ResolvedPath[] };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'rendered'; count: number }
  | { type: 'stop' }
  | { type: 'copy' }
  | { type: 'save' }
  | { type: 'rerun' }
  | { type: 'action'; id: number }
  | { type: 'diff' }
  | { type: 'open'; path: string; base: string }
  | { type: 'resolve'; paths: Array<{ path: string; base: string }> };
