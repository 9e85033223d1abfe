// Speaker clusters (cụm loa): a list and a map drawn locally from lat/lon,
// so it works at a commune office with no internet access.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, s, clear, fmtAgo, fmtDateTime, fmtSize, onlineBadge, section, table } from '../ui.js';

export async function render(box) {
  const [nodes, stations, zones] = await Promise.all([api('GET', 'nodes'), api('GET', 'stations'), api('GET', 'zones')]);
  const stationName = Object.fromEntries(stations.map((x) => [x.id, x.name]));
  const zoneName = Object.fromEntries(zones.map((z) => [z.id, z.name || z.id]));
  const detail = h('div', { class: 'map-detail', id: 'map-detail', 'aria-live': 'polite' }, h('p', { class: 'muted' }, t('nodes.clickHint')));
  const live = nodes.filter((n) => !n.revoked);

  function showDetail(n) {
    const st = n.state || {};
    // DOM append writes null as the text "null": only what is there.
    clear(detail).append(...[h('h3', {}, n.name || n.id), noSound(n), h('dl', { class: 'kv' },
      kv(t('nodes.id'), n.id),
      kv(t('nodes.station'), stationName[n.station_id] || n.station_id),
      kv(t('nodes.zones'), (n.zones || []).map((z) => zoneName[z] || z).join(', ') || '—'),
      kv(t('nodes.status'), onlineBadge(n.online)),
      kv(t('nodes.volume'), st.volume ?? '—'),
      kv(t('nodes.playing'), playing(st, n)),
      kv(t('nodes.audio'), st.audio || '—'),
      kv(t('nodes.version'), st.version || '—'),
      kv(t('nodes.position'), `${fmtCoord(n.lat)}, ${fmtCoord(n.lon)}`),
      kv(t('nodes.lastReport'), n.state_updated_at ? `${fmtDateTime(n.state_updated_at)} (${fmtAgo(n.state_updated_at)})` : '—'),
      st.error ? kv(t('nodes.error'), st.error) : null,
      kv(t('nodes.scheduleUntil'), st.schedule_until ? fmtDateTime(st.schedule_until) : '—')),
    scheduleWarning(n), health(n)].filter(Boolean));
  }

  clear(box).append(
    section(t('nodes.map'), h('div', { class: 'map-wrap' }, map(live, showDetail), detail)),
    section(t('nodes.list'), table([
      { label: t('nodes.name'), cell: (n) => h('button', { type: 'button', class: 'link-btn', onclick: () => { showDetail(n); detail.scrollIntoView({ block: 'nearest' }); } }, n.name || n.id) },
      { label: t('nodes.station'), cell: (n) => stationName[n.station_id] || n.station_id },
      { label: t('nodes.zones'), cell: (n) => (n.zones || []).map((z) => zoneName[z] || z).join(', ') || '—' },
      { label: t('nodes.status'), cell: (n) => n.revoked ? t('nodes.revoked') : [onlineBadge(n.online), n.no_sound ? [' ', noSoundBadge(n)] : null, unsyncedBadge(n), scheduleWarning(n)] },
      { label: t('nodes.volume'), cell: (n) => n.state?.volume ?? '—', class: 'num' },
      { label: t('nodes.playing'), cell: (n) => playing(n.state || {}, n) },
      { label: t('nodes.version'), cell: (n) => n.state?.version || '—' },
      { label: t('nodes.lastReport'), cell: (n) => n.state_updated_at ? h('time', { datetime: n.state_updated_at, title: fmtDateTime(n.state_updated_at) }, fmtAgo(n.state_updated_at)) : '—' },
    ], nodes, { test: 'nodes-table', rowTest: (n) => 'node-' + n.id, empty: t('nodes.none') })));
}

// scheduleWarning says when a cluster holds less of its programme than
// was planned: its desired state was cut to fit one message, or refused.
function scheduleWarning(n) {
  const r = n.schedule;
  if (!r || n.revoked) return null;
  if (r.error) return h('p', { class: 'alert-schedule', 'data-test': 'schedule-error-' + n.id }, t('nodes.scheduleRefused', r.until ? fmtDateTime(r.until) : '—', r.error));
  if (r.planned) return h('p', { class: 'alert-schedule', 'data-test': 'schedule-cut-' + n.id }, t('nodes.scheduleCut', fmtDateTime(r.until)));
  return null;
}

