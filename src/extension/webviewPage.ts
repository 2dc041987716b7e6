// The page of each of our webviews (results, batch table): one strict Content Security Policy for all of
// them. Nothing runs but the page's own script (a nonce, no inline code), nothing loads but the
// extension's own files through the webview's scheme (and blob: images the page makes from bytes).
import { randomBytes } from 'node:crypto';
import type * as vscode from 'vscode';

export interface WebviewPageParts {
  title: string;
  script: vscode.Uri;
  /** Stylesheets, in order. */
  styles: vscode.Uri[];
  /** The body's data-* attributes, and its static content (plugin output never goes here: the script renders it as text). */
  bodyData: Record<string, string>;
  content: string;
  /** Media and images the page shows: the webview's own files (and blob: for images). */
  media?: boolean;
}

export function webviewPage(webview: vscode.Webview, parts: WebviewPageParts): string {
  const nonce = randomBytes(16).toString('base64');
  const sources = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${webview.cspSource}`,
    ...(parts.media ? [`img-src ${webview.cspSource} blob:`, `media-src ${webview.cspSource}`] : []),
    `font-src ${webview.cspSource}`,
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${sources.join('; ')}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${parts.styles.map((style) => `<link rel="stylesheet" href="${webview.asWebviewUri(style)}">`).join('\n')}
<title>${parts.title}</title>
</head>
<body ${Object.entries(parts.bodyData).map(([key, value]) => `data-${key}="${value}"`).join(' ')}>
${parts.content}
<script nonce="${nonce}" src="${webview.asWebviewUri(parts.script)}"></script>
</body>
</html>`;
}
