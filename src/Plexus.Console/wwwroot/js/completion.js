// Table and column completion for a textarea: the word before the caret is matched against the catalog, the
// suggestions show in a listbox under the editor, and the keyboard picks one (arrows, then Tab or Enter; Escape
// closes). The editor stays a plain textarea, so typing, pasting and undo work as everywhere else.
import { h, fill } from './dom.js';

const MAX_SUGGESTIONS = 8;
let nextId = 0;

/** `load()` answers [{table, column}] once, when the editor is first used. */
export function attachCompletion(editor, load) {
  const id = 'completion-' + (++nextId);
  const list = h('ul', { id, class: 'completion', role: 'listbox', 'aria-label': 'Suggestions', hidden: true });
  editor.after(list);
  // A textarea keeps its textbox role (ARIA allows no combobox on it); a textbox may still own a list it completes from.
  editor.setAttribute('aria-autocomplete', 'list');
  editor.setAttribute('aria-controls', id);
  let catalog = null;
  let loading = null;
  let suggestions = [];
  let active = -1;
  let word = { start: 0, end: 0 };

  function close() {
    suggestions = [];
    active = -1;
    list.hidden = true;
    editor.removeAttribute('aria-activedescendant');
  }

  function show() {
    fill(list, suggestions.map((s, i) => {
      const item = h('li', { id: `${id}-${i}`, role: 'option', 'aria-selected': i === active ? 'true' : 'false', class: i === active ? 'active' : null },
        s.text, s.detail ? h('span', { class: 'muted' }, ' ' + s.detail) : null);
      // mousedown, not click: the editor must not lose its caret before the choice is made.
      item.addEventListener('mousedown', event => { event.preventDefault(); accept(i); });
      return item;
    }));
    list.hidden = suggestions.length === 0;
    if (active >= 0) editor.setAttribute('aria-activedescendant', `${id}-${active}`);
    else editor.removeAttribute('aria-activedescendant');
  }

  function accept(index) {
    const choice = suggestions[index];
    if (!choice) return;
    editor.setRangeText(choice.text, word.start, word.end, 'end');
    close();
    editor.focus();
  }

  async function suggest() {
    if (!catalog) {
      loading ??= load().then(rows => { catalog = rows; }).catch(() => { catalog = []; });
      await loading;
    }
    const caret = editor.selectionStart;
    if (caret !== editor.selectionEnd) return close();
    const before = editor.value.slice(0, caret);
    const match = /[A-Za-z_][A-Za-z0-9_.]*$/.exec(before);
    if (!match) return close();
    word = { start: caret - match[0].length, end: caret };
    const typed = match[0].toLowerCase();
    const text = editor.value.toLowerCase();
    const seen = new Set();
    const tables = [];
    const columns = [];
    for (const { table, column } of catalog) {
      if (!seen.has(table) && table.toLowerCase().startsWith(typed) && table.toLowerCase() !== typed) {
        seen.add(table);
        tables.push({ text: table, detail: 'table' });
      }
      // Columns of the tables the statement names come first; others follow.
      if (column.toLowerCase().startsWith(typed) && column.toLowerCase() !== typed && !seen.has(table + '.' + column)) {
        seen.add(table + '.' + column);
        const named = text.includes(table.toLowerCase());
        columns.push({ text: column, detail: table, rank: named ? 0 : 1 });
      }
    }
    columns.sort((a, b) => a.rank - b.rank);
    const unique = new Map();
    for (const s of [...tables, ...columns]) if (!unique.has(s.text)) unique.set(s.text, s);
    suggestions = [...unique.values()].slice(0, MAX_SUGGESTIONS);
    active = suggestions.length > 0 ? 0 : -1;
    show();
  }

  editor.addEventListener('input', () => { suggest(); });
  editor.addEventListener('blur', close);
  editor.addEventListener('keydown', event => {
    if (list.hidden || suggestions.length === 0) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      active = (active + step + suggestions.length) % suggestions.length;
      show();
    } else if ((event.key === 'Tab' || event.key === 'Enter') && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      event.stopImmediatePropagation();
      accept(active);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      close();
    }
  });
}
