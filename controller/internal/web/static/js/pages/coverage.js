// Coverage (độ phủ): for provincial staff first, every role sees its own
// area. Today so far: how many stations of each kind, how many speaker
// clusters are up, how many scheduled plays aired; per commune (sortable, so
// the communes in trouble come first) and per station (filtered by commune
// and by a search). Refreshes itself every minute while open.
import { api } from '../api.js';
import { t, lang } from '../i18n.js';
import { h, clear, field, select, section, table, badge, fmtAgo, fmtDate, fmtDateTime, fmtTime, errorView } from '../ui.js';

const REFRESH_MS = 60000;

// The sort orders of the commune table: a key and a direction.
const SORTS = ['aired-asc', 'aired-desc', 'online-asc', 'online-desc', 'name-asc'];

export async function render(box) {
  const state = { data: null, sort: sessionStorage.getItem('radio.coverage.sort') || 'aired-asc', commune: '', q: '' };
  if (!SORTS.includes(state.sort)) state.sort = 'aired-asc';

  const totals = h('div', { id: 'cov-totals' });
  const noSoundBox = h('div', { id: 'cov-nosound-box' });
  const asOf = h('p', { id: 'cov-asof', class: 'muted small', 'aria-live': 'polite' });
  const communesBox = h('div', { id: 'cov-communes' });
  const stationsBox = h('div', { id: 'cov-stations' });
  const shown = h('p', { id: 'cov-shown', class: 'muted small', 'aria-live': 'polite' });

  const sortSel = select(SORTS.map((v) => ({ value: v, label: t('cov.sort.' + v) })), state.sort);
  sortSel.addEventListener('change', () => setSort(sortSel.value));
  const communeSel = h('select', {});
  communeSel.addEventListener('change', () => { state.commune = communeSel.value; renderStations(); });
  const search = h('input', { type: 'search', placeholder: t('cov.searchHint'), autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'search' });
  search.addEventListener('input', () => { state.q = search.value; renderStations(); });
  const stationsSection = section(t('cov.byStation'),
    h('form', { class: 'filters cov-filters', id: 'cov-filter', role: 'search', onsubmit: (ev) => ev.preventDefault() },
      field('cov-commune', t('cov.commune'), communeSel), field('cov-search', t('cov.search'), search)),
    shown, stationsBox);

  function setSort(v) {
    state.sort = v;
    sortSel.value = v;
    try { sessionStorage.setItem('radio.coverage.sort', v); } catch { /* private mode */ }
    renderCommunes();
  }

  function renderTotals() {
    const d = state.data, x = d.totals || {};
    const offline = (x.nodes || 0) - (x.online || 0);
    clear(totals).append(h('div', { class: 'stats cov-stats' },
      stat('cov-total-stations', t('cov.stations'), String(x.stations ?? 0), '',
        t('cov.kinds', x.ip ?? 0, x.fm ?? 0, x.wired ?? 0)),
      stat('cov-total-online', t('cov.online'), `${x.online ?? 0}/${x.nodes ?? 0}`, x.nodes ? (offline ? 'off' : 'on') : '',
        x.nodes ? (offline ? t('cov.offlineN', offline) : t('cov.allOnline')) : t('cov.noClusters')),
      stat('cov-total-aired', t('cov.aired'), `${x.aired ?? 0}/${x.due ?? 0}`, x.due && x.aired === x.due ? 'on' : '',
        x.due ? t('cov.partlyMissed', x.partly ?? 0, x.missed ?? 0) + (x.unheard ? ' · ' + t('cov.unheardN', x.unheard) : '') : t('cov.noneDue'), bar(x)),
      stat('cov-total-missed', t('cov.missed'), String(x.missed ?? 0), x.missed ? 'off' : 'on',
        t('cov.partlyN', x.partly ?? 0)),
      stat('cov-total-heard', t('cov.heard'), `${x.heard ?? 0}/${(x.heard ?? 0) + (x.not_heard ?? 0) + (x.not_measured ?? 0)}`,
        x.not_heard ? 'off' : x.heard ? 'on' : '', t('cov.heardSub', x.not_heard ?? 0, x.not_measured ?? 0))));
    clear(noSoundBox).append(x.no_sound ? h('p', { class: 'warn-banner', id: 'cov-nosound', role: 'alert' }, t('ns.banner', x.no_sound)) : null);
    asOf.textContent = t('cov.asOf', d.day ? fmtDay(d.day) : fmtDate(d.time), fmtTime(d.time || new Date()), REFRESH_MS / 1000);
  }

  function renderCommunes() {
    const rows = [...(state.data.communes || [])].sort(compare(state.sort));
    const [key, dir] = state.sort.split('-');
    const head = (k, label) => {
      const on = key === k;
      const next = on && dir === 'asc' ? k + '-desc' : k + '-asc';
      return h('button', { type: 'button', class: 'sort-btn' + (on ? ' on' : ''), 'data-test': 'cov-sort-' + k, onclick: () => setSort(next) },
        label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, on ? (dir === 'asc' ? ' ▲' : ' ▼') : ' ↕'));
    };
    const sortAttr = (k) => (key === k ? (dir === 'asc' ? 'ascending' : 'descending') : undefined);
    clear(communesBox).append(table([
      { label: t('cov.commune'), head: head('name', t('cov.commune')), sort: sortAttr('name'), class: 'card-title',
        cell: (c) => h('button', { type: 'button', class: 'link-btn', 'data-test': 'cov-pick-' + c.id, title: t('cov.showStations'),
          onclick: () => pickCommune(c.id) }, c.name || c.id) },
      { label: t('cov.stationsCol'), cell: (c) => String(c.stations ?? 0), class: 'num' },
      { label: t('cov.clusters'), head: head('online', t('cov.pctOnline')), sort: sortAttr('online'),
        cell: (c) => c.nodes ? h('span', {}, pctCell(c.online, c.nodes), ' ', h('span', { class: 'muted small' }, t('cov.ofClusters', c.online ?? 0, c.nodes)), noSoundBadge(c))
          : h('span', { class: 'muted' }, t('cov.noClusters')) },
      { label: t('cov.today'), head: head('aired', t('cov.pctAired')), sort: sortAttr('aired'),
        cell: (c) => c.due ? h('div', { class: 'cov-today' }, h('span', {}, pctCell(c.aired, c.due), ' ', h('span', { class: 'muted small' }, t('cov.ofDue', c.aired ?? 0, c.due))), bar(c))
          : h('span', { class: 'muted' }, t('cov.noneDue')) },
      { label: t('cov.missedCol'), cell: (c) => missedCell(c), class: 'num' },
    ], rows, { test: 'cov-communes-table', rowTest: (c) => 'cov-commune-' + c.id, empty: t('cov.noCommunes') }));
  }

  function pickCommune(id) {
    state.commune = id;
    communeSel.value = id;
    renderStations();
    stationsSection.scrollIntoView({ block: 'start' });
  }

  function renderCommuneOptions() {
    const communes = [...(state.data.communes || [])].sort((a, b) => collate(a.name || a.id, b.name || b.id));
    if (state.commune && !communes.some((c) => c.id === state.commune)) state.commune = '';
    clear(communeSel).append(h('option', { value: '' }, t('cov.allCommunes')),
      ...communes.map((c) => h('option', { value: c.id, selected: c.id === state.commune }, c.name || c.id)));
    communeSel.value = state.commune;
  }

  function renderStations() {
    const all = state.data.stations || [];
    const q = fold(state.q.trim());
    const rows = all.filter((s) => (!state.commune || s.area_id === state.commune) &&
      (!q || fold(`${s.name || ''} ${s.id} ${s.area_name || ''}`).includes(q)))
      .sort((a, b) => collate(a.area_name || a.area_id, b.area_name || b.area_id) || collate(a.name || a.id, b.name || b.id));
    shown.textContent = t('cov.shown', rows.length, all.length);
    clear(stationsBox).append(table([
      { label: t('cov.station'), cell: (s) => h('strong', {}, s.name || s.id), class: 'card-title' },
      { label: t('cov.commune'), cell: (s) => s.area_name || s.area_id || '—' },
      { label: t('cov.kind'), cell: (s) => badge(t('kind.' + (s.kind || 'ip')), 'kind-' + (s.kind || 'ip')) },
      { label: t('cov.clusters'), cell: (s) => clusters(s) },
      { label: t('cov.lastReport'), cell: (s) => s.last_report
        ? h('time', { datetime: s.last_report, title: fmtDateTime(s.last_report) }, fmtAgo(s.last_report)) : '—' },
      { label: t('cov.today'), cell: (s) => unmonitored(s) ? h('span', { class: 'muted' }, '—') : today(s) },
      { label: t('cov.missedCol'), cell: (s) => unmonitored(s) ? '—' : missedCell(s), class: 'num' },
    ], rows, { test: 'cov-stations-table', rowTest: (s) => 'cov-station-' + s.id, empty: t('cov.noStations') }));
  }

  async function load() {
    state.data = await api('GET', 'coverage');
    renderTotals();
    renderCommunes();
    renderCommuneOptions();
    renderStations();
    box.dataset.loaded = state.data.time || String(Date.now());
  }

  const problem = h('p', { id: 'cov-refresh-error', class: 'error small', role: 'alert', hidden: true });
  await load();
  clear(box).append(totals, noSoundBox, asOf, problem,
    section(t('cov.byCommune'), h('div', { class: 'toolbar cov-sort' }, h('label', { for: 'cov-sort' }, t('cov.sortBy')), sortSel), communesBox),
    stationsSection);
  sortSel.id = 'cov-sort';
  const timer = setInterval(() => load().then(() => { problem.hidden = true; }).catch((e) => {
    problem.hidden = false;
    problem.replaceChildren(t('cov.refreshFailed', ''), errorView(e));
  }), REFRESH_MS);
  return () => clearInterval(timer);
}

