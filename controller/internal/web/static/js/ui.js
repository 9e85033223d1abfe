// DOM building and formatting helpers shared by every page. Pages build
// their DOM with h() (never innerHTML), so text from the server is never
// interpreted as markup.
import { t, lang } from './i18n.js';

const SVGNS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'for') el.setAttribute('for', v);
    else if (k === 'value' && 'value' in el && !(el instanceof SVGElement)) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h('button', {class: 'primary', onclick}, 'text', child...)
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s() is h() for SVG elements.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVGNS, tag), attrs, children);
}

export function clear(el) { el.replaceChildren(); return el; }

// Vietnam has used UTC+7 without daylight saving since 1975, so wall-clock
// arithmetic in Vietnam time is a fixed shift of the UTC instant.
export const VN_OFFSET_MS = 7 * 3600 * 1000;
export const TZ = 'Asia/Ho_Chi_Minh';

function locale() { return lang() === 'en' ? 'en-GB' : 'vi-VN'; }

const fmtCache = new Map();
function fmt(kind) {
  const key = kind + locale();
  if (!fmtCache.has(key)) {
    const o = { timeZone: TZ };
    if (kind === 'dt') Object.assign(o, { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    if (kind === 'd') Object.assign(o, { day: '2-digit', month: '2-digit', year: 'numeric' });
    if (kind === 'dm') Object.assign(o, { weekday: 'short', day: '2-digit', month: '2-digit' });
    if (kind === 't') Object.assign(o, { hour: '2-digit', minute: '2-digit', hour12: false });
    fmtCache.set(key, new Intl.DateTimeFormat(locale(), o));
  }
  return fmtCache.get(key);
}

function toDate(v) { return v instanceof Date ? v : new Date(v); }
function valid(v) { return v && !isNaN(toDate(v)); }

export function fmtDateTime(v) { return valid(v) ? fmt('dt').format(toDate(v)) : '—'; }
export function fmtDate(v) { return valid(v) ? fmt('d').format(toDate(v)) : '—'; }
export function fmtDayMonth(v) { return valid(v) ? fmt('dm').format(toDate(v)) : '—'; }
export function fmtTime(v) { return valid(v) ? fmt('t').format(toDate(v)) : '—'; }

// "3 phút trước" style relative time.
export function fmtAgo(v) {
  if (!valid(v)) return '—';
  const sec = Math.round((Date.now() - toDate(v)) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  const a = Math.abs(sec);
  if (a < 60) return rtf.format(-sec, 'second');
  if (a < 3600) return rtf.format(-Math.round(sec / 60), 'minute');
  if (a < 86400) return rtf.format(-Math.round(sec / 3600), 'hour');
  return rtf.format(-Math.round(sec / 86400), 'day');
}

// m:ss (h:mm:ss past an hour).
export function fmtDuration(ms) {
  if (ms === undefined || ms === null || isNaN(ms)) return '—';
  const total = Math.round(ms / 1000);
  const hh = Math.floor(total / 3600), mm = Math.floor(total / 60) % 60, ss = total % 60;
  const p = (n) => String(n).padStart(2, '0');
  return hh ? `${hh}:${p(mm)}:${p(ss)}` : `${Math.floor(total / 60)}:${p(ss)}`;
}

export function fmtSize(bytes) {
  if (bytes === undefined || bytes === null || isNaN(bytes)) return '—';
  const n = new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 });
  if (bytes < 1024 * 1024) return n.format(bytes / 1024) + ' KB';
  if (bytes < 1024 * 1024 * 1024) return n.format(bytes / 1024 / 1024) + ' MB';
  return n.format(bytes / 1024 / 1024 / 1024) + ' GB';
}

// Vietnam wall clock of an instant: {y, m (1-12), d, hh, mm, ss, wd (0=Mon)}.
export function vnParts(v) {
  const x = new Date(toDate(v).getTime() + VN_OFFSET_MS);
  return { y: x.getUTCFullYear(), m: x.getUTCMonth() + 1, d: x.getUTCDate(), hh: x.getUTCHours(), mm: x.getUTCMinutes(), ss: x.getUTCSeconds(), wd: (x.getUTCDay() + 6) % 7 };
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// "2026-12-06" in Vietnam time.
export function vnDateString(v) { const p = vnParts(v); return `${pad(p.y, 4)}-${pad(p.m)}-${pad(p.d)}`; }
// "07:30:05" in Vietnam time.
export function vnTimeString(v, seconds = true) { const p = vnParts(v); return `${pad(p.hh)}:${pad(p.mm)}` + (seconds ? `:${pad(p.ss)}` : ''); }

// The instant of a Vietnam date ("2026-12-06") and time ("07:30[:00]").
export function fromVN(date, time = '00:00:00') {
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm, ss] = (time + ':0:0').split(':').map(Number);
  return new Date(Date.UTC(y, m - 1, d, hh, mm, ss || 0) - VN_OFFSET_MS);
}

// Midnight (Vietnam time) of the Monday of the week holding v.
export function vnWeekStart(v) {
  const p = vnParts(v);
  return new Date(fromVN(vnDateString(v)).getTime() - p.wd * 86400000);
}

// "2026-12-01" (a date as the API writes it) as the app shows dates: 01/12/2026.
export function fmtDay(day) {
  const [y, m, d] = String(day || '').split('-');
  return d && m && y ? `${d}/${m}/${y}` : (day || '');
}

// errorView shows an error as the officer should read it: the app's own
// sentence for its code, and the server's English detail folded away
// behind "Chi tiết" (shown plainly only when the app has no sentence for
// the code). With list, a schedule error's mistakes are listed, visibly,
// made readable by list (bulletin.js friendlyErrors); advice false
// leaves out the code's sentence (when the caller says it better).
export function errorView(e, { list, advice = true } = {}) {
  if (!e || e.advice === undefined) return h('span', { class: 'err-text' }, String(e?.message || e));
  const out = h('span', { class: 'err-view' }, advice ? h('span', { class: 'err-text' }, e.advice) : null);
  const lines = e.errors || [];
  if (list && lines.length) {
    out.append(h('ul', { class: 'err-list' }, list(lines).map((f) => h('li', { title: f.orig && f.orig !== f.text ? f.orig : undefined }, f.text))));
  } else if (e.detail && e.detail !== e.advice) {
    if (e.known) out.append(' ', h('details', { class: 'err-detail' }, h('summary', {}, t('common.details')), h('span', { lang: 'en' }, e.detail)));
    else out.append(' ', h('span', { class: 'err-raw', lang: 'en' }, '(' + e.detail + ')'));
  }
  return out;
}

// copyButton copies text() to the clipboard (or, where the browser allows
// no clipboard, selects it in target so that Ctrl+C copies it).
export function copyButton(text, target, attrs = {}) {
  const b = h('button', { type: 'button', class: 'copy-btn', ...attrs }, t('common.copy'));
  b.addEventListener('click', async () => {
    const v = text();
    let ok = false;
    try { if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(v); ok = true; } } catch { ok = false; }
    if (!ok && target) {
      const r = document.createRange(); r.selectNodeContents(target);
      const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(r);
      try { ok = document.execCommand('copy'); } catch { ok = false; }
    }
    b.textContent = ok ? t('common.copied') : t('common.copySelect');
    setTimeout(() => { b.textContent = t('common.copy'); }, 4000);
  });
  return b;
}

