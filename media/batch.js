// The batch table webview (see src/extension/batchView.ts). Plugin output is untrusted: it is put on
// the page only through textContent, never as HTML. A row opens that file's result.
// @ts-check
(function () {
  // @ts-expect-error acquireVsCodeApi is provided by the webview host.
  const vscode = acquireVsCodeApi();
  const tbody = /** @type {HTMLElement} */ (document.getElementById('rows'));
  const status = /** @type {HTMLElement} */ (document.getElementById('status'));
  const title = /** @type {HTMLElement} */ (document.getElementById('title'));
  const summary = /** @type {HTMLElement} */ (document.getElementById('summary'));
  const stopButton = /** @type {HTMLButtonElement} */ (document.getElementById('stop'));

  const LABELS = { waiting: 'waiting', running: 'running…', ok: 'done', cached: 'cached', failed: 'failed', cancelled: 'cancelled' };
  /** @type {HTMLTableRowElement[]} */
  let rows = [];

  stopButton.addEventListener('click', () => {
    stopButton.disabled = true;
    status.textContent = 'Stopping…';
    vscode.postMessage({ type: 'stop' });
  });

  tbody.addEventListener('click', (event) => {
    const row = /** @type {HTMLElement} */ (event.target).closest('tr');
    if (row && row.classList.contains('openable')) vscode.postMessage({ type: 'open', index: Number(row.dataset.index) });
  });
  tbody.addEventListener('keydown', (event) => {
    const row = /** @type {HTMLElement} */ (event.target).closest('tr');
    if ((event.key === 'Enter' || event.key === ' ') && row && row.classList.contains('openable')) {
      event.preventDefault();
      vscode.postMessage({ type: 'open', index: Number(row.dataset.index) });
    }
  });

  window.addEventListener('message', (event) => {
    const message = event.data;
    switch (message.type) {
      case 'init': return init(message.plugin, message.files);
      case 'rows': return update(message.rows, message.status);
      case 'end': return end(message.summary);
    }
  });

  /** @param {string} plugin @param {string[]} files */
  function init(plugin, files) {
    title.textContent = `${plugin} on ${files.length} ${files.length === 1 ? 'file' : 'files'}`;
    tbody.textContent = '';
    const fragment = document.createDocumentFragment();
    rows = files.map((file, index) => {
      const row = document.createElement('tr');
      row.dataset.index = String(index);
      row.dataset.status = 'waiting';
      for (const [cls, text] of [['file', file], ['state', LABELS.waiting], ['number', ''], ['result', '']]) {
        const cell = document.createElement('td');
        cell.className = cls;
        cell.textContent = text;
        if (cls === 'file') cell.title = file;
        row.appendChild(cell);
      }
      fragment.appendChild(row);
      return row;
    });
    tbody.appendChild(fragment);
    document.body.dataset.count = String(files.length);
  }

  /** @param {{index: number, status: keyof typeof LABELS, ms: string, summary: string}[]} changed @param {string} text */
  function update(changed, text) {
    for (const change of changed) {
      const row = rows[change.index];
      if (!row) continue;
      row.dataset.status = change.status;
      const cells = row.children;
      cells[1].textContent = LABELS[change.status] || change.status;
      cells[2].textContent = change.ms;
      cells[3].textContent = change.summary;
      cells[3].title = change.summary;
      const openable = change.status === 'ok' || change.status === 'cached' || change.status === 'failed';
      row.classList.toggle('openable', openable);
      if (openable) {
        row.tabIndex = 0;
        row.title = 'Open this file\u2019s result';
      }
    }
    if (text) status.textContent = text;
    document.body.dataset.done = String(rows.filter((row) => ['ok', 'cached', 'failed'].includes(row.dataset.status || '')).length);
  }

  /** @param {{files: number, ok: number, failed: number, cached: number, cancelled: boolean, written: number, durationMs: number}} result */
  function end(result) {
    document.body.dataset.state = 'finished';
    // Nothing left to stop: the button goes, as in the results panel (a pale primary button reads as "busy").
    stopButton.disabled = true;
    stopButton.hidden = true;
    status.textContent = result.cancelled ? 'Stopped' : 'Done';
    const seconds = (result.durationMs / 1000).toFixed(1);
    const parts = [`${result.ok} of ${result.files} files ok`];
    if (result.cached) parts.push(`${result.cached} from the cache`);
    if (result.failed) parts.push(`${result.failed} failed`);
    if (result.cancelled) parts.push(`${result.files - result.ok - result.failed} not run`);
    if (result.written) parts.push(`${result.written} result files written`);
    summary.textContent = `${parts.join(' · ')} · ${seconds} s`;
    summary.hidden = false;
  }

  vscode.postMessage({ type: 'ready' });
})();
