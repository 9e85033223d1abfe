// Node software updates (administrators): the signed releases the
// controller holds, a form to roll one out to a zone or a share of the
// fleet, and each rollout's progress, refreshed while the page is open.
// Every cluster's version is also on the clusters page.
import { api, session, ApiError } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, busy, notify, field, select, section, table, badge, errorView, fmtDateTime, fmtSize } from '../ui.js';

const ARCHS = ['arm64', 'arm', 'amd64'];

export async function render(box) {
  const zones = await api('GET', 'zones');
  const zoneName = Object.fromEntries(zones.map((z) => [z.id, z.name || z.id]));
  const relBox = h('div', { id: 'releases-list' });
  const roBox = h('div', { id: 'rollouts-list' });
  const versionSel = h('select', { required: true });
  let releases = [];

  async function refresh() {
    const [rels, ros] = await Promise.all([api('GET', 'releases'), api('GET', 'rollouts')]);
    releases = rels.releases || [];
    const chosen = versionSel.value;
    clear(versionSel).append(...[...new Set(releases.map((r) => r.version))].map((v) => h('option', { value: v, selected: v === chosen }, v)));
    clear(relBox).append(table([
      { label: t('upd.version'), cell: (r) => r.version },
      { label: t('upd.arch'), cell: (r) => r.arch },
      { label: t('upd.size'), cell: (r) => fmtSize(r.size), class: 'num' },
      { label: 'SHA-256', cell: (r) => h('code', { title: r.sha256 }, r.sha256.slice(0, 16) + '…') },
      { label: t('upd.added'), cell: (r) => fmtDateTime(r.created_at) },
    ], releases, { test: 'releases-table', rowTest: (r) => 'release-' + r.version + '-' + r.arch, empty: t('upd.noReleases') }));
    clear(roBox).append(...(ros.length ? ros.map((r) => rolloutCard(r, zoneName, refresh)) : [h('p', { class: 'empty', 'data-test': 'rollouts-empty' }, t('upd.noRollouts'))]));
  }

  // Upload: the binary as the request body, version and arch in the query.
  const file = h('input', { type: 'file', required: true });
  const version = h('input', { required: true, placeholder: '1.4.0', autocapitalize: 'none', spellcheck: 'false' });
  const arch = select(ARCHS.map((a) => ({ value: a, label: a })), 'arm64');
  const upMsg = h('p', { class: 'form-msg', role: 'alert' });
  const upGo = h('button', { type: 'submit', class: 'primary', id: 'release-add' }, t('upd.add'));
  const upForm = h('form', { class: 'form-grid', id: 'release-form' },
    field('release-file', t('upd.file'), file), field('release-version', t('upd.version'), version),
    field('release-arch', t('upd.arch'), arch, t('upd.archHint')), upMsg, upGo);
  upForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    upMsg.textContent = '';
    if (!file.files[0] || !version.value.trim()) { upMsg.textContent = t('upd.missing'); return; }
    busy(upGo, async () => {
      try {
        const q = new URLSearchParams({ version: version.value.trim(), arch: arch.value });
        const r = await fetch('/api/v1/releases?' + q, { method: 'POST', body: file.files[0], credentials: 'same-origin',
          headers: { 'X-CSRF-Token': session.csrf, 'Content-Type': 'application/octet-stream', Accept: 'application/json' } })
          .catch(() => { throw new ApiError(0, null); });
        const body = await r.json().catch(() => null);
        if (!r.ok) throw new ApiError(r.status, body);
        notify(t('upd.added1', body.version, body.arch), 'ok');
        upForm.reset();
        await refresh();
      } catch (e) { upMsg.replaceChildren(errorView(e)); }
    });
  });

  // Rollout: a zone, or a percentage of the fleet.
  const zoneSel = select([{ value: '', label: t('upd.byPercent') }, ...zones.map((z) => ({ value: z.id, label: z.name || z.id }))], '');
  const percent = h('input', { type: 'number', min: 1, max: 100, value: 10 });
  const percentField = field('rollout-percent', t('upd.percent'), percent);
  zoneSel.addEventListener('change', () => { percentField.hidden = !!zoneSel.value; });
  const parallel = h('input', { type: 'number', min: 0, placeholder: t('upd.auto') });
  const maxFail = h('input', { type: 'number', min: 0, placeholder: t('upd.auto') });
  const roMsg = h('p', { class: 'form-msg', role: 'alert' });
  const roGo = h('button', { type: 'submit', class: 'primary', id: 'rollout-start' }, t('upd.start'));
  const roForm = h('form', { class: 'form-grid', id: 'rollout-form' },
    field('rollout-version', t('upd.version'), versionSel), field('rollout-zone', t('upd.zone'), zoneSel),
    percentField, field('rollout-parallel', t('upd.parallel'), parallel, t('upd.parallelHint')),
    field('rollout-maxfail', t('upd.maxFailures'), maxFail, t('upd.maxFailuresHint')), roMsg, roGo);
  roForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    roMsg.textContent = '';
    if (!versionSel.value) { roMsg.textContent = t('upd.noReleases'); return; }
    const body = { version: versionSel.value, parallel: Number(parallel.value) || 0, max_failures: Number(maxFail.value) || 0 };
    if (zoneSel.value) body.zone = zoneSel.value; else body.percent = Number(percent.value) || 0;
    if (!confirm(t('upd.confirm', body.version))) return;
    busy(roGo, async () => {
      try {
        await api('POST', 'rollouts', body);
        await refresh();
      } catch (e) { roMsg.replaceChildren(errorView(e)); }
    });
  });

  clear(box).append(
    section(t('upd.rollouts'), roForm, roBox),
    section(t('upd.releases'), upForm, relBox));
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), 3000);
  return () => clearInterval(timer);
}

