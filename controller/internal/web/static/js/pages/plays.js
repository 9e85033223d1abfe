// Proof of play (nhật ký phát): what the clusters report they played, with
// a CSV export of the same filter, and the scheduled-vs-aired report.
import { api } from '../api.js';
import { occurrence } from '../names.js';
import { t } from '../i18n.js';
import { h, clear, busy, field, select, section, table, fmtDateTime, fmtDuration, priorityBadge, statusBadge, badge,
  vnDateString, fromVN, dateInput, errorView } from '../ui.js';

const TYPES = ['started', 'resumed', 'finished', 'interrupted', 'failed'];

export async function render(box) {
  const [nodes, stations] = await Promise.all([api('GET', 'nodes'), api('GET', 'stations')]);
  const nodeName = Object.fromEntries(nodes.map((n) => [n.id, n.name || n.id]));
  const today = vnDateString(new Date());
  const weekAgo = vnDateString(new Date(Date.now() - 6 * 86400000));
  const node = select([{ value: '', label: t('plays.allNodes') }, ...nodes.map((n) => ({ value: n.id, label: n.name || n.id }))], '');
  const station = select([{ value: '', label: t('plays.allStations') }, ...stations.map((s) => ({ value: s.id, label: s.name || s.id }))], '');
  const type = select([{ value: '', label: t('plays.allTypes') }, ...TYPES.map((x) => ({ value: x, label: t('ev.' + x) }))], '');
  const since = dateInput(weekAgo);
  const until = dateInput(today);
  const csv = h('a', { id: 'plays-csv', class: 'button', download: 'nhat-ky-phat.csv' }, '⬇ ' + t('plays.csv'));
  const apply = h('button', { type: 'submit', id: 'plays-apply', class: 'primary' }, t('plays.apply'));
  const out = h('div', { id: 'plays-list' });
  const report = h('div', { id: 'report-list' });
  const reportCSV = h('a', { id: 'report-csv', class: 'button', download: 'doi-chieu-lich-phat.csv' }, '⬇ ' + t('plays.reportCsv'));

  function query() {
    return {
      node: node.value, station: station.value, type: type.value,
      since: since.value ? fromVN(since.value).toISOString() : '',
      until: until.value ? new Date(fromVN(until.value).getTime() + 86400000).toISOString() : '',
    };
  }
  async function load() {
    const q = query();
    const qs = new URLSearchParams(Object.entries(q).filter(([, v]) => v));
    csv.href = '/api/v1/plays.csv' + (qs.toString() ? '?' + qs : '');
    const rq = new URLSearchParams(Object.entries({ station: q.station, from: q.since, to: q.until }).filter(([, v]) => v));
    reportCSV.href = '/api/v1/reports/occurrences.csv' + (rq.toString() ? '?' + rq : '');
    const [evs, rows] = await Promise.all([
      api('GET', 'plays', undefined, { query: { ...q, limit: 500 } }),
      api('GET', 'reports/occurrences', undefined, { query: { station: q.station, from: q.since, to: q.until } })]);
    clear(out).append(table([
      { label: t('plays.at'), cell: (e) => fmtDateTime(e.at) },
      { label: t('plays.node'), cell: (e) => e.node_name || nodeName[e.node_id] || e.node_id },
      { label: t('plays.type'), cell: (e) => [badge(t('ev.' + e.type), 'ev-' + e.type), e.silent ? [' ', unheard()] : null,
        e.type === 'finished' || e.type === 'interrupted' ? [' ', heardBadge(e.heard === undefined ? 'not measured' : e.heard ? 'heard' : 'not heard', e)] : null] },
      { label: t('plays.item'), cell: (e) => e.title
        ? [h('span', {}, e.title), h('div', { class: 'muted small', title: e.item_id }, e.source === 'command' ? t('plays.playNow') : (occurrence(e.item_id) || e.item_id))]
        : (e.item_id || '—') },
      { label: t('b.priority'), cell: (e) => priorityBadge(e.priority) },
      { label: t('plays.played'), cell: (e) => e.played_ms ? fmtDuration(e.played_ms) : '—', class: 'num' },
      { label: t('plays.reason'), cell: (e) => reasonText(e.reason) },
    ], evs || [], { test: 'plays-table', rowTest: (e) => `play-${e.type}-${e.item_id}`, empty: t('plays.none') }));
    clear(report).append(table([
      { label: t('plays.at'), cell: (r) => fmtDateTime(r.at) },
      { label: t('b.title'), cell: (r) => r.title || r.item },
      { label: t('plays.node'), cell: (r) => nodeName[r.node] || r.node },
      { label: t('b.priority'), cell: (r) => priorityBadge(r.priority) },
      { label: t('b.status'), cell: (r) => statusBadge(r.status) },
      { label: t('heard.col'), cell: (r) => r.heard ? heardBadge(r.heard, r) : '—' },
      { label: t('plays.played'), cell: (r) => r.played_ms ? fmtDuration(r.played_ms) : '—', class: 'num' },
      { label: t('plays.reason'), cell: (r) => reasonText(r.reason) },
    ], rows || [], { test: 'report-table', rowTest: (r) => `report-${r.occurrence}-${r.node}`, empty: t('plays.noReport') }));
  }
  const form = h('form', { class: 'filters', id: 'plays-filter' },
    field('plays-node', t('plays.node'), node), field('plays-station', t('plays.station'), station),
    field('plays-type', t('plays.type'), type), field('plays-since', t('plays.since'), since), field('plays-until', t('plays.until'), until),
    h('div', { class: 'row-actions' }, apply, csv));
  const failed = h('p', { id: 'plays-error', class: 'form-msg error', role: 'alert' });
  form.append(failed);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    failed.textContent = '';
    busy(apply, () => load().catch((e) => failed.replaceChildren(errorView(e))));
  });
  clear(box).append(section(t('plays.filter'), form), section(t('plays.events'), out), section(t('plays.report'), h('p', { class: 'muted small' }, t('plays.reportNote')), h('div', { class: 'row-actions' }, reportCSV), report));
  await load();
}

