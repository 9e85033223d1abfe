// Management (Quản lý): enrolment codes for new speaker clusters, and the
// commune's stations, zones and clusters (create, rename, move a cluster
// between zones, revoke); areas for the administrator. Everything is
// limited to the caller's commune by the server; this page only shows it.
import { api, can } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, busy, notify, field, select, section, table, badge, errorView, copyButton, fmtDateTime } from '../ui.js';

// drawn counts the page's drawings: data-drawn on the page tells a change
// is shown (a test waits for it; a person sees it anyway).
let drawn = 0;

export async function render(box) {
  const [areas, stations, zones, nodes, codes] = await Promise.all([
    api('GET', 'areas'), api('GET', 'stations'), api('GET', 'zones'), api('GET', 'nodes'), api('GET', 'enrol-codes')]);
  const again = () => render(box);
  const stationName = Object.fromEntries(stations.map((s) => [s.id, s.name]));
  const zoneName = (id) => zones.find((z) => z.id === id)?.name || id;
  const communes = areas.filter((a) => a.kind === 'commune');
  clear(box).append(...[
    enrolSection(stations, zones, codes, again),
    zonesSection(stations, zones, again),
    nodesSection(nodes, zones, stationName, zoneName, again),
    stationsSection(stations, communes, areas, again),
    can.admin() ? areasSection(areas, again) : null].filter(Boolean));
  box.dataset.drawn = String(++drawn);
}

// act runs a change, says it worked, and redraws the page.
function act(btn, work, done, again) {
  return busy(btn, async () => {
    try {
      await work();
      await again();
      notify(done, 'ok');
    } catch (e) { notify(errorView(e), 'error'); }
  });
}

// renameCell is a name input and its save button.
function renameCell(id, test, value, save, again) {
  const input = h('input', { value: value || '', 'data-test': test + '-name-' + id, 'aria-label': t('mg.name'), maxlength: 200 });
  const btn = h('button', { type: 'button', 'data-test': test + '-rename-' + id,
    onclick: () => act(btn, () => save(input.value.trim()), t('mg.saved'), again) }, t('mg.rename'));
  return h('div', { class: 'inline-edit' }, input, btn);
}

function enrolSection(stations, zones, codes, again) {
  const result = h('div', { id: 'enrol-result', 'aria-live': 'polite' });
  if (!stations.length) return section(t('mg.enrol'), h('p', { class: 'empty' }, t('mg.noStations')));
  const station = select(stations.map((s) => ({ value: s.id, label: s.name })), stations[0].id);
  const id = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false', pattern: '[a-z0-9][a-z0-9._-]*', placeholder: 'an-phu-cho' });
  const name = h('input', { maxlength: 200, placeholder: t('mg.nodeNameHint') });
  const hours = h('input', { type: 'number', min: 1, max: 168, value: 24, inputmode: 'numeric' });
  const zoneBox = h('div', { class: 'checks', id: 'enrol-zones' });
  const fillZones = () => clear(zoneBox).append(...zones.filter((z) => z.station_id === station.value).map((z) =>
    h('label', { class: 'inline' }, h('input', { type: 'checkbox', value: z.id, 'data-test': 'enrol-zone-' + z.id }), z.name || z.id)));
  station.addEventListener('change', fillZones);
  fillZones();
  const msg = h('div', { class: 'form-msg', 'aria-live': 'polite' });
  const create = h('button', { type: 'submit', id: 'enrol-create', class: 'primary' }, t('mg.makeCode'));
  const form = h('form', { id: 'enrol-form', novalidate: true },
    h('p', { class: 'muted' }, t('mg.enrolIntro')),
    h('div', { class: 'form-grid' }, field('enrol-station', t('mg.station'), station), field('enrol-id', t('mg.nodeId'), id, t('mg.idHint')),
      field('enrol-name', t('mg.nodeName'), name), field('enrol-hours', t('mg.hours'), hours)),
    h('fieldset', { class: 'plain' }, h('legend', {}, t('mg.zones')), zoneBox), h('div', { class: 'row-actions' }, create), msg);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    msg.className = 'form-msg';
    msg.textContent = '';
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(id.value.trim())) { msg.className = 'form-msg error'; msg.textContent = t('mg.badId'); return; }
    busy(create, async () => {
      try {
        const r = await api('POST', 'enrol-codes', { id: id.value.trim(), name: name.value.trim(), station_id: station.value,
          zones: [...zoneBox.querySelectorAll('input:checked')].map((c) => c.value), hours: Number(hours.value) || 24 });
        showCode(result, r);
        form.reset();
        hours.value = 24;
        fillZones();
        refreshCodes();
      } catch (e) { msg.className = 'form-msg error'; msg.append(errorView(e)); }
    });
  });
  const listBox = h('div', { id: 'enrol-codes' });
  function drawCodes(list) {
    clear(listBox).append(table([
      { label: t('mg.nodeId'), cell: (c) => c.node.name ? `${c.node.name} (${c.node.id})` : c.node.id },
      { label: t('mg.station'), cell: (c) => stations.find((s) => s.id === c.node.station_id)?.name || c.node.station_id },
      { label: t('mg.status'), cell: (c) => badge(t('mg.code.' + c.status), c.status === 'pending' ? 'on' : 'off') },
      { label: t('mg.expires'), cell: (c) => c.status === 'used' ? t('mg.usedAt', fmtDateTime(c.used_at)) : fmtDateTime(c.expires_at) },
      { label: t('mg.madeBy'), cell: (c) => c.created_by },
      { label: t('common.actions'), cell: (c) => c.status !== 'pending' ? '' : h('button', { type: 'button', 'data-test': 'code-cancel-' + c.node.id,
        onclick: (ev) => act(ev.currentTarget, () => api('DELETE', 'enrol-codes/' + encodeURIComponent(c.id)), t('mg.cancelled'), refreshCodes) }, t('mg.cancelCode')) },
    ], list, { test: 'codes-table', rowTest: (c) => 'code-' + c.node.id, empty: t('mg.noCodes') }));
  }
  async function refreshCodes() { drawCodes(await api('GET', 'enrol-codes')); }
  drawCodes(codes);
  return section(t('mg.enrol'), form, result, h('h3', {}, t('mg.codes')), listBox);
}