// messages: one polite live region for the whole app.
export function notify(text, kind = 'info') {
  const box = document.getElementById('messages');
  // text may be a string or a node (errorView(e), say)
  const m = h('div', { class: 'msg msg-' + kind, 'data-test': 'msg-' + kind }, h('span', {}, text),
    h('button', { type: 'button', class: 'msg-close', 'aria-label': t('common.close'), onclick: () => m.remove() }, '×'));
  box.append(m);
  if (kind !== 'error') setTimeout(() => m.remove(), 6000);
  return m;
}

// busy runs work while the button shows a spinner and cannot be pressed twice.
export async function busy(button, work) {
  if (!button) return work();
  const before = button.disabled;
  button.disabled = true;
  button.classList.add('busy');
  button.setAttribute('aria-busy', 'true');
  try { return await work(); } finally {
    button.disabled = before;
    button.classList.remove('busy');
    button.removeAttribute('aria-busy');
  }
}

export function spinner(text) {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' ', text || t('common.loading'));
}

// table renders rows as a table that scrolls sideways on a desk and turns
// into one card per row on a phone (each cell carries its column name).
// columns: [{label, cell(row) -> Node|string, class?, head?, sort?}]; head
// replaces the label in the column's header (a sort button, say) and sort is
// its aria-sort.
export function table(columns, rows, { empty, test, rowTest } = {}) {
  if (!rows.length) return h('p', { class: 'empty', 'data-test': test ? test + '-empty' : undefined }, empty || t('common.empty'));
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data cards', 'data-test': test },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class, 'aria-sort': c.sort }, c.head || c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', { 'data-test': rowTest ? rowTest(r) : undefined },
        columns.map((c) => h('td', { 'data-label': c.label, class: c.class }, c.cell(r))))))));
}