// FM and wired stations have no IP speaker clusters: nothing reports on them.
function unmonitored(s) { return !s.nodes && (s.kind === 'fm' || s.kind === 'wired'); }

function clusters(s) {
  if (unmonitored(s)) return h('span', { class: 'muted', 'data-test': 'cov-unmonitored' }, t('cov.notMonitored'));
  if (!s.nodes) return h('span', { class: 'muted' }, t('cov.noClusters'));
  const off = s.nodes - (s.online || 0);
  return h('span', { class: 'cov-clusters' }, h('strong', {}, `${s.online || 0}/${s.nodes}`), ' ',
    off ? badge(t('cov.offlineN', off), 'off') : badge(t('cov.allOnline'), 'on'), noSoundBadge(s));
}

// noSoundBadge warns of clusters online with no sound device: counted
// online, yet nobody hears them.
function noSoundBadge(x) {
  if (!x.no_sound) return null;
  return [' ', h('span', { class: 'badge badge-nosound', 'data-test': 'cov-nosound', title: t('ns.warn') }, t('ns.covN', x.no_sound))];
}

// today is "aired/due" with a small bar: aired, partly, missed.
function today(x) {
  if (!x.due) return h('span', { class: 'muted' }, t('cov.noneDue'));
  return h('div', { class: 'cov-today' }, h('span', { class: 'cov-today-n' }, `${x.aired || 0}/${x.due}`), bar(x));
}

