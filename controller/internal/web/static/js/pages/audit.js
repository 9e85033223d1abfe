// Audit log (nhật ký thao tác): who did what, to what, when, from where.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, section, table, fmtDateTime } from '../ui.js';

export async function render(box) {
  const rows = await api('GET', 'audit');
  const filter = h('input', { type: 'search', id: 'audit-filter', placeholder: t('audit.filterHint') });
  const out = h('div', { id: 'audit-list' });
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    const shown = q ? rows.filter((r) => [r.actor, r.action, r.target, r.detail, r.remote].join(' ').toLowerCase().includes(q)) : rows;
    clear(out).append(table([
      { label: t('audit.when'), cell: (r) => fmtDateTime(r.at) },
      { label: t('audit.who'), cell: (r) => r.actor || '—' },
      { label: t('audit.what'), cell: (r) => h('span', { title: r.action }, t('act.' + r.action) === 'act.' + r.action ? r.action : t('act.' + r.action)) },
      { label: t('audit.target'), cell: (r) => r.target || '—' },
      { label: t('audit.detail'), cell: (r) => r.detail || '' },
      { label: t('audit.from'), cell: (r) => r.remote || '—' },
    ], shown, { test: 'audit-table', empty: t('audit.none') }));
  };
  filter.addEventListener('input', draw);
  clear(box).append(section(t('nav.audit'), h('div', { class: 'toolbar' }, h('label', { for: 'audit-filter' }, t('audit.filter')), filter), out));
  draw();
}
