// What every renderer of a file's results gets, and what it offers to its section.
import type { ResultRenderer } from '../core/resultShapes';
import type { PathResolver } from './pathValues';

export interface SectionContext {
  /** The input file, and its folder (relative paths in results are resolved against it). */
  sourcePath: string;
  base: string;
  /** The playing <audio>/<video> of the input file, for segments and series. */
  media?: HTMLMediaElement;
  /** A webview URI of the input file when it is an image (regions are drawn on it). */
  sourceImage?: string;
  resolver: PathResolver;
  hint?: ResultRenderer;
}

export interface Renderer {
  readonly element: HTMLElement;
  /** Takes one more item of its shape (drawn at the next flush). */
  add(item: unknown): void;
  /** Puts what was added on screen. */
  flush(): void;
  dispose(): void;
}
