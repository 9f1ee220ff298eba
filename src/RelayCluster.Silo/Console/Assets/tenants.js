// #/tenants: every tenant with its limits and live usage. Rows are kept by id and only a changed row's cells are
// rewritten, so hundreds of tenants cost one small DOM update per change, never a re-render of the table.
import { fmt, h } from './core.js';
import { pollTenants, watch } from './live.js';

/** The budget cell: spent + reserved against the budget as text (what screen readers read) and a bar with threshold marks. */
export function budgetCell(row) {
  const budget = row.limits.monthly_budget_usd;
  const share = (v) => (budget ? Math.min(100, (v / budget) * 100) : 0);
  const text = budget
    ? `${fmt.usd(row.spent_usd)} of ${fmt.usd(budget)} (${share(row.spent_usd).toFixed(1)} %)`
    : `${fmt.usd(row.spent_usd)} · no budget`;
  const cell = h('div', {}, h('span', { class: 'spent-text' }, text));
  if (row.reserved_usd > 0) cell.append(h('span', { class: 'muted' }, ` + ${fmt.usd(row.reserved_usd)} reserved`));
  if (budget) {
    const bar = h('div', { class: 'bar', 'aria-hidden': 'true' });
    const reserved = h('span', { class: 'reserved' });
    const spent = h('span', { class: 'spent' });
    reserved.style.setProperty('width', `${share(row.spent_usd + row.reserved_usd)}%`);
    spent.style.setProperty('width', `${share(row.spent_usd)}%`);
    bar.append(reserved, spent);
    for (const [name, at] of [['alert', row.alert_threshold], ['pause', row.pause_threshold]]) {
      if (!at) continue;
      const mark = h('span', { class: `mark ${name}`, title: `${name} at ${(at * 100).toFixed(0)} %` });
      mark.style.setProperty('left', `${Math.min(100, at * 100)}%`);
      bar.append(mark);
    }
    cell.append(bar);
  }
  return cell;
}

export function stateBadge(row) {
  return row.paused
    ? h('span', { class: 'badge paused' }, row.paused_by === 'threshold' ? 'paused (budget)' : 'paused')
    : h('span', { class: 'badge active' }, 'active');
}

const COLUMNS = [
  ['Tenant', '', (r) => h('a', { href: `#/tenants/${encodeURIComponent(r.id)}` }, r.id)],
  ['State', '', stateBadge],
  ['Requests / min', 'num', (r) => `${fmt.num(r.requests_in_window)} / ${fmt.limit(r.limits.requests_per_minute)}`],
  ['Tokens / min', 'num wide', (r) => `${fmt.num(r.tokens_in_window)} / ${fmt.limit(r.limits.tokens_per_minute)}`],
  ['In flight', 'num wide', (r) => `${fmt.num(r.in_flight)} / ${fmt.limit(r.limits.max_concurrent)}`],
  ['Spent this month', 'budget', budgetCell],
];

export function mount(view) {
  const tbody = h('tbody', {});
  const count = h('p', { class: 'muted' }, 'Loading…');
  view.append(
    h('h1', { tabindex: '-1' }, 'Tenants'), count,
    h('div', { class: 'scroll', role: 'region', 'aria-label': 'Tenants table', tabindex: '0' },
      h('table', { id: 'tenants' },
        h('thead', {}, h('tr', {}, COLUMNS.map(([name, cls]) => h('th', { scope: 'col', class: cls }, name)))),
        tbody)));
  const rows = new Map(); // id -> { tr, json }

  const upsert = (row) => {
    const json = JSON.stringify({ ...row, updated_at: 0 });
    let entry = rows.get(row.id);
    if (entry?.json === json) return;
    if (!entry) {
      entry = { tr: h('tr', { 'data-tenant': row.id }) };
      const next = [...rows.keys()].filter((id) => id > row.id).sort()[0];
      tbody.insertBefore(entry.tr, next ? rows.get(next).tr : null); // kept in id order without re-sorting the table
      rows.set(row.id, entry);
    }
    entry.json = json;
    entry.tr.replaceChildren(...COLUMNS.map(([, cls, cell], i) => h(i === 0 ? 'th' : 'td', { class: cls, scope: i === 0 ? 'row' : undefined }, cell(row))));
  };
  const remove = (id) => { rows.get(id)?.tr.remove(); rows.delete(id); count.textContent = `${rows.size} tenants`; };

  return watch({
    hubMethod: 'WatchTenants', unwatchMethod: 'UnwatchTenants', event: 'tenants',
    poll: pollTenants, key: (r) => r.id,
    onRows: (list, full) => {
      if (full) for (const id of [...rows.keys()]) if (!list.some((r) => r.id === id)) remove(id);
      list.forEach(upsert);
      count.textContent = `${rows.size} tenants`;
    },
    onRemoved: remove,
    onTenantRemoved: remove,
  });
}
