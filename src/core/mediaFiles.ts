// Which files the results panel can show or play, and which strings in a result look like file paths.
// Plain TypeScript without Node APIs: the results webview bundles it too.

export type MediaKind = 'audio' | 'video' | 'image';

const EXTENSIONS: Record<MediaKind, readonly string[]> = {
  audio: ['.wav', '.mp3', '.flac', '.ogg', '.oga', '.opus', '.m4a', '.aac', '.weba'],
  video: ['.mp4', '.m4v', '.webm', '.mov', '.ogv', '.mkv'],
  image: ['.png', '.jpg', '.jpeg', '.gif', '.bmp', '.webp', '.svg', '.avif', '.ico'],
};

function extensionOf(filePath: string): string {
  const name = filePath.slice(Math.max(filePath.lastIndexOf('/'), filePath.lastIndexOf('\\')) + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot).toLowerCase() : '';
}

/** What the webview can do with a file, judged by its extension (what Chromium plays or shows). */
export function mediaKindOf(filePath: string): MediaKind | undefined {
  const extension = extensionOf(filePath);
  if (!extension) return undefined;
  return (Object.keys(EXTENSIONS) as MediaKind[]).find((kind) => EXTENSIONS[kind].includes(extension));
}

export function isImagePath(filePath: string): boolean {
  return mediaKindOf(filePath) === 'image';
}

const MAX_PATH_LENGTH = 1024;

/**
 * Whether a string in a result may name a file: an absolute path (`/x`, `~/x`, `C:\x`), or a relative one
 * with a folder or a file extension (`out/a.png`, `mask.png`). The extension checks that the file exists
 * before anything is shown as a file.
 */
export function looksLikePath(value: string): boolean {
  if (value.length < 2 || value.length > MAX_PATH_LENGTH || /[\n\r\t\0<>|"*?]/.test(value)) return false;
  if (/^(\/|~\/|[A-Za-z]:[\\/])/.test(value)) return !value.includes('://');
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) || value.includes(' ') && !/[\\/]/.test(value)) return false;
  return /^[\w .()@+-]+([\\/][\w .()@+-]+)*\.(?=[A-Za-z0-9]{1,5}$)[0-9]*[A-Za-z][A-Za-z0-9]*$/.test(value);
}