// showCode shows a new code once: as text to type, as a QR code of the
// whole command, and the command to copy.
function showCode(box, r) {
  const code = h('code', { id: 'enrol-code', class: 'secret enrol-code' }, r.code);
  const cmd = h('code', { id: 'enrol-command', class: 'secret' }, r.command);
  clear(box).append(h('div', { class: 'once-box enrol-once', 'data-test': 'enrol-done-' + r.node.id },
    h('p', {}, t('mg.codeFor', r.node.name || r.node.id, fmtDateTime(r.expires_at))),
    h('p', { class: 'secret-row' }, code, ' ', copyButton(() => r.code, code, { id: 'enrol-copy-code' })),
    h('img', { id: 'enrol-qr', class: 'qr', src: r.qr_png, alt: t('mg.qrAlt'), width: 240, height: 240 }),
    h('p', {}, t('mg.onTheBox')),
    h('p', { class: 'secret-row' }, cmd, ' ', copyButton(() => r.command, cmd, { id: 'enrol-copy-command' })),
    r.insecure ? h('p', { class: 'warn', id: 'enrol-insecure' }, t('mg.insecure')) : null,
    h('p', { class: 'muted' }, t('mg.once'))));
  box.scrollIntoView({ block: 'nearest' });
}

function zonesSection(stations, zones, again) {
  const station = select(stations.map((s) => ({ value: s.id, label: s.name })), stations[0]?.id);
  const id = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false', placeholder: 'thon-2' });
  const name = h('input', { maxlength: 200, placeholder: t('mg.zoneNameHint') });
  const create = h('button', { type: 'submit', id: 'zone-create' }, t('mg.addZone'));
  const form = h('form', { id: 'zone-form', novalidate: true }, h('div', { class: 'form-grid' },
    field('zone-station', t('mg.station'), station), field('zone-id', t('mg.zoneId'), id, t('mg.idHint')), field('zone-name', t('mg.zoneName'), name)),
  h('div', { class: 'row-actions' }, create));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(create, () => api('POST', 'zones', { id: id.value.trim(), station_id: station.value, name: name.value.trim() }), t('mg.zoneAdded'), again);
  });
  const list = table([
    { label: t('mg.zoneName'), cell: (z) => renameCell(z.id, 'zone', z.name, (v) => api('PATCH', 'zones/' + encodeURIComponent(z.id), { name: v }), again) },
    { label: t('mg.zoneId'), cell: (z) => z.id },
    { label: t('mg.station'), cell: (z) => stations.find((s) => s.id === z.station_id)?.name || z.station_id },
    { label: t('mg.members'), cell: (z) => String(z.nodes.length), class: 'num' },
  ], zones, { test: 'zones-table', rowTest: (z) => 'zone-' + z.id, empty: t('mg.noZones') });
  return section(t('mg.zonesTitle'), stations.length ? form : null, list);
}

