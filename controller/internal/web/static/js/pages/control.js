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
  const mediaSel = select([{ value: '', label: t('f.chooseMedia') }, ...media.map((m) => ({ value: m.sha256, label: m.name || m.sha256.slice(0, 12) }))], '');
  const prio = select(['normal', 'priority', 'emergency'].map((p) => ({ value: p, label: t('prio.' + p) })), 'normal');
  const title = h('input', { maxlength: 200 });
  const result = h('p', { id: 'ctl-result', class: 'form-msg', 'aria-live': 'polite' });

  async function send(btn, path, body, okText) {
    result.className = 'form-msg';
    await busy(btn, async () => {
      try {
        const r = await api('POST', path, { ...tgt(), ...body });
        result.textContent = okText(r || {});
        // the command's id names its proof of play (Nhật ký phát)
        if (r?.command) result.dataset.command = r.command; else delete result.dataset.command;
      } catch (e) { result.className = 'form-msg error'; result.replaceChildren(errorView(e)); }
    });
  }

  const playBtn = h('button', { type: 'button', id: 'ctl-play', class: 'primary' }, '▶ ' + t('ctl.play'));
  playBtn.addEventListener('click', () => {
    if (!mediaSel.value) { result.className = 'form-msg error'; result.textContent = t('v.media'); return; }
    if (prio.value === 'emergency' && !confirm(t('ctl.confirmEmergency'))) return;
    send(playBtn, '/api/v1/play', { media: mediaSel.value, priority: prio.value, title: title.value.trim() || mediaSel.selectedOptions[0].textContent },
      (r) => t('ctl.played', r.play_at ? fmtTime(r.play_at) : '…'));
  });
  const stopBtn = h('button', { type: 'button', id: 'ctl-stop', class: 'danger' }, '■ ' + t('ctl.stop'));
  stopBtn.addEventListener('click', () => send(stopBtn, '/api/v1/stop', {}, () => t('ctl.stopped')));

  const vol = h('input', { type: 'range', min: 0, max: 100, step: 5, value: 70 });
  const volOut = h('output', { for: 'ctl-volume', id: 'ctl-volume-out' }, '70');
  vol.addEventListener('input', () => { volOut.textContent = vol.value; });
  const volBtn = h('button', { type: 'button', id: 'ctl-volume-set' }, t('ctl.setVolume'));
  volBtn.addEventListener('click', () => send(volBtn, '/api/v1/volume', { value: Number(vol.value) }, () => t('ctl.volumeSet', vol.value)));

  const amp = select([{ value: 'auto', label: t('ctl.ampAuto') }, { value: 'on', label: t('ctl.ampOn') }, { value: 'off', label: t('ctl.ampOff') }], 'auto');
  const ampBtn = h('button', { type: 'button', id: 'ctl-amp-set' }, t('ctl.setAmp'));
  ampBtn.addEventListener('click', () => send(ampBtn, '/api/v1/amp', { value: amp.value === 'auto' ? 'auto' : amp.value === 'on' }, () => t('ctl.ampSet', amp.selectedOptions[0].textContent)));

  box.append(
    section(t('ctl.where'), field('ctl-target', t('ctl.target'), target)),
    section(t('ctl.playNow'), h('div', { class: 'form-grid' },
      field('ctl-media', t('f.media'), mediaSel), field('ctl-priority', t('b.priority'), prio), field('ctl-title', t('ctl.title'), title)),
    h('div', { class: 'row-actions' }, playBtn, stopBtn)),
    section(t('ctl.speaker'), h('div', { class: 'form-grid' },
      h('div', { class: 'field' }, h('label', { for: 'ctl-volume' }, t('ctl.volume'), ' ', volOut), vol, volBtn),
      h('div', { class: 'field' }, field('ctl-amp', t('ctl.amp'), amp), ampBtn))),
    result);
  vol.id = 'ctl-volume';
}