function bar(x) {
  if (!x.due) return null;
  const seg = (n, kind) => {
    const e = h('span', { class: 'bar-seg bar-' + kind });
    e.style.width = (100 * Math.min(n || 0, x.due) / x.due) + '%'; // CSSOM, which the CSP allows
    return e;
  };
  return h('span', { class: 'bar', role: 'img', 'aria-label': t('cov.bar', x.aired || 0, x.partly || 0, x.missed || 0, x.unheard || 0, x.due) },
    seg(x.aired, 'aired'), seg(x.partly, 'partly'), seg(x.missed, 'missed'), seg(x.unheard, 'unheard'));
}

function missedCell(x) {
  const parts = [];
  if (x.missed) parts.push(h('span', { class: 'badge badge-off cov-missed', 'data-test': 'cov-missed' }, String(x.missed)));
  else parts.push(h('span', { class: 'muted' }, '0'));
  if (x.partly) parts.push(' ', h('span', { class: 'badge badge-st-partly-played', title: t('status.partly played') }, t('cov.partlyShort', x.partly)));
  if (x.unheard) parts.push(' ', h('span', { class: 'badge badge-st-unheard', 'data-test': 'cov-unheard', title: t('reason.noSound') }, t('cov.unheardN', x.unheard)));
  if (x.not_heard) parts.push(' ', h('span', { class: 'badge badge-heard-not-heard', 'data-test': 'cov-notheard', title: t('heard.notHeardTitle') }, t('cov.notHeardN', x.not_heard)));
  return h('span', {}, parts);
}

function pct(n, d) { return d ? (n || 0) / d : null; }

function pctCell(n, d) {
  const p = pct(n, d);
  if (p === null) return h('span', { class: 'muted' }, '—');
  const text = new Intl.NumberFormat(lang() === 'en' ? 'en-GB' : 'vi-VN', { style: 'percent', maximumFractionDigits: 0 }).format(p);
  return h('span', { class: 'pct' + (p < 0.5 ? ' pct-bad' : p < 0.9 ? ' pct-warn' : ' pct-ok') }, text);
}

// compare orders communes; a commune with nothing to measure (no clusters,
// nothing due) goes last either way, so it never hides the ones in trouble.
function compare(sort) {
  const [key, dir] = sort.split('-');
  const sign = dir === 'desc' ? -1 : 1;
  const val = (c) => (key === 'aired' ? pct(c.aired, c.due) : key === 'online' ? pct(c.online, c.nodes) : null);
  return (a, b) => {
    if (key === 'name') return sign * collate(a.name || a.id, b.name || b.id);
    const va = val(a), vb = val(b);
    if (va === null || vb === null) return (va === null) - (vb === null) || collate(a.name || a.id, b.name || b.id);
    return sign * (va - vb) || (b.missed || 0) - (a.missed || 0) || collate(a.name || a.id, b.name || b.id);
  };
}

function collate(a, b) { return String(a).localeCompare(String(b), 'vi'); }

// fold makes a search match with or without diacritics: "an phu" finds "An Phú".
function fold(s) {
  return String(s).normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, 'd').toLowerCase();
}

// "2026-12-01" (a Vietnam date) as the app writes dates.
function fmtDay(day) {
  const [y, m, d] = String(day).split('-');
  return d && m && y ? `${d}/${m}/${y}` : day;
}

function stat(id, label, n, kind, sub, extra) {
  return h('div', { class: 'stat ' + (kind ? 'stat-' + kind : ''), id },
    h('span', { class: 'stat-n' }, n), h('span', { class: 'stat-l' }, label),
    sub ? h('span', { class: 'stat-sub small muted' }, sub) : null, extra || null);
}
