// Strings in results that name files: the extension checks which exist (relative ones against the input
// file's folder) and the webview then shows images inline and a link that opens the file in VS Code.
import { looksLikePath } from '../core/mediaFiles';
import { el } from './dom';
import type { FromWebview, ResolvedPath } from './messages';

type Listener = (resolved: ResolvedPath) => void;

export class PathResolver {
  private readonly known = new Map<string, ResolvedPath>();
  private readonly waiting = new Map<string, Listener[]>();
  private batch: Array<{ path: string; base: string }> = [];
  private readonly blobUrls: string[] = [];

  constructor(private readonly post: (message: FromWebview) => void) {}

  /** Calls `listener` once the extension has said what `path` is. */
  resolve(path: string, base: string, listener: Listener): void {
    const key = `${base}\n${path}`;
    const known = this.known.get(key);
    if (known) return listener(known);
    const listeners = this.waiting.get(key);
    if (listeners) return void listeners.push(listener);
    this.waiting.set(key, [listener]);
    if (this.batch.length === 0) queueMicrotask(() => this.send());
    this.batch.push({ path, base });
  }

  /** The extension's answers (message `paths`). */
  receive(resolved: ResolvedPath[]): void {
    for (const answer of resolved) {
      const key = `${answer.base}\n${answer.path}`;
      if (answer.bytes) {
        const url = URL.createObjectURL(new Blob([answer.bytes as Uint8Array<ArrayBuffer>], { type: answer.mime ?? 'application/octet-stream' }));
        this.blobUrls.push(url);
        answer.uri = url;
        answer.bytes = undefined;
      }
      this.known.set(key, answer);
      const listeners = this.waiting.get(key) ?? [];
      this.waiting.delete(key);
      for (const listener of listeners) listener(answer);
    }
  }

  open(path: string, base: string): void {
    this.post({ type: 'open', path, base });
  }

  private send(): void {
    const paths = this.batch;
    this.batch = [];
    if (paths.length > 0) this.post({ type: 'resolve', paths });
  }
}

/**
 * A string value; if it names an existing file, an "open" link follows it, and an image is shown as a
 * thumbnail (`large` in a property table, small in a table cell).
 */
export function pathValue(text: string, base: string, resolver: PathResolver | undefined, size: 'small' | 'large' = 'small', display = text): HTMLElement {
  const span = el('span', 'string', display);
  if (!resolver || !looksLikePath(text)) return span;
  const wrapper = el('span', 'path-value');
  wrapper.append(span);
  resolver.resolve(text, base, (resolved) => {
    if (resolved.kind === 'missing') return;
    const link = el('a', 'open-link', 'open');
    link.href = '#';
    link.title = `Open ${resolved.path} in VS Code`;
    link.addEventListener('click', (event) => {
      event.preventDefault();
      event.stopPropagation();
      resolver.open(text, base);
    });
    if (resolved.kind === 'image' && resolved.uri) {
      const image = el('img', `thumbnail ${size}`);
      image.src = resolved.uri;
      image.alt = text;
      image.loading = 'lazy';
      wrapper.prepend(image);
    }
    wrapper.append(link);
  });
  return wrapper;
}