// noSound warns of a cluster online with no sound device: it keeps time and
// reports, but nobody hears it, so an officer must go and fix it.
function noSound(n) {
  return n.no_sound ? h('p', { class: 'warn-banner', id: 'node-nosound', role: 'alert' }, t('ns.warn')) : null;
}
function noSoundBadge(n) {
  return h('span', { class: 'badge badge-nosound', 'data-test': 'nosound-' + n.id, title: t('ns.warn') }, t('ns.badge'));
}

// health shows what the box says of itself (PROTOCOL.md §9): its clock
// (an unsynchronised one plays nothing timed), CPU temperature, free disk,
// uptime and the 4G signal where it has a modem.
function health(n) {
  const st = n.state || {};
  if (!n.state) return null;
  return h('div', { 'data-test': 'node-health' }, h('h4', {}, t('health.title')),
    st.clock === 'unsynced' && n.online ? h('p', { class: 'warn-banner', id: 'node-unsynced', role: 'alert' }, t('health.unsyncedWarn')) : null,
    h('dl', { class: 'kv' },
      kv(t('health.clock'), h('span', { 'data-test': 'health-clock' }, clockText(st))),
      kv(t('health.cpuTemp'), typeof st.cpu_temp_c === 'number' ? `${st.cpu_temp_c.toFixed(1)} °C` : '—'),
      kv(t('health.diskFree'), st.disk_free ? fmtSize(st.disk_free) : '—'),
      kv(t('health.uptime'), st.sys_uptime_s ? fmtUptime(st.sys_uptime_s) : '—'),
      kv(t('health.signal'), h('span', { 'data-test': 'health-signal' }, st.modem ? t('health.signalValue', st.modem.signal_pct, [st.modem.tech, st.modem.operator].filter(Boolean).join(', ') || '—') : t('health.noModem')))));
}
function clockText(st) {
  if (st.clock === 'unsynced') return t('health.unsynced');
  if (st.clock !== 'synced') return '—';
  const src = t('health.src.' + st.clock_source);
  return st.clock_error_ms ? t('health.syncedErr', src, st.clock_error_ms) : t('health.synced', src);
}
function unsyncedBadge(n) {
  return n.online && n.state?.clock === 'unsynced' ? [' ', h('span', { class: 'badge badge-nosound', 'data-test': 'unsynced-' + n.id, title: t('health.unsyncedWarn') }, t('health.unsynced'))] : null;
}
function fmtUptime(sec) {
  const d = Math.floor(sec / 86400), hh = Math.floor((sec % 86400) / 3600), mm = Math.floor((sec % 3600) / 60);
  return d ? t('health.uptimeDays', d, hh) : t('health.uptimeHours', hh, mm);
}

function kv(k, v) { return [h('dt', {}, k), h('dd', {}, v)]; }
function playing(st, n) { return st.playing ? (n.playing_title || st.playing.id || st.playing.media?.slice(0, 12)) : t('nodes.idle'); }
function fmtCoord(x) { return typeof x === 'number' ? x.toFixed(4) + '°' : '—'; }

