import { api, token } from '../api.js';
import { h, table, fill } from '../dom.js';
import { chartElement, drawChart } from '../chart.js';
import { attachCompletion } from '../completion.js';

const PAGE = 100;

export function sqlPage(query) {
  const editor = h('textarea', { id: 'sql', name: 'sql', spellcheck: 'false', rows: '6', 'aria-describedby': 'sql-help', autocomplete: 'off' });
  editor.value = query.get('q') || 'SHOW ALL TABLES';
  const results = h('div', { id: 'sql-results', 'aria-live': 'polite' });
  const tables = h('div', { class: 'row', id: 'sql-tables' });
  const run = h('button', { type: 'submit', class: 'primary' }, 'Run');
  const csv = h('button', { type: 'button', id: 'sql-csv' }, 'Download CSV');
  const form = h('form', { class: 'panel', 'aria-label': 'SQL query' },
    h('label', { for: 'sql' }, 'SQL (read-only; Ctrl+Enter runs it)'), editor,
    h('p', { id: 'sql-help', class: 'muted' }, 'One statement: SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE or EXPLAIN. Table and column names complete as you type (arrow keys, then Tab or Enter); click a table below to insert its name.'),
    h('div', { class: 'row' }, run, csv),
    h('h2', {}, 'Tables'), tables);
  const element = h('section', { 'aria-labelledby': 'sql-title' }, h('h1', { id: 'sql-title' }, 'SQL'), form, results);

  let rows = [];
  let columns = [];
  let page = 0;

  function showError(error) {
    // The engine's message as it is: DuckDB marks the position with a LINE n: line and a caret under it.
    fill(results, h('div', { class: 'error', role: 'alert' }, h('strong', {}, 'The query failed'), h('pre', { id: 'sql-error' }, error.message)));
  }

  function render(truncated) {
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    const slice = rows.slice(page * PAGE, page * PAGE + PAGE);
    const previous = h('button', { type: 'button', disabled: page === 0 }, 'Previous');
    const next = h('button', { type: 'button', disabled: page >= pages - 1 }, 'Next');
    previous.addEventListener('click', () => { page--; render(truncated); });
    next.addEventListener('click', () => { page++; render(truncated); });
    const series = timeSeries(columns, rows);
    let chart = null;
    if (series) {
      chart = chartElement(`${series.label} over ${series.time}`, 'sql-chart');
    }
    fill(results, 
      h('p', { id: 'sql-row-count' }, `${rows.length} row${rows.length === 1 ? '' : 's'}` + (truncated ? ' (truncated by the server\'s limits)' : '')),
      rows.length === 0 ? h('p', { class: 'empty' }, 'The query returned no rows.')
        : table(columns.map((c, i) => ({ label: c.name, cell: r => r[i] === null ? 'NULL' : typeof r[i] === 'object' ? JSON.stringify(r[i]) : String(r[i]) })), slice, 'Query results'),
      pages > 1 ? h('nav', { class: 'pager', 'aria-label': 'Result pages' }, previous, h('span', {}, `page ${page + 1} of ${pages}`), next) : null,
      chart ? h('div', { class: 'panel' }, h('h2', {}, `Chart: ${series.label} over ${series.time}`), chart) : null);
    // Drawn once in the page: the chart takes its width from where it sits.
    if (chart) drawChart(chart, { points: series.points, label: series.label });
  }

  async function execute() {
    history.replaceState(null, '', '#/sql?q=' + encodeURIComponent(editor.value));
    fill(results, h('p', { class: 'muted' }, 'Running…'));
    try {
      const answer = await api('/api/v1/sql', { method: 'POST', body: { sql: editor.value } });
      columns = answer.columns;
      rows = answer.rows;
      page = 0;
      if (answer.error) {
        render(true);
        results.append(h('p', { class: 'error', role: 'alert' }, answer.error.message));
      } else {
        render(answer.truncated);
      }
    } catch (error) {
      showError(error);
    }
  }

  async function download() {
    try {
      const response = await fetch('/api/v1/sql', {
        method: 'POST',
        headers: { Authorization: 'Token ' + token(), Accept: 'text/csv', 'Content-Type': 'application/json' },
        body: JSON.stringify({ sql: editor.value }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({ message: response.statusText }));
        throw new Error(body.message);
      }
      const url = URL.createObjectURL(await response.blob());
      const link = h('a', { href: url, download: 'plexus-query.csv' });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      showError(error);
    }
  }

  form.addEventListener('submit', event => { event.preventDefault(); execute(); });
  editor.addEventListener('keydown', event => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      execute();
    }
  });
  csv.addEventListener('click', download);

  api('/api/v1/sql', { method: 'POST', body: { sql: "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('_plexus', 'information_schema', 'pg_catalog') ORDER BY 1, 2" } })
    .then(answer => {
      if (answer.rows.length === 0) {
        tables.append(h('span', { class: 'empty' }, 'No tables yet: write data first.'));
      }
      for (const [schema, name] of answer.rows) {
        const qualified = schema === 'main' ? name : schema + '.' + name;
        const button = h('button', { type: 'button' }, qualified);
        button.addEventListener('click', () => {
          const at = editor.selectionStart;
          editor.setRangeText(qualified, at, editor.selectionEnd, 'end');
          editor.focus();
        });
        tables.append(button);
      }
    })
    .catch(() => tables.append(h('span', { class: 'empty' }, 'The table list is not available.')));

  attachCompletion(editor, async () => {
    const answer = await api('/api/v1/sql', { method: 'POST', body: { sql: "SELECT table_schema, table_name, column_name FROM information_schema.columns WHERE table_schema NOT IN ('_plexus', 'information_schema', 'pg_catalog') ORDER BY 1, 2, ordinal_position" } });
    return answer.rows.map(([schema, name, column]) => ({ table: schema === 'main' ? name : schema + '.' + name, column }));
  });

  if (query.get('q')) execute();
  return { element, title: 'SQL' };
}

const NUMERIC = /^(DOUBLE|FLOAT|REAL|DECIMAL|NUMERIC|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)/;

/**
 * A result that is a time series — a timestamp column and a numeric one — as points for a chart (the first numeric
 * column after the time), or null. Rows come ordered however the query ordered them; the chart sorts by time.
 */
function timeSeries(columns, rows) {
  const time = columns.findIndex(c => c.type.startsWith('TIMESTAMP') || c.type === 'DATE');
  const value = columns.findIndex((c, i) => i !== time && NUMERIC.test(c.type));
  if (time < 0 || value < 0 || rows.length < 2) return null;
  const points = [];
  for (const row of rows) {
    const t = Date.parse(row[time]);
    const v = Number(row[value]);
    if (!Number.isNaN(t) && row[value] !== null && Number.isFinite(v)) points.push({ t, v });
  }
  if (points.length < 2) return null;
  points.sort((a, b) => a.t - b.t);
  return { points, label: columns[value].name, time: columns[time].name };
}