function nodesSection(nodes, zones, stationName, zoneName, again) {
  const row = (n) => {
    if (n.revoked) return badge(t('nodes.revoked'), 'off');
    const checks = zones.filter((z) => z.station_id === n.station_id).map((z) => h('label', { class: 'inline' },
      h('input', { type: 'checkbox', value: z.id, checked: n.zones.includes(z.id), 'data-test': `node-zone-${n.id}-${z.id}` }), zoneName(z.id)));
    const box = h('div', { class: 'checks' }, checks);
    const move = h('button', { type: 'button', 'data-test': 'node-move-' + n.id, onclick: () => act(move,
      () => api('PATCH', 'nodes/' + encodeURIComponent(n.id), { zones: [...box.querySelectorAll('input:checked')].map((c) => c.value) }), t('mg.moved'), again) }, t('mg.saveZones'));
    return h('div', {}, box, checks.length ? move : h('span', { class: 'muted' }, t('mg.noZones')));
  };
  const revoke = (n) => n.revoked ? '' : h('button', { type: 'button', class: 'danger', 'data-test': 'node-revoke-' + n.id, onclick: (ev) => {
    if (!confirm(t('mg.confirmRevoke', n.name || n.id))) return;
    act(ev.currentTarget, () => api('POST', `nodes/${encodeURIComponent(n.id)}/revoke`, {}), t('mg.revoked'), again);
  } }, t('mg.revoke'));
  return section(t('mg.nodesTitle'), table([
    { label: t('mg.nodeName'), cell: (n) => n.revoked ? (n.name || n.id) : renameCell(n.id, 'node', n.name, (v) => api('PATCH', 'nodes/' + encodeURIComponent(n.id), { name: v }), again) },
    { label: t('mg.nodeId'), cell: (n) => n.id },
    { label: t('mg.station'), cell: (n) => stationName[n.station_id] || n.station_id },
    { label: t('mg.zones'), cell: row },
    { label: t('common.actions'), cell: revoke },
  ], nodes, { test: 'mg-nodes-table', rowTest: (n) => 'mg-node-' + n.id, empty: t('nodes.none') }));
}

function stationsSection(stations, communes, areas, again) {
  const areaName = Object.fromEntries(areas.map((a) => [a.id, a.name]));
  const area = select(communes.map((a) => ({ value: a.id, label: a.name })), communes[0]?.id);
  const id = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false' });
  const name = h('input', { required: true, maxlength: 200 });
  const kind = select(['ip', 'fm', 'wired'].map((k) => ({ value: k, label: t('kind.' + k) })), 'ip');
  const create = h('button', { type: 'submit', id: 'station-create' }, t('mg.addStation'));
  const form = h('form', { id: 'station-form', novalidate: true }, h('div', { class: 'form-grid' },
    field('station-area', t('mg.commune'), area), field('station-id', t('mg.stationId'), id, t('mg.idHint')),
    field('station-name', t('mg.stationName'), name), field('station-kind', t('mg.kind'), kind)), h('div', { class: 'row-actions' }, create));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(create, () => api('POST', 'stations', { id: id.value.trim(), area_id: area.value, name: name.value.trim(), kind: kind.value }), t('mg.stationAdded'), again);
  });
  return section(t('mg.stationsTitle'), communes.length ? form : null, table([
    { label: t('mg.stationName'), cell: (s) => renameCell(s.id, 'station', s.name, (v) => api('PATCH', 'stations/' + encodeURIComponent(s.id), { name: v }), again) },
    { label: t('mg.stationId'), cell: (s) => s.id },
    { label: t('mg.commune'), cell: (s) => areaName[s.area_id] || s.area_id },
    { label: t('mg.kind'), cell: (s) => t('kind.' + s.kind) },
  ], stations, { test: 'stations-table', rowTest: (s) => 'station-' + s.id, empty: t('mg.noStations') }));
}

function areasSection(areas, again) {
  const provinces = areas.filter((a) => a.kind === 'province');
  const kind = select([{ value: 'commune', label: t('mg.areaCommune') }, { value: 'province', label: t('mg.areaProvince') }], 'commune');
  const parent = select(provinces.map((a) => ({ value: a.id, label: a.name })), provinces[0]?.id);
  const parentField = field('area-parent', t('mg.province'), parent);
  kind.addEventListener('change', () => { parentField.hidden = kind.value === 'province'; });
  const id = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false' });
  const name = h('input', { required: true, maxlength: 200 });
  const create = h('button', { type: 'submit', id: 'area-create' }, t('mg.addArea'));
  const form = h('form', { id: 'area-form', novalidate: true }, h('div', { class: 'form-grid' },
    field('area-kind', t('mg.kind'), kind), parentField, field('area-id', t('mg.areaId'), id, t('mg.idHint')), field('area-name', t('mg.areaName'), name)),
  h('div', { class: 'row-actions' }, create));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { id: id.value.trim(), kind: kind.value, name: name.value.trim() };
    if (kind.value === 'commune') body.parent_id = parent.value;
    act(create, () => api('POST', 'areas', body), t('mg.areaAdded'), again);
  });
  return section(t('mg.areasTitle'), form, table([
    { label: t('mg.areaName'), cell: (a) => renameCell(a.id, 'area', a.name, (v) => api('PATCH', 'areas/' + encodeURIComponent(a.id), { name: v }), again) },
    { label: t('mg.areaId'), cell: (a) => a.id },
    { label: t('mg.kind'), cell: (a) => a.kind === 'province' ? t('mg.areaProvince') : t('mg.areaCommune') },
  ], areas, { test: 'areas-table', rowTest: (a) => 'area-' + a.id }));
}
