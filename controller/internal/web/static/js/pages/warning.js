// Phát cảnh báo khẩn cấp: one action sends a typed text (read aloud) or a
// recording, after an attention signal, at emergency priority to the chosen
// communes, zones or an area drawn on the cluster map; then the officer
// sees, live, which clusters have started it, and can stop it everywhere.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, s, clear, busy, field, select, section, table, badge, fmtDateTime, errorView } from '../ui.js';
import { map } from './nodes.js';

const pollMS = 1000;

export async function render(box) {
  const [areas, zones, nodes, media] = await Promise.all([api('GET', 'areas'), api('GET', 'zones'), api('GET', 'nodes'), api('GET', 'media')]);
  const live = nodes.filter((n) => !n.revoked);
  let timer = null;

  // What is said.
  const kind = select([{ value: 'text', label: t('warn.kindText') }, { value: 'media', label: t('warn.kindMedia') }], 'text');
  const text = h('textarea', { rows: 4, maxlength: 2000, placeholder: t('warn.textHint') });
  const mediaSel = select([{ value: '', label: t('f.chooseMedia') }, ...media.map((m) => ({ value: m.sha256, label: m.name || m.sha256.slice(0, 12) }))], '');
  const textField = field('warn-text', t('warn.text'), text);
  const mediaField = field('warn-media', t('f.media'), mediaSel);
  const showKind = () => { textField.hidden = kind.value !== 'text'; mediaField.hidden = kind.value !== 'media'; };
  kind.addEventListener('change', showKind);
  const title = h('input', { maxlength: 200, placeholder: t('warn.titleHint') });
  const times = h('input', { type: 'number', min: 1, max: 20, value: 3, inputmode: 'numeric' });
  const gap = h('input', { type: 'number', min: 0, max: 600, value: 3, inputmode: 'numeric' });

  // Where it goes: communes (or the province), zones, or an area drawn on the map.
  const areaBoxes = areas.map((a) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', value: a.id, 'data-test': 'warn-area-' + a.id }), ' ', a.name || a.id));
  const zoneBoxes = zones.map((z) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', value: z.id, 'data-test': 'warn-zone-' + z.id }), ' ', z.name || z.id));
  const checked = (boxes) => boxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);

  let poly = []; // {lat, lon, x, y}
  const shape = s('polygon', { class: 'warn-area', points: '' });
  const drawn = h('p', { class: 'muted', id: 'warn-drawn' }, t('warn.drawHint'));
  const redraw = () => {
    shape.setAttribute('points', poly.map((p) => `${p.x},${p.y}`).join(' '));
    drawn.textContent = poly.length ? t('warn.drawn', poly.length, covered().length) : t('warn.drawHint');
  };
  const svg = map(live, () => {}, { id: 'warn-map', onPoint: (ll, xy) => { poly.push({ ...ll, ...xy }); redraw(); } });
  if (svg.append) svg.append(shape);
  const clearBtn = h('button', { type: 'button', id: 'warn-clear-area' }, t('warn.clearArea'));
  clearBtn.addEventListener('click', () => { poly = []; redraw(); });
  const ring = () => (poly.length >= 3 ? [...poly, poly[0]].map(({ lat, lon }) => ({ lat, lon })) : []);
  // covered: the clusters inside the drawn area, as the controller will count them.
  function covered() {
    const r = ring();
    if (!r.length) return [];
    return live.filter((n) => {
      let inside = false;
      for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
        const a = r[i], b = r[j];
        if ((a.lat > n.lat) !== (b.lat > n.lat) && n.lon < (b.lon - a.lon) * (n.lat - a.lat) / (b.lat - a.lat) + a.lon) inside = !inside;
      }
      return inside;
    });
  }

  const result = h('div', { id: 'warn-result', 'aria-live': 'polite' });
  const sendBtn = h('button', { type: 'button', id: 'warn-send', class: 'danger big' }, '⚠ ' + t('warn.send'));
  sendBtn.addEventListener('click', () => {
    const body = { title: title.value.trim(), times: Number(times.value) || 3, gap_ms: Math.round((Number(gap.value) || 0) * 1000),
      target: { areas: checked(areaBoxes), zones: checked(zoneBoxes), polygon: ring() } };
    if (kind.value === 'text') body.text = text.value.trim(); else body.media = mediaSel.value;
    const msg = (k) => { clear(result).append(h('p', { class: 'form-msg error', role: 'alert' }, t(k))); };
    if (kind.value === 'text' ? !body.text : !body.media) { msg('warn.needContent'); return; }
    if (!body.target.areas.length && !body.target.zones.length && !body.target.polygon.length) { msg('warn.needTarget'); return; }
    if (!confirm(t('warn.confirm'))) return;
    busy(sendBtn, async () => {
      try {
        const w = await api('POST', 'warnings', body);
        follow(w.id);
      } catch (e) { clear(result).append(h('p', { class: 'form-msg error', role: 'alert' }, errorView(e))); }
    });
  });

  // follow shows, live, which clusters have started the warning.
  function follow(id) {
    if (timer) clearTimeout(timer);
    const tick = async () => {
      let p;
      try { p = await api('GET', 'warnings/' + id); } catch (e) {
        clear(result).append(h('p', { class: 'form-msg error' }, errorView(e)));
        timer = setTimeout(tick, pollMS * 3);
        return;
      }
      const stopBtn = h('button', { type: 'button', id: 'warn-cancel', class: 'danger' }, '■ ' + t('warn.cancel'));
      stopBtn.addEventListener('click', () => busy(stopBtn, async () => {
        try { await api('POST', `warnings/${id}/cancel`); tick(); } catch (e) { result.append(h('p', { class: 'form-msg error' }, errorView(e))); }
      }));
      const active = p.status === 'active';
      clear(result).append(h('div', { class: 'card warn-live', id: 'warn-live', 'data-status': p.status, 'data-started': String(p.started) },
        h('h3', {}, p.title, ' ', badge(t('warn.status.' + p.status), 'warn-' + p.status)),
        h('p', { id: 'warn-count', class: 'warn-count' }, t('warn.count', p.started, p.nodes.length, p.pending)),
        table([
          { label: t('nodes.name'), cell: (n) => nodeName[n.node] || n.node },
          { label: t('warn.state'), cell: (n) => badge(t('warn.st.' + n.state), 'warn-st-' + n.state) },
          { label: t('warn.reason'), cell: (n) => n.reason || '' },
        ], p.nodes, { test: 'warn-nodes', rowTest: (n) => `warn-node-${n.node}-${n.state}` }),
        active ? h('div', { class: 'row-actions' }, stopBtn) : null));
      if (active || p.pending > 0) timer = setTimeout(tick, pollMS);
      if (p.status !== shown) { shown = p.status; loadRecent(); }
    };
    let shown = '';
    tick();
  }
  const nodeName = Object.fromEntries(nodes.map((n) => [n.id, n.name || n.id]));

  // The recent warnings, newest first; a title opens its live view.
  const recentBox = h('div', { id: 'warn-recent-box' });
  async function loadRecent() {
    let recent;
    try { recent = await api('GET', 'warnings'); } catch (e) { clear(recentBox).append(h('p', { class: 'form-msg error' }, errorView(e))); return; }
    clear(recentBox).append(table([
      { label: t('warn.when'), cell: (w) => fmtDateTime(w.created_at) },
      { label: t('ctl.title'), cell: (w) => h('button', { type: 'button', class: 'link-btn', onclick: () => follow(w.id) }, w.title) },
      { label: t('warn.source'), cell: (w) => w.source === 'cap' ? 'CAP' : t('warn.manual') },
      { label: t('warn.statusCol'), cell: (w) => badge(t('warn.status.' + w.status), 'warn-' + w.status) },
      { label: t('warn.by'), cell: (w) => w.created_by },
    ], recent, { test: 'warn-recent', rowTest: (w) => 'warn-' + w.id, empty: t('warn.none') }));
  }

  showKind();
  clear(box).append(
    h('p', { class: 'warn-banner' }, t('warn.intro')),
    section(t('warn.what'), h('div', { class: 'form-grid' },
      field('warn-kind', t('warn.kind'), kind), textField, mediaField, field('warn-title', t('ctl.title'), title),
      field('warn-times', t('warn.times'), times), field('warn-gap', t('warn.gap'), gap))),
    section(t('warn.where'),
      areas.length ? h('fieldset', { class: 'checks', id: 'warn-areas' }, h('legend', {}, t('warn.areas')), areaBoxes) : null,
      zones.length ? h('fieldset', { class: 'checks', id: 'warn-zones' }, h('legend', {}, t('warn.zones')), zoneBoxes) : null,
      h('div', { class: 'warn-map' }, h('p', {}, t('warn.draw')), svg, drawn, clearBtn)),
    h('div', { class: 'row-actions' }, sendBtn),
    result,
    section(t('warn.recent'), recentBox));
  await loadRecent();
  return () => { if (timer) clearTimeout(timer); };
}