function rolloutCard(r, zoneName, refresh) {
  const kind = { running: 'on', halted: 'off', done: 'ok' }[r.status] || 'info';
  const target = r.zone ? t('upd.targetZone', zoneName[r.zone] || r.zone) : t('upd.targetPercent', r.percent);
  return h('div', { class: 'card rollout', 'data-test': 'rollout-' + r.id },
    h('h3', {}, `${r.version}${r.arch ? ' (' + r.arch + ')' : ''} · ${target} `, badge(t('upd.st.' + r.status), kind)),
    h('p', { 'data-test': 'rollout-counts' }, t('upd.counts', r.targeted, r.updated, r.failed, r.sent, r.pending)),
    r.status === 'halted' ? h('p', { class: 'warn-banner', 'data-test': 'rollout-halted' }, r.failed >= r.max_failures
      ? t('upd.haltedWhy', r.failed, r.targeted, r.max_failures) : t('upd.stopped', r.reason.replace(/^stopped by /, ''))) : null,
    h('p', { class: 'muted' }, t('upd.by', fmtDateTime(r.created_at), r.created_by || '—')),
    r.status === 'running' ? h('button', { type: 'button', 'data-test': 'rollout-stop-' + r.id, onclick: (ev) => busy(ev.currentTarget, async () => {
      if (!confirm(t('upd.confirmStop', r.version))) return;
      try { await api('POST', `rollouts/${encodeURIComponent(r.id)}/stop`, {}); await refresh(); } catch (e) { notify(errorView(e), 'error'); }
    }) }, t('upd.stop')) : null,
    h('details', {}, h('summary', {}, t('upd.nodes')), table([
      { label: t('nodes.id'), cell: (n) => n.node_id },
      { label: t('upd.arch'), cell: (n) => n.arch || '—' },
      { label: t('nodes.status'), cell: (n) => badge(t('upd.ns.' + n.status), { updated: 'ok', failed: 'off', sent: 'on' }[n.status] || 'info') },
      { label: t('upd.reason'), cell: (n) => n.reason || '—' },
    ], r.nodes || [], { rowTest: (n) => 'rollout-node-' + n.node_id })));
}
