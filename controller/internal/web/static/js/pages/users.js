// Users (admin only): the accounts and a form to create one. A generated
// password is shown once, here, and never again.
import { api, session } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, busy, notify, field, select, section, table, badge, errorView, copyButton } from '../ui.js';

const ROLES = ['officer', 'leader', 'province', 'admin'];

export async function render(box) {
  const areas = await api('GET', 'areas');
  const listBox = h('div', { id: 'users-list' });
  // a reset password, shown once, above the list
  const resetBox = h('div', { id: 'user-reset-result', class: 'form-msg', 'aria-live': 'polite' });
  async function reset(btn, u) {
    if (!confirm(t('users.confirmReset', u.username))) return;
    await busy(btn, async () => {
      resetBox.className = 'form-msg';
      clear(resetBox);
      try {
        const r = await api('POST', `users/${encodeURIComponent(u.id)}/password`, {});
        const code = h('code', { id: 'user-reset-password', class: 'secret' }, r.password);
        resetBox.append(h('div', { class: 'once-box', 'data-test': 'reset-' + u.username + '-done' },
          h('p', {}, t('users.resetDone', u.username)),
          h('p', { class: 'secret-row' }, code, ' ', copyButton(() => r.password, code, { id: 'user-reset-copy' }))));
        resetBox.scrollIntoView({ block: 'nearest' });
      } catch (e) { resetBox.className = 'form-msg error'; resetBox.append(errorView(e)); }
    });
  }
  const areaName = Object.fromEntries(areas.map((a) => [a.id, a.name]));
  async function refresh() {
    const users = await api('GET', 'users');
    clear(listBox).append(table([
      { label: t('users.username'), cell: (u) => u.username },
      { label: t('users.name'), cell: (u) => u.name || '—' },
      { label: t('users.role'), cell: (u) => t('role.' + u.role) },
      { label: t('users.area'), cell: (u) => u.area_name || areaName[u.area_id] || (u.area_id ? u.area_id : t('users.allAreas')) },
      { label: t('users.status'), cell: (u) => u.disabled ? badge(t('users.disabled'), 'off') : badge(t('users.active'), 'on') },
      { label: t('common.actions'), cell: (u) => u.id === session.user?.id ? '' : h('div', { class: 'row-actions' }, h('button', { type: 'button', 'data-test': 'toggle-' + u.username,
        onclick: (ev) => busy(ev.currentTarget, async () => {
          if (!u.disabled && !confirm(t('users.confirmDisable', u.username))) return;
          try {
            await api('POST', `users/${encodeURIComponent(u.id)}/disabled`, { disabled: !u.disabled });
            await refresh();
          } catch (e) { notify(errorView(e), 'error'); }
        }) }, u.disabled ? t('users.enable') : t('users.disable')),
      h('button', { type: 'button', 'data-test': 'reset-' + u.username, onclick: (ev) => reset(ev.currentTarget, u) }, t('users.reset'))) },
    ], users, { test: 'users-table', rowTest: (u) => 'user-' + u.username }));
  }
  const username = h('input', { autocapitalize: 'none', spellcheck: 'false', autocomplete: 'off', required: true, pattern: '[a-z0-9._-]+' });
  const name = h('input', { required: true });
  const role = select(ROLES.map((r) => ({ value: r, label: t('role.' + r) })), 'officer');
  const areaOpts = () => areas.filter((a) => (role.value === 'province' ? a.kind === 'province' : a.kind === 'commune'))
    .map((a) => ({ value: a.id, label: a.name }));
  const area = select(areaOpts(), '');
  const areaField = field('user-area', t('users.area'), area);
  role.addEventListener('change', () => {
    areaField.hidden = role.value === 'admin';
    area.replaceChildren(...areaOpts().map((o) => h('option', { value: o.value }, o.label)));
  });
  const pw = h('input', { type: 'password', autocomplete: 'new-password', minlength: 10 });
  const msg = h('div', { id: 'user-result', class: 'form-msg', 'aria-live': 'polite' });
  const create = h('button', { type: 'submit', id: 'user-create', class: 'primary' }, t('users.create'));
  const form = h('form', { id: 'user-form', novalidate: true }, h('div', { class: 'form-grid' },
    field('user-username', t('users.username'), username, t('users.usernameHint')), field('user-name', t('users.name'), name),
    field('user-role', t('users.role'), role), areaField, field('user-password', t('users.password'), pw, t('users.passwordHint'))),
  h('div', { class: 'row-actions' }, create), msg);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    msg.className = 'form-msg';
    if (!/^[a-z0-9._-]{2,}$/.test(username.value.trim())) { msg.className = 'form-msg error'; msg.textContent = t('users.badUsername'); return; }
    if (!name.value.trim()) { msg.className = 'form-msg error'; msg.textContent = t('users.noName'); return; }
    if (pw.value && pw.value.length < 10) { msg.className = 'form-msg error'; msg.textContent = t('pw.short'); return; }
    busy(create, async () => {
      try {
        const body = { username: username.value.trim(), name: name.value.trim(), role: role.value, area_id: role.value === 'admin' ? '' : area.value };
        if (pw.value) body.password = pw.value;
        const r = await api('POST', 'users', body);
        clear(msg).append(h('p', {}, t('users.created', r.user?.username || body.username)),
          r.password && !pw.value ? h('p', { class: 'once' }, t('users.generated'), ' ', h('code', { id: 'user-generated' }, r.password)) : null);
        form.reset();
        role.dispatchEvent(new Event('change'));
        await refresh();
      } catch (e) { msg.className = 'form-msg error'; clear(msg).append(errorView(e)); }
    });
  });
  clear(box).append(section(t('users.new'), form), section(t('users.list'), resetBox, listBox));
  await refresh();
}
