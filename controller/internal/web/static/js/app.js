// The app shell: session, header, navigation and hash routing. Each page is
// a module in pages/ exporting render(main) that may return a cleanup.
import { t, lang, setLang, applyStatic } from './i18n.js';
import { api, session, can, loadSession, login, logout, setUnauthorizedHandler, ApiError, waitText } from './api.js';
import { h, clear, notify, busy, spinner, errorView } from './ui.js';
import * as dashboard from './pages/dashboard.js';
import * as coverage from './pages/coverage.js';
import * as nodes from './pages/nodes.js';
import * as media from './pages/media.js';
import * as programme from './pages/programme.js';
import * as approvals from './pages/approvals.js';
import * as control from './pages/control.js';
import * as live from './pages/live.js';
import * as warning from './pages/warning.js';
import * as plays from './pages/plays.js';
import * as audit from './pages/audit.js';
import * as users from './pages/users.js';
import * as updates from './pages/updates.js';
import * as manage from './pages/manage.js';
import * as account from './pages/account.js';

// The pages in menu order; show() says who sees the page.
const pages = [
  { path: 'dashboard', key: 'nav.dashboard', mod: dashboard },
  { path: 'coverage', key: 'nav.coverage', mod: coverage },
  { path: 'nodes', key: 'nav.nodes', mod: nodes },
  { path: 'media', key: 'nav.media', mod: media },
  { path: 'programme', key: 'nav.programme', mod: programme },
  { path: 'approvals', key: 'nav.approvals', mod: approvals },
  { path: 'control', key: 'nav.control', mod: control, show: can.change },
  { path: 'live', key: 'nav.live', mod: live, show: can.change },
  { path: 'warning', key: 'nav.warning', mod: warning, show: can.warn },
  { path: 'plays', key: 'nav.plays', mod: plays },
  { path: 'audit', key: 'nav.audit', mod: audit },
  { path: 'users', key: 'nav.users', mod: users, show: can.admin },
  { path: 'updates', key: 'nav.updates', mod: updates, show: can.admin },
  { path: 'manage', key: 'nav.manage', mod: manage, show: can.change },
  // reached from the name in the top bar (and, on a phone, from the menu)
  { path: 'account', key: 'nav.account', mod: account, menu: false },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const navToggle = document.getElementById('nav-toggle');
let cleanup = null;
let started = false; // the first /me may answer 401 without it being news

// home is where a login lands: provincial staff watch the coverage of
// their province, everyone else the dashboard of their commune.
function home() { return session.user?.role === 'province' ? 'coverage' : 'dashboard'; }

function currentPath() { return (location.hash.replace(/^#\/?/, '').split('?')[0]) || home(); }

function buildNav() {
  const here = currentPath();
  const u = session.user;
  // On a phone the top bar has no room for who is logged in: the opened
  // menu says it, with the way to their account and API tokens.
  const me = h('li', { class: 'nav-who', id: 'nav-who' },
    h('span', { class: 'who-name' }, u.name || u.username),
    h('span', { class: 'who-role' }, t('role.' + u.role) + (u.area_name ? ' · ' + u.area_name : '')),
    h('a', { href: '#/account', id: 'nav-account', 'aria-current': here === 'account' ? 'page' : undefined }, t('acct.link')));
  clear(nav).append(h('ul', {}, me, pages.filter((p) => p.menu !== false && (!p.show || p.show())).map((p) =>
    h('li', {}, h('a', { href: '#/' + p.path, id: 'nav-' + p.path, 'aria-current': p.path === here ? 'page' : undefined }, t(p.key))))));
  refreshWaiting();
}

// refreshWaiting shows in the menu how many bulletins wait for a leader.
async function refreshWaiting() {
  let n = 0;
  try { n = (await api('GET', 'approvals')).length; } catch { return; }
  const link = document.getElementById('nav-approvals');
  if (!link) return;
  link.querySelector('.nav-count')?.remove();
  if (n) link.append(h('span', { class: 'nav-count', id: 'nav-approvals-count', title: t('nav.waiting', n), 'aria-label': t('nav.waiting', n) }, String(n)));
}

function setNavOpen(open) {
  nav.classList.toggle('open', open);
  navToggle.setAttribute('aria-expanded', String(open));
}

function buildHeader() {
  const u = session.user;
  const who = document.getElementById('who');
  who.hidden = !u;
  document.getElementById('logout').hidden = !u;
  document.getElementById('pw-open').hidden = !u;
  navToggle.hidden = !u;
  nav.hidden = !u;
  document.querySelector('.brand').setAttribute('href', '#/' + home());
  if (u) {
    clear(who).append(h('a', { href: '#/account', class: 'who-link', title: t('acct.open') },
      h('span', { class: 'who-name', id: 'who-name' }, u.name || u.username),
      h('span', { class: 'who-role' }, t('role.' + u.role) + (u.area_name ? ' · ' + u.area_name : ''))));
  }
  document.getElementById('lang-toggle').textContent = lang() === 'vi' ? 'EN' : 'VI';
  document.documentElement.lang = lang();
  document.title = t('app.title');
  applyStatic();
}

async function route() {
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  setNavOpen(false);
  buildHeader();
  if (!session.user) { renderLogin(); return; }
  buildNav();
  const path = currentPath();
  const page = pages.find((p) => p.path === path && (!p.show || p.show()));
  if (!page) { location.hash = '#/' + home(); return; }
  const box = h('div', { class: 'page', id: 'page-' + page.path, 'data-page': page.path });
  clear(main).append(h('h1', { id: 'page-title' }, t(page.key)), box);
  box.append(spinner());
  try {
    cleanup = (await page.mod.render(box)) || null;
  } catch (e) {
    clear(box).append(h('p', { class: 'error', role: 'alert' }, e instanceof ApiError ? errorView(e) : String(e)));
  }
  main.dataset.ready = page.path;
}

function renderLogin() {
  main.dataset.ready = '';
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('p', { id: 'login-error', class: 'form-msg error', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'login-submit', class: 'primary' }, t('login.submit'));
  const form = h('form', { class: 'login card', id: 'login-form', novalidate: true },
    h('h1', {}, t('login.title')),
    h('p', { class: 'muted' }, t('login.intro')),
    h('label', { for: 'login-user' }, t('login.username')), user,
    h('label', { for: 'login-pass' }, t('login.password')), pass,
    msg, submit);
  // countDown shows the wait after too many wrong passwords second by
  // second, and keeps the button off until it is over.
  let timer = null;
  function countDown(e) {
    clearInterval(timer);
    const end = Date.now() + e.retryAfter * 1000;
    msg.replaceChildren(errorView(e)); // the advice, and the server's words behind "Chi tiết"
    const advice = msg.querySelector('.err-text') || msg;
    const tick = () => {
      const left = Math.ceil((end - Date.now()) / 1000);
      if (left <= 0 || !form.isConnected) {
        clearInterval(timer); timer = null;
        submit.disabled = false;
        if (form.isConnected) { msg.textContent = t('login.again'); delete msg.dataset.wait; }
        return;
      }
      submit.disabled = true;
      advice.textContent = t('err.rate_limited', waitText(left));
      msg.dataset.wait = String(left);
    };
    tick();
    timer = setInterval(tick, 1000);
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (timer) return;
    msg.textContent = '';
    if (!user.value.trim() || !pass.value) { msg.textContent = t('login.missing'); return; }
    busy(submit, async () => {
      try {
        await login(user.value.trim(), pass.value);
        if (!location.hash || location.hash === '#/login') location.hash = '#/' + home();
        route();
      } catch (e) {
        if (e.code === 'unauthorized') msg.textContent = t('login.wrong');
        else if (e.code === 'rate_limited' && e.retryAfter > 0) { msg.replaceChildren(errorView(e)); setTimeout(() => countDown(e)); } // after busy() gives the button back
        else msg.replaceChildren(errorView(e));
        pass.select();
      }
    });
  });
  clear(main).append(form);
  main.dataset.ready = 'login';
  user.focus();
}

function passwordDialog() {
  const dlg = document.getElementById('pw-dialog');
  const form = document.getElementById('pw-form');
  const msg = document.getElementById('pw-msg');
  const [oldEl, newEl, new2El] = ['pw-old', 'pw-new', 'pw-new2'].map((id) => document.getElementById(id));
  document.getElementById('pw-open').addEventListener('click', () => {
    form.reset(); msg.textContent = ''; dlg.showModal(); oldEl.focus();
  });
  document.getElementById('pw-cancel').addEventListener('click', () => dlg.close());
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (newEl.value.length < 10) { msg.textContent = t('pw.short'); return; }
    if (newEl.value !== new2El.value) { msg.textContent = t('pw.mismatch'); return; }
    busy(document.getElementById('pw-save'), async () => {
      try {
        await api('POST', '/api/v1/me/password', { old: oldEl.value, new: newEl.value });
        dlg.close();
        notify(t('pw.done'), 'ok');
      } catch (e) {
        if (e.code === 'unauthorized') msg.textContent = t('pw.wrongOld');
        else msg.replaceChildren(errorView(e));
      }
    });
  });
}

async function start() {
  applyStatic();
  setUnauthorizedHandler(() => { if (started && main.dataset.ready !== 'login') { notify(t('err.unauthorized'), 'error'); route(); } });
  document.getElementById('lang-toggle').addEventListener('click', () => { setLang(lang() === 'vi' ? 'en' : 'vi'); route(); });
  document.getElementById('logout').addEventListener('click', async (ev) => {
    await busy(ev.currentTarget, () => logout().catch(() => {}));
    document.getElementById('messages').replaceChildren(); // the next person's screen starts clean
    location.hash = '#/login';
    route();
  });
  navToggle.addEventListener('click', () => setNavOpen(!nav.classList.contains('open')));
  passwordDialog();
  window.addEventListener('hashchange', route);
  window.addEventListener('radio-waiting', () => { if (session.user) refreshWaiting(); });
  try {
    await loadSession();
  } catch (e) {
    notify(errorView(e), 'error');
  }
  started = true;
  route();
}

start();
