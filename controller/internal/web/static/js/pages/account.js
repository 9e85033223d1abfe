// My account: who is logged in, the way to change the password, and the
// API tokens scripts use (radioctl, backups). A token's secret is shown
// once, when it is made; after that only its name is known.
import { api, session, can } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, busy, notify, field, select, section, table, fmtDateTime, errorView, copyButton } from '../ui.js';

const ROLES = ['officer', 'leader', 'province', 'admin'];

export async function render(box) {
  const u = session.user;
  const areas = await api('GET', 'areas').catch(() => []);
  const areaName = Object.fromEntries(areas.map((a) => [a.id, a.name || a.id]));
  const whereText = (role, area) => t('role.' + role) + (area ? ' · ' + (areaName[area] || area) : '');

  const me = section(t('acct.me'),
    h('dl', { class: 'kv', id: 'acct-me' },
      h('dt', {}, t('users.name')), h('dd', {}, u.name || '—'),
      h('dt', {}, t('users.username')), h('dd', {}, u.username),
      h('dt', {}, t('users.role')), h('dd', {}, t('role.' + u.role)),
      h('dt', {}, t('users.area')), h('dd', {}, u.area_name || (u.area_id ? areaName[u.area_id] || u.area_id : t('users.allAreas')))),
    h('div', { class: 'row-actions' },
      h('button', { type: 'button', id: 'acct-pw', onclick: () => document.getElementById('pw-open').click() }, t('pw.open'))));

  // The list of tokens.
  const listBox = h('div', { id: 'tokens-list' });
  async function refresh() {
    const tokens = await api('GET', 'tokens');
    clear(listBox).append(table([
      { label: t('tok.nameCol'), cell: (k) => h('strong', {}, k.name) },
      { label: t('users.role'), cell: (k) => whereText(k.role, k.area_id) },
      { label: t('tok.created_at'), cell: (k) => fmtDateTime(k.created_at) },
      { label: t('tok.by'), cell: (k) => k.created_by || '—' },
      { label: t('common.actions'), cell: (k) => h('button', { type: 'button', class: 'danger', 'data-test': 'revoke-' + k.id,
        onclick: (ev) => busy(ev.currentTarget, async () => {
          if (!confirm(t('tok.confirmRevoke', k.name))) return;
          try {
            await api('DELETE', `tokens/${encodeURIComponent(k.id)}`);
            notify(t('tok.revoked', k.name), 'ok');
            await refresh();
          } catch (e) { notify(errorView(e), 'error'); }
        }) }, t('tok.revoke')) },
    ], tokens || [], { test: 'tokens-table', rowTest: (k) => 'token-' + k.id, empty: t('tok.none') }));
  }

  // The form that makes one; an administrator may choose its role and area.
  const name = h('input', { required: true, maxlength: 100, autocomplete: 'off' });
  const role = select(ROLES.map((r) => ({ value: r, label: t('role.' + r) })), 'admin');
  const areaOpts = () => areas.filter((a) => (role.value === 'province' ? a.kind === 'province' : a.kind === 'commune'))
    .map((a) => ({ value: a.id, label: a.name || a.id }));
  const area = select(areaOpts(), '');
  const areaField = field('token-area', t('tok.area'), area);
  const syncRole = () => {
    areaField.hidden = role.value === 'admin';
    area.replaceChildren(...areaOpts().map((o) => h('option', { value: o.value }, o.label)));
  };
  role.addEventListener('change', syncRole);
  syncRole();
  const msg = h('div', { id: 'token-result', class: 'form-msg', 'aria-live': 'polite' });
  const create = h('button', { type: 'submit', id: 'token-create', class: 'primary' }, t('tok.create'));
  const form = h('form', { id: 'token-form', novalidate: true },
    h('p', { class: 'muted' }, can.admin() ? t('tok.introAdmin') : t('tok.intro', whereText(u.role, u.area_id))),
    h('div', { class: 'form-grid' }, field('token-name', t('tok.name'), name, t('tok.nameHint')),
      can.admin() ? [field('token-role', t('tok.role'), role), areaField] : null),
    h('div', { class: 'row-actions' }, create), msg);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    msg.className = 'form-msg';
    clear(msg);
    if (!name.value.trim()) { msg.className = 'form-msg error'; msg.textContent = t('tok.noName'); return; }
    busy(create, async () => {
      try {
        const body = { name: name.value.trim() };
        if (can.admin()) { body.role = role.value; body.area_id = role.value === 'admin' ? '' : area.value; }
        const r = await api('POST', 'tokens', body);
        const code = h('code', { id: 'token-secret', class: 'secret' }, r.secret);
        msg.append(h('div', { class: 'once-box', 'data-test': 'token-once' },
          h('p', {}, '✓ ', t('tok.created', r.token?.name || body.name)),
          h('p', { class: 'warn', role: 'alert' }, '⚠ ', t('tok.once')),
          h('p', { class: 'secret-row' }, code, ' ', copyButton(() => r.secret, code, { id: 'token-copy' })),
          h('p', { class: 'muted small' }, t('tok.usage'), ' ',
            h('code', {}, `curl -H "Authorization: Bearer ${r.secret}" ${location.origin}/api/v1/nodes`))));
        form.querySelector('#token-name').value = '';
        await refresh();
      } catch (e) { msg.className = 'form-msg error'; msg.append(errorView(e)); }
    });
  });

  clear(box).append(me, section(t('tok.title'), form), section(t('tok.list'), listBox));
  await refresh();
}