export function field(id, label, input, hint) {
  const control = input.dateText || input; // a date field: its text box takes the label
  control.id = id;
  if (hint) control.setAttribute('aria-describedby', id + '-hint');
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('small', { id: id + '-hint', class: 'hint' }, hint) : null);
}

export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map((o) => h('option', { value: o.value, selected: o.value === value }, o.label)));
}

export function badge(text, kind) { return h('span', { class: 'badge badge-' + kind }, text); }

export function priorityBadge(p) { return badge(t('prio.' + (p || 'normal')), 'prio-' + (p || 'normal')); }
export function statusBadge(st) { return badge(t('status.' + st), 'st-' + String(st).replace(/\s+/g, '-')); }
export function onlineBadge(on) { return badge(on ? t('node.online') : t('node.offline'), on ? 'on' : 'off'); }

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

// parseDay reads a date typed as dd/mm/yyyy (or d/m/yyyy, with / . or -),
// or given as ISO yyyy-mm-dd, and returns it as ISO; '' when it is not a
// date of the calendar.
export function parseDay(text) {
  const v = String(text || '').trim();
  let m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(v);
  let y, mo, d;
  if (m) [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v))) [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else return '';
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return '';
  return `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;
}

// dateInput is a date field that shows and takes dd/mm/yyyy whatever the
// browser's language (a native date input follows the browser's locale:
// to an English-US browser 12/07/2026 is July), with a button opening the
// browser's own calendar. Its value is ISO yyyy-mm-dd ('' when empty or not
// a date), as the API wants it; field() gives its text box the label.
export function dateInput(iso = '') {
  const text = h('input', { type: 'text', class: 'date-text', inputmode: 'numeric', placeholder: t('date.placeholder'),
    maxlength: 10, autocomplete: 'off', spellcheck: 'false' });
  const native = h('input', { type: 'date', class: 'date-native', tabindex: '-1', 'aria-hidden': 'true' });
  const pick = h('button', { type: 'button', class: 'date-pick', title: t('date.pick'), 'aria-label': t('date.pick') }, '📅');
  const wrap = h('div', { class: 'date-field' }, text, pick, native);
  text.addEventListener('input', (ev) => {
    // The slashes come by themselves as the digits are typed: 12072026
    // becomes 12/07/2026. Deleting is left alone, and so is an ISO date.
    if (ev.inputType?.startsWith('delete') || text.value.includes('-')) return;
    const dg = text.value.replace(/\D/g, '').slice(0, 8);
    text.value = [dg.slice(0, 2), dg.slice(2, 4), dg.slice(4)].filter(Boolean).join('/');
  });
  text.addEventListener('blur', () => {
    const v = parseDay(text.value);
    if (v) text.value = fmtDay(v);
    if (text.value && !v) text.setAttribute('aria-invalid', 'true'); else text.removeAttribute('aria-invalid');
  });
  pick.addEventListener('click', () => {
    native.value = parseDay(text.value) || vnDateString(new Date());
    try { native.showPicker(); } catch { native.focus(); }
  });
  native.addEventListener('change', () => {
    if (!native.value) return;
    text.value = fmtDay(native.value);
    text.removeAttribute('aria-invalid');
    text.dispatchEvent(new Event('change', { bubbles: true }));
  });
  Object.defineProperty(wrap, 'value', { get: () => parseDay(text.value), set: (v) => { text.value = v ? fmtDay(v) : ''; } });
  wrap.dateText = text;
  wrap.value = iso;
  return wrap;
}
