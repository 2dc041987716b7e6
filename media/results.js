// The results webview (see src/extension/resultsPanel.ts). Plugin output is untrusted: it is put
// on the page only through textContent, never as HTML. Only the newest rows stay in the DOM.
// @ts-check
(function () {
  // @ts-expect-error acquireVsCodeApi is provided by the webview host.
  const vscode = acquireVsCodeApi();
  const results = /** @type {HTMLElement} */ (document.getElementById('results'));
  const status = /** @type {HTMLElement} */ (document.getElementById('status'));
  const title = /** @type {HTMLElement} */ (document.getElementById('title'));
  const hiddenNote = /** @type {HTMLElement} */ (document.getElementById('hidden-note'));
  const summary = /** @type {HTMLElement} */ (document.getElementById('summary'));
  const stopButton = /** @type {HTMLButtonElement} */ (document.getElementById('stop'));

  let maxRows = 2000;
  let total = 0;
  let hidden = 0;
  /** @type {HTMLElement | undefined} the file section that receives items */
  let section;
  /** @type {HTMLElement | undefined} the text block that consecutive string items append to */
  let textBlock;

  stopButton.addEventListener('click', () => {
    stopButton.disabled = true;
    status.textContent = 'Stopping…';
    vscode.postMessage({ type: 'stop' });
  });
  document.getElementById('copy')?.addEventListener('click', () => vscode.postMessage({ type: 'copy' }));
  document.getElementById('save')?.addEventListener('click', () => vscode.postMessage({ type: 'save' }));

  window.addEventListener('message', (event) => {
    const message = event.data;
    switch (message.type) {
      case 'reset': return reset(message);
      case 'file': return beginFile(message.file);
      case 'items': return addItems(message.items, message.skipped);
      case 'fileEnd': return endFile(message.error, message.cancelled);
      case 'end': return end(message.summary);
    }
  });

  function reset(message) {
    maxRows = message.maxRows;
    total = 0;
    hidden = 0;
    section = undefined;
    textBlock = undefined;
    results.replaceChildren();
    summary.hidden = true;
    title.textContent = `${message.plugin} · ${message.mode}`;
    setState('running', 'Running…');
  }

  function beginFile(file) {
    section = element('section', 'file');
    section.append(element('h2', 'file-name', file));
    results.append(section);
    textBlock = undefined;
  }

  function addItems(items, skipped) {
    const stickToBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    hidden += skipped;
    total += skipped;
    const target = section ?? results;
    for (const item of items) {
      if (typeof item === 'string') {
        if (!textBlock) {
          textBlock = element('pre', 'text row');
          target.append(textBlock);
        }
        textBlock.append(element('span', 'chunk', item));
      } else {
        textBlock = undefined;
        target.append(isSegment(item) ? segment(item) : json(item));
      }
      total += 1;
    }
    trimRows();
    document.body.dataset.count = String(total);
    status.textContent = `Running… ${plural(total, 'item')}`;
    if (stickToBottom) window.scrollTo(0, document.body.scrollHeight);
    vscode.postMessage({ type: 'rendered', count: total });
  }

  /** Keeps the DOM small: the oldest rows go, and a note says how many. */
  function trimRows() {
    const rows = results.querySelectorAll('.row > .chunk, .file > .row:not(.text), main > .row:not(.text)');
    let excess = rows.length - maxRows;
    for (let i = 0; i < rows.length && excess > 0; i++, excess--) {
      const row = rows[i];
      const parent = row.parentElement;
      row.remove();
      if (parent && parent.classList.contains('text') && parent.childElementCount === 0) parent.remove();
      hidden += 1;
    }
    hiddenNote.hidden = hidden === 0;
    hiddenNote.textContent = `${hidden} earlier items not shown (Copy and Save as JSON include them).`;
  }

  function endFile(error, cancelled) {
    textBlock = undefined;
    if (error) (section ?? results).append(element('div', 'error row', error));
    else if (cancelled) (section ?? results).append(element('div', 'cancelled row', 'Cancelled.'));
  }

  function end(result) {
    stopButton.disabled = true;
    const parts = [plural(result.items, 'item'), formatDuration(result.durationMs)];
    if (result.files > 1) parts.push(`${result.files} files`);
    if (result.errors > 0) parts.push(`${result.errors} failed`);
    if (result.cancelled) parts.push('cancelled');
    summary.textContent = parts.join(' · ');
    summary.hidden = false;
    const state = result.cancelled ? 'cancelled' : result.errors > 0 ? 'failed' : 'done';
    setState(state, state === 'done' ? 'Done' : state === 'failed' ? 'Failed' : 'Cancelled');
  }

  function setState(state, text) {
    document.body.dataset.state = state;
    status.textContent = text;
    stopButton.disabled = state !== 'running';
  }

  function isSegment(item) {
    return item !== null && typeof item === 'object' && typeof item.start === 'number' && typeof item.end === 'number' && typeof item.text === 'string';
  }

  function segment(item) {
    const row = element('div', 'segment row');
    row.append(element('span', 'time', `${formatSeconds(item.start)} → ${formatSeconds(item.end)}`), element('span', 'segment-text', item.text));
    return row;
  }

  /** Small values on one line, bigger ones indented, so that both stay readable. */
  function json(item) {
    const compact = JSON.stringify(item);
    return element('pre', 'json row', compact.length <= 100 ? compact : JSON.stringify(item, null, 2));
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** m:ss.s; rounded to tenths before splitting, so 59.96 s is "1:00.0", not "0:60.0". */
  function formatSeconds(seconds) {
    const tenths = Math.round(seconds * 10);
    const minutes = Math.floor(tenths / 600);
    return `${minutes}:${((tenths - minutes * 600) / 10).toFixed(1).padStart(4, '0')}`;
  }

  function plural(count, noun) {
    return `${count} ${noun}${count === 1 ? '' : 's'}`;
  }

  function formatDuration(ms) {
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  vscode.postMessage({ type: 'ready' });
})();