// map draws the clusters on an equirectangular projection of their own
// bounding box (widened a little), with a degree grid and labels. With
// opts.onPoint, a tap on the map (not on a pin) gives its lat/lon and its
// place in the SVG (the warning page draws an area with it).
export function map(nodes, onPick, opts = {}) {
  const W = 800, H = 500, M = 40;
  const placed = nodes.filter((n) => typeof n.lat === 'number' && typeof n.lon === 'number' && (n.lat || n.lon));
  if (!placed.length) return h('p', { class: 'empty', id: 'node-map' }, t('nodes.noPosition'));
  let [lat0, lat1] = [Math.min(...placed.map((n) => n.lat)), Math.max(...placed.map((n) => n.lat))];
  let [lon0, lon1] = [Math.min(...placed.map((n) => n.lon)), Math.max(...placed.map((n) => n.lon))];
  const minSpan = 0.01; // about 1 km: a single cluster still gets a grid around it
  const widen = (a, b) => { const span = Math.max(b - a, minSpan), c = (a + b) / 2; return [c - span * 0.6, c + span * 0.6]; };
  [lat0, lat1] = widen(lat0, lat1);
  [lon0, lon1] = widen(lon0, lon1);
  // keep the map's aspect true to the ground: a degree of longitude is
  // shorter than one of latitude by cos(latitude).
  const k = Math.cos(((lat0 + lat1) / 2) * Math.PI / 180);
  const sx = (W - 2 * M) / ((lon1 - lon0) * k), sy = (H - 2 * M) / (lat1 - lat0);
  const sc = Math.min(sx, sy);
  const cx = (lon0 + lon1) / 2, cy = (lat0 + lat1) / 2;
  const px = (lon) => W / 2 + (lon - cx) * k * sc;
  const py = (lat) => H / 2 - (lat - cy) * sc;
  const lonMin = cx - (W / 2) / (k * sc), lonMax = cx + (W / 2) / (k * sc);
  const latMin = cy - (H / 2) / sc, latMax = cy + (H / 2) / sc;
  const step = niceStep((lonMax - lonMin) / 8);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const grid = [];
  for (let x = Math.ceil(lonMin / step) * step; x <= lonMax; x += step) {
    grid.push(s('line', { x1: px(x), y1: 0, x2: px(x), y2: H, class: 'grid' }),
      s('text', { x: px(x) + 3, y: H - 6, class: 'grid-label' }, x.toFixed(decimals) + '°E'));
  }
  for (let y = Math.ceil(latMin / step) * step; y <= latMax; y += step) {
    grid.push(s('line', { x1: 0, y1: py(y), x2: W, y2: py(y), class: 'grid' }),
      s('text', { x: 4, y: py(y) - 4, class: 'grid-label' }, y.toFixed(decimals) + '°N'));
  }
  const dots = placed.map((n) => {
    const status = (n.online ? t('node.online') : t('node.offline')) + (n.no_sound ? ' · ' + t('ns.badge') : '');
    const g = s('g', { class: 'pin ' + (n.no_sound ? 'pin-warn' : n.online ? 'pin-on' : 'pin-off'), tabindex: '0', role: 'button', 'data-test': 'pin-' + n.id,
      'aria-label': `${n.name || n.id}: ${status}` },
    s('title', {}, `${n.name || n.id} — ${status}`),
    s('circle', { cx: px(n.lon), cy: py(n.lat), r: 9 }),
    s('text', { x: px(n.lon) + 13, y: py(n.lat) + 4, class: 'pin-label' }, n.name || n.id));
    g.addEventListener('click', () => onPick(n));
    g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onPick(n); } });
    return g;
  });
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'map', id: opts.id || 'node-map', role: 'img', 'aria-label': t('nodes.map') },
    s('rect', { x: 0, y: 0, width: W, height: H, class: 'map-bg' }), ...grid,
    s('g', { class: 'legend', transform: `translate(${W - 150},16)` },
      s('rect', { x: -8, y: -12, width: 150, height: 46, rx: 4, class: 'legend-bg' }),
      s('circle', { cx: 2, cy: 0, r: 6, class: 'pin-on' }), s('text', { x: 14, y: 4 }, t('node.online')),
      s('circle', { cx: 2, cy: 20, r: 6, class: 'pin-off' }), s('text', { x: 14, y: 24 }, t('node.offline'))),
    ...dots);
  if (opts.onPoint) {
    svg.addEventListener('click', (ev) => {
      if (ev.target.closest('.pin')) return;
      const pt = svg.createSVGPoint();
      pt.x = ev.clientX; pt.y = ev.clientY;
      const { x, y } = pt.matrixTransform(svg.getScreenCTM().inverse());
      opts.onPoint({ lat: cy - (y - H / 2) / sc, lon: cx + (x - W / 2) / (k * sc) }, { x, y });
    });
  }
  return svg;
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}
