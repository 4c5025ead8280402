import { api } from '../api.js';
import { errorBox, h, table, fill } from '../dom.js';
import { may } from '../session.js';

// A rule as the API takes it: what the list answers, less what the server keeps about it.
function definitionOf(rule) {
  const { paused, created_at: created, updated_at: updated, ...definition } = rule;
  return definition;
}

const EXAMPLE = {
  name: 'freezer-warm',
  from: 'telemetry',
  where: "temperature > -15 AND device.type = 'freezer'",
  for: '5m',
  clear_when: 'temperature < -18',
  severity: 'major',
  actions: [],
};

/**
 * Rules: every rule with its condition and state; an admin creates, edits (as JSON, the API's own shape, checked by
 * the server before it is stored), pauses, resumes and removes them. docs/rules.md is the reference.
 */
export function rulesPage() {
  const list = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const editor = may('admin') ? ruleEditor(() => load()) : null;
  const element = h('section', { 'aria-labelledby': 'rules-title' },
    h('h1', { id: 'rules-title' }, 'Rules'),
    h('p', { class: 'muted' }, 'Rules watch the data as it is stored and raise alarms (see the Alarms page). docs/rules.md has the forms and a cookbook.'),
    editor?.element,
    list);

  async function act(name, action) {
    try {
      if (action === 'remove') await api('/api/v1/rules/' + encodeURIComponent(name), { method: 'DELETE' });
      else await api(`/api/v1/rules/${encodeURIComponent(name)}/${action}`, { method: 'POST' });
      load();
    } catch (error) {
      list.prepend(errorBox(error));
    }
  }

  async function load() {
    try {
      const { rules } = await api('/api/v1/rules');
      if (rules.length === 0) {
        fill(list, h('p', { class: 'empty' }, may('admin')
          ? 'No rules yet. Write one above, starting from the example, or see docs/rules.md.'
          : 'No rules yet; an admin creates them.'));
        return;
      }
      const columns = [
        { label: 'Rule', cell: r => r.name },
        { label: 'Data', cell: r => r.from, className: 'hide-narrow' },
        { label: 'Condition', cell: r => h('code', {}, r.where ?? (r.absent_for ? 'no data for ' + r.absent_for : '')) },
        { label: 'For', cell: r => r.for || '', className: 'hide-narrow' },
        { label: 'Severity', cell: r => h('span', { class: 'sev-' + r.severity }, r.severity) },
        { label: 'State', cell: r => r.paused ? 'paused' : 'running' },
      ];
      if (may('admin')) {
        columns.push({
          label: 'Actions',
          cell: r => h('span', { class: 'row' },
            h('button', { type: 'button', 'aria-label': 'Edit ' + r.name, onclick: () => editor.edit(definitionOf(r)) }, 'Edit'),
            h('button', { type: 'button', 'aria-label': (r.paused ? 'Resume ' : 'Pause ') + r.name, onclick: () => act(r.name, r.paused ? 'resume' : 'pause') }, r.paused ? 'Resume' : 'Pause'),
            removeButton(r.name, () => act(r.name, 'remove'))),
        });
      }
      fill(list, table(columns, rules, 'Rules'));
    } catch (error) {
      fill(list, errorBox(error));
    }
  }

  load();
  return { element, title: 'Rules' };
}

function removeButton(name, remove) {
  const cell = h('span', { class: 'row' });
  const start = h('button', { type: 'button', class: 'danger', 'aria-label': 'Remove ' + name }, 'Remove');
  start.addEventListener('click', () => {
    const confirm = h('button', { type: 'button', class: 'danger', 'aria-label': 'Confirm removing ' + name, onclick: remove }, 'Confirm remove');
    const cancel = h('button', { type: 'button', onclick: () => fill(cell, start) }, 'Cancel');
    fill(cell, confirm, cancel);
    confirm.focus();
  });
  cell.append(start);
  return cell;
}

function ruleEditor(saved) {
  const text = h('textarea', { id: 'rule-json', name: 'rule-json', spellcheck: 'false', rows: '12', 'aria-describedby': 'rule-help' });
  text.value = JSON.stringify(EXAMPLE, null, 2);
  const title = h('h2', { id: 'rule-editor-title' }, 'New rule');
  const result = h('div', { 'aria-live': 'polite', id: 'rule-result' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save rule');
  const reset = h('button', { type: 'button' }, 'New rule from the example');
  let editing = null;
  const form = h('form', { class: 'panel', 'aria-labelledby': 'rule-editor-title' },
    title,
    h('label', { for: 'rule-json' }, 'Rule (JSON)'),
    text,
    h('p', { id: 'rule-help', class: 'muted' },
      'name, from (a measurement), where (a SQL condition over the point, device.*, state.*, position.*), for, clear_when, severity, actions. The server checks the rule before it keeps it.'),
    h('div', { class: 'row' }, save, reset),
    result);

  function edit(definition) {
    editing = definition.name;
    title.textContent = 'Edit rule ' + definition.name;
    text.value = JSON.stringify(definition, null, 2);
    fill(result);
    form.scrollIntoView({ block: 'start' });
    text.focus();
  }

  reset.addEventListener('click', () => {
    editing = null;
    title.textContent = 'New rule';
    text.value = JSON.stringify(EXAMPLE, null, 2);
    fill(result);
  });

  form.addEventListener('submit', async event => {
    event.preventDefault();
    let body;
    try {
      body = JSON.parse(text.value);
    } catch (error) {
      fill(result, errorBox('The rule is not valid JSON: ' + error.message));
      return;
    }
    try {
      // A renamed rule is a new one: PUT only when the name is still the one being edited.
      const replacing = editing !== null && body && body.name === editing;
      const rule = replacing
        ? await api('/api/v1/rules/' + encodeURIComponent(editing), { method: 'PUT', body })
        : await api('/api/v1/rules', { method: 'POST', body });
      fill(result, h('p', { class: 'notice', role: 'status' }, `Saved rule ${rule.name}.`));
      editing = rule.name;
      title.textContent = 'Edit rule ' + rule.name;
      saved();
    } catch (error) {
      fill(result, errorBox(error));
    }
  });

  return { element: form, edit };
}