// reasonText says in words the reasons a node gives (PROTOCOL.md), keeping
// the node's own wording as a tooltip and for any reason not known here.
const REASONS = [[/^stopped$/, 'stopped'], [/^preempted/, 'preempted'], [/^node restarted$/, 'restarted'],
  [/^content(_unavailable)?\b/, 'content'], [/^hash_mismatch\b/, 'hash'], [/^missed: the node was not running/, 'missed'],
  [/^no report from the node$/, 'noReport'], [/^no sound device\b/, 'noSound'], [/^disk_full\b/, 'disk'], [/^audio_error\b/, 'audio'], [/^clock\b/, 'clock']];
// unheard marks a record played into a cluster's silent sink: it played,
// but nobody heard it.
function unheard() {
  return h('span', { class: 'badge badge-st-unheard', 'data-test': 'unheard', title: t('ev.unheardTitle') }, t('ev.unheard'));
}

// heardBadge says what the cluster's microphone made of a play (PROTOCOL.md
// §7 "heard"): heard, played but not heard, or not measured (no microphone,
// which is never shown as not heard); the numbers are in the tooltip.
function heardBadge(verdict, m) {
  const slug = verdict.replace(' ', '-');
  const title = m.heard_corr !== undefined && m.heard_corr !== null
    ? t('heard.detail', m.heard_corr, m.heard_db ?? '—', m.heard_bg_db ?? '—')
    : verdict === 'not measured' ? t('heard.notMeasuredTitle') : '';
  return h('span', { class: 'badge badge-heard-' + slug, 'data-test': 'heard-' + slug, title: verdict === 'not heard' ? t('heard.notHeardTitle') + ' ' + title : title },
    t('heard.' + verdict));
}

function reasonText(reason) {
  if (!reason) return '';
  const k = REASONS.find(([rx]) => rx.test(reason));
  return k ? h('span', { title: reason }, t('reason.' + k[1])) : reason;
}
