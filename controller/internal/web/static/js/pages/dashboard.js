// Dashboard: how many speaker clusters are up, what plays now, what airs
// next and what needs attention. Refreshes itself while open.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, fmtDateTime, fmtTime, fmtAgo, priorityBadge, statusBadge, section } from '../ui.js';

export async function render(box) {
  async function load() {
    const d = await api('GET', 'dashboard');
    clear(box).append(
      d.no_sound ? h('p', { class: 'warn-banner', id: 'dash-nosound', role: 'alert' }, t('ns.banner', d.no_sound)) : null,
      h('div', { class: 'stats' },
        stat('dash-nodes', t('dash.nodes'), d.nodes, ''),
        stat('dash-online', t('dash.online'), d.online, 'on'),
        stat('dash-offline', t('dash.offline'), d.offline, d.offline ? 'off' : '')),
      h('div', { class: 'grid2' },
        section(t('dash.playing'), list(d.playing, 'dash-playing', t('dash.nothingPlaying'), (p) => [
          h('strong', {}, p.title || p.item || p.media?.slice(0, 12)), ' ', priorityBadge(p.priority),
          h('div', { class: 'muted' }, `${p.node_name || p.node} · ${t('dash.since')} ${fmtTime(p.since)}`)])),
        section(t('dash.next'), list(d.next, 'dash-next', t('dash.nothingNext'), (n) => [
          h('time', { datetime: n.at, class: 'when' }, fmtDateTime(n.at)), ' ',
          h('strong', {}, n.title || n.item), ' ', priorityBadge(n.priority), ' ', statusBadge(n.status),
          h('div', { class: 'muted' }, n.station_name || n.station)]))),
      section(t('dash.alerts'), list(d.alerts, 'dash-alerts', t('dash.noAlerts'), (a) => [
        h('span', { class: 'alert-kind alert-' + a.kind }, t('alert.' + a.kind)), ' ',
        h('strong', {}, a.node_name || a.node),
        a.since ? h('span', { class: 'muted' }, ' · ' + fmtAgo(a.since)) : null,
        a.kind === 'no_sound' ? h('div', { class: 'warn-text' }, t('ns.warn'))
          : a.kind === 'not_heard' ? h('div', { class: 'warn-text' }, t('heard.notHeardTitle'))
          : a.detail ? h('div', { class: 'muted' }, a.detail) : null])),
      h('p', { class: 'muted small' }, t('dash.updated', fmtTime(new Date()))));
  }
  await load();
  const timer = setInterval(() => load().catch(() => {}), 20000);
  return () => clearInterval(timer);
}

function stat(id, label, n, kind) {
  return h('div', { class: 'stat ' + (kind ? 'stat-' + kind : ''), id },
    h('span', { class: 'stat-n' }, String(n ?? 0)), h('span', { class: 'stat-l' }, label));
}

function list(items, test, empty, row) {
  if (!items?.length) return h('p', { class: 'empty', 'data-test': test }, empty);
  return h('ul', { class: 'plain', 'data-test': test }, items.map((x) => h('li', {}, row(x))));
}
