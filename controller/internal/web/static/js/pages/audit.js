// Audit log (nhật ký thao tác): who did what, to what, when, from where.
// Targets and details are said with names (recordings, zones, clusters);
// the raw ids stay in each cell's tooltip.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, section, table, fmtDateTime } from '../ui.js';
import { remember, humanize } from '../names.js';

export async function render(box) {
  // The names are a help, not a need: a list the caller may not read is
  // left out and its ids are shown as they are.
  const [rows, ...lists] = await Promise.all([api('GET', 'audit'),
    ...['media', 'zones', 'nodes', 'stations'].map((p) => api('GET', p).catch(() => []))]);
  ['media', 'zone', 'node', 'station'].forEach((k, i) => remember(k, lists[i]));
  const filter = h('input', { type: 'search', id: 'audit-filter', placeholder: t('audit.filterHint') });
  const out = h('div', { id: 'audit-list' });
  const said = (raw) => {
    const text = humanize(raw);
    return raw ? h('span', { title: text !== raw ? t('audit.raw', raw) : undefined }, text || '—') : '—';
  };
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    const shown = q ? rows.filter((r) => [r.actor, r.action, r.target, r.detail, humanize(r.target), humanize(r.detail), r.remote].join(' ').toLowerCase().includes(q)) : rows;
    clear(out).append(table([
      { label: t('audit.when'), cell: (r) => fmtDateTime(r.at) },
      { label: t('audit.who'), cell: (r) => r.actor || '—' },
      { label: t('audit.what'), cell: (r) => h('span', { title: r.action }, t('act.' + r.action) === 'act.' + r.action ? r.action : t('act.' + r.action)) },
      { label: t('audit.target'), cell: (r) => said(r.target) },
      { label: t('audit.detail'), cell: (r) => r.detail ? said(r.detail) : '' },
      { label: t('audit.from'), cell: (r) => r.remote || '—' },
    ], shown, { test: 'audit-table', empty: t('audit.none') }));
  };
  filter.addEventListener('input', draw);
  clear(box).append(section(t('nav.audit'), h('div', { class: 'toolbar' }, h('label', { for: 'audit-filter' }, t('audit.filter')), filter), out));
  draw();
}
