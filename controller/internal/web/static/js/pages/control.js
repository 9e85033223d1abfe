// Control (phát ngay): play a recording now to a zone or a cluster, stop,
// volume and amplifier power.
import { api, can } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, busy, notify, field, select, section, fmtTime, errorView } from '../ui.js';

export async function render(box) {
  const [zones, nodes, media] = await Promise.all([api('GET', 'zones'), api('GET', 'nodes'), api('GET', 'media')]);
  clear(box);
  if (!can.change()) { box.append(h('p', { class: 'note' }, t('ctl.readonly'))); return; }
  const target = h('select', {},
    h('optgroup', { label: t('ctl.zones') }, zones.map((z) => h('option', { value: 'zone:' + z.id }, z.name || z.id))),
    h('optgroup', { label: t('ctl.nodes') }, nodes.filter((n) => !n.revoked).map((n) => h('option', { value: 'node:' + n.id }, `${n.name || n.id}${n.online ? '' : ' (' + t('node.offline') + ')'}`))));
  const tgt = () => { const [k, id] = target.value.split(':'); return { [k]: id }; };
  const nodeByID = Object.fromEntries(nodes.map((n) => [n.id, n]));
  const nodeName = Object.fromEntries(nodes.map((n) => [n.id, n.name || n.id]));
  const mediaSel = select([{ value: '', label: t('f.chooseMedia') }, ...media.map((m) => ({ value: m.sha256, label: m.name || m.sha256.slice(0, 12) }))], '');
  const prio = select(['normal', 'priority', 'emergency'].map((p) => ({ value: p, label: t('prio.' + p) })), 'normal');
  const title = h('input', { maxlength: 200 });
  // The result sits right under the buttons (on a phone the bottom of the
  // page is out of sight) and is scrolled into view: what was sent, then,
  // for "play now", each cluster's answer as it comes.
  const result = h('div', { id: 'ctl-result', class: 'form-msg ctl-result', 'aria-live': 'polite' });
  let watch = null;

  async function send(btn, path, body, okText, follow) {
    result.className = 'form-msg ctl-result';
    clearTimeout(watch);
    await busy(btn, async () => {
      try {
        const target = tgt();
        const r = await api('POST', path, { ...target, ...body });
        result.replaceChildren(h('span', { class: 'ctl-sent' }, okText(r || {})));
        // the command's id names its proof of play (Nhật ký phát)
        if (r?.command) result.dataset.command = r.command; else delete result.dataset.command;
        if (follow && r?.command) followCommand(r.command, target);
      } catch (e) { result.className = 'form-msg error ctl-result'; result.replaceChildren(errorView(e)); }
      result.scrollIntoView({ block: 'nearest' });
    });
  }

  // followCommand shows, per cluster of the target, whether it took the
  // command and started playing (its replies and proof of play), until all
  // have started or refused, or a minute has passed.
  function followCommand(id, target) {
    const members = target.zone ? (zones.find((z) => z.id === target.zone)?.nodes || []) : [target.node];
    const list = h('ul', { id: 'ctl-clusters' });
    result.append(h('div', {}, h('strong', {}, t('ctl.clusters')), list));
    const until = Date.now() + 60000;
    const poll = async () => {
      if (!result.isConnected || result.dataset.command !== id) return;
      let replies = [], plays = [];
      try {
        [{ replies }, plays] = await Promise.all([api('GET', 'commands/' + encodeURIComponent(id)), api('GET', 'plays', undefined, { query: { item: id } })]);
      } catch { /* shown again next time */ }
      let done = 0;
      list.replaceChildren(...members.map((n) => {
        const rep = (replies || []).find((x) => x.node_id === n);
        const evs = (plays || []).filter((e) => e.node_id === n).map((e) => e.type);
        let st = 'waiting', why = '';
        if (evs.includes('started') || evs.includes('finished')) st = evs.includes('finished') ? 'finished' : 'started';
        else if (evs.includes('failed')) st = 'failed';
        else if (rep && !rep.ok) { st = 'refused'; why = rep.reason || ''; } else if (rep) st = 'accepted';
        if (st !== 'waiting' && st !== 'accepted') done++;
        const cls = { started: 'ctl-started', finished: 'ctl-started', accepted: 'ctl-waiting', waiting: 'ctl-waiting' }[st] || 'ctl-refused';
        return h('li', { 'data-test': 'ctl-node-' + n, 'data-state': st, class: cls }, (nodeName[n] || n) + ': ' + t('ctl.st.' + st, why));
      }));
      if (done < members.length && Date.now() < until) watch = setTimeout(poll, 1000);
    };
    poll();
  }

  const playBtn = h('button', { type: 'button', id: 'ctl-play', class: 'primary' }, '▶ ' + t('ctl.play'));
  playBtn.addEventListener('click', () => {
    if (!mediaSel.value) { result.className = 'form-msg error'; result.textContent = t('v.media'); return; }
    if (prio.value === 'emergency' && !confirm(t('ctl.confirmEmergency'))) return;
    send(playBtn, '/api/v1/play', { media: mediaSel.value, priority: prio.value, title: title.value.trim() || mediaSel.selectedOptions[0].textContent },
      (r) => t('ctl.played', r.play_at ? fmtTime(r.play_at) : '…'), true);
  });
  const stopBtn = h('button', { type: 'button', id: 'ctl-stop', class: 'danger' }, '■ ' + t('ctl.stop'));
  stopBtn.addEventListener('click', () => send(stopBtn, '/api/v1/stop', {}, () => t('ctl.stopped')));

  const vol = h('input', { type: 'range', min: 0, max: 100, step: 5, value: 70 });
  const volOut = h('output', { for: 'ctl-volume', id: 'ctl-volume-out' }, '70');
  vol.addEventListener('input', () => { volOut.textContent = vol.value; });
  // The slider starts at the volume the chosen cluster is set to (for a
  // zone, the one most of its clusters have), not at a fixed 70.
  const volumeOf = () => {
    const [k, id] = target.value.split(':');
    const ids = k === 'zone' ? (zones.find((z) => z.id === id)?.nodes || []) : [id];
    const count = new Map();
    for (const n of ids) { const v = nodeByID[n]?.state?.volume; if (Number.isFinite(v)) count.set(v, (count.get(v) || 0) + 1); }
    return [...count.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  };
  const syncVolume = () => { const v = volumeOf(); if (v !== undefined) { vol.value = v; volOut.textContent = String(v); } };
  target.addEventListener('change', syncVolume);
  syncVolume();
  const volBtn = h('button', { type: 'button', id: 'ctl-volume-set' }, t('ctl.setVolume'));
  volBtn.addEventListener('click', () => send(volBtn, '/api/v1/volume', { value: Number(vol.value) }, () => t('ctl.volumeSet', vol.value)));

  const amp = select([{ value: 'auto', label: t('ctl.ampAuto') }, { value: 'on', label: t('ctl.ampOn') }, { value: 'off', label: t('ctl.ampOff') }], 'auto');
  const ampBtn = h('button', { type: 'button', id: 'ctl-amp-set' }, t('ctl.setAmp'));
  ampBtn.addEventListener('click', () => send(ampBtn, '/api/v1/amp', { value: amp.value === 'auto' ? 'auto' : amp.value === 'on' }, () => t('ctl.ampSet', amp.selectedOptions[0].textContent)));

  box.append(
    section(t('ctl.where'), field('ctl-target', t('ctl.target'), target)),
    section(t('ctl.playNow'), h('div', { class: 'form-grid' },
      field('ctl-media', t('f.media'), mediaSel), field('ctl-priority', t('b.priority'), prio), field('ctl-title', t('ctl.title'), title)),
    h('div', { class: 'row-actions' }, playBtn, stopBtn), result),
    section(t('ctl.speaker'), h('div', { class: 'form-grid' },
      h('div', { class: 'field' }, h('label', { for: 'ctl-volume' }, t('ctl.volume'), ' ', volOut), vol, volBtn),
      h('div', { class: 'field' }, field('ctl-amp', t('ctl.amp'), amp), ampBtn))));
  vol.id = 'ctl-volume';
  // volume and amplifier answers go right under their own buttons
  for (const b of [volBtn, ampBtn]) b.addEventListener('click', () => b.after(result), true);
  for (const b of [playBtn, stopBtn]) b.addEventListener('click', () => stopBtn.parentElement.after(result), true);
  return () => clearTimeout(watch);
}
