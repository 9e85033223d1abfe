// Live (phát trực tiếp): an officer speaks into the browser's microphone
// and the chosen clusters play it. The station is taken first (POST
// /api/v1/live: one speaker per station, refusals as ordinary errors),
// then MediaRecorder's 100 ms Opus chunks go up a WebSocket. The page
// shows a level meter, the elapsed time and the clusters whose proof of
// play says they are playing this session; leaving the page stops it.
import { api, can } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, busy, field, select, section, fmtTime, errorView } from '../ui.js';

// The formats the controller's ffmpeg takes from MediaRecorder, best first
// (Safari before 18.4 records only mp4).
const mimeTypes = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/mp4'];

export async function render(box) {
  const [stations, zones, nodes, liveNow, slots] = await Promise.all([api('GET', 'stations'), api('GET', 'zones'), api('GET', 'nodes'), api('GET', 'live'),
    api('GET', 'live/slots').catch(() => [])]);
  clear(box);
  if (!can.change()) { box.append(h('p', { class: 'note' }, t('live.readonly'))); return; }
  const nodeName = Object.fromEntries(nodes.map((n) => [n.id, n.name || n.id]));
  const target = h('select', {},
    h('optgroup', { label: t('live.stations') }, stations.map((s) => h('option', { value: 'station:' + s.id }, t('live.wholeStation', s.name || s.id)))),
    h('optgroup', { label: t('ctl.zones') }, zones.map((z) => h('option', { value: 'zone:' + z.id }, z.name || z.id))),
    h('optgroup', { label: t('ctl.nodes') }, nodes.filter((n) => !n.revoked).map((n) => h('option', { value: 'node:' + n.id }, `${n.name || n.id}${n.online ? '' : ' (' + t('node.offline') + ')'}`))));
  const prio = select(['priority', 'emergency'].map((p) => ({ value: p, label: t('prio.' + p) })), 'priority');
  const title = h('input', { maxlength: 200, placeholder: t('live.titleHint') });
  // Voice processing (echo and noise suppression, automatic gain) suits a
  // voice; it flattens a siren, a chime or music played into the
  // microphone, which go through untouched when it is off.
  const voice = h('input', { type: 'checkbox', id: 'live-voice', checked: true });
  // The programme's live slots (the daily announcement): taking one speaks
  // to its target, and proof of play counts the slot as aired.
  const slot = h('select', { id: 'live-slot' }, h('option', { value: '' }, t('live.noSlot')),
    ...slots.map((s) => h('option', { value: s.occurrence }, `${fmtTime(s.at)}${s.end ? '–' + fmtTime(s.end) : ''} · ${s.title}`)));
  const fixed = () => { target.disabled = prio.disabled = title.disabled = !!slot.value; };
  slot.addEventListener('change', fixed);
  const startBtn = h('button', { type: 'button', id: 'live-start', class: 'primary' }, '● ' + t('live.start'));
  const stopBtn = h('button', { type: 'button', id: 'live-stop', class: 'danger', disabled: true }, '■ ' + t('live.stop'));
  const status = h('p', { id: 'live-status', class: 'form-msg', 'aria-live': 'polite', 'data-state': 'idle' }, t('live.idle'));
  const busyNote = h('p', { id: 'live-busy', class: 'note', hidden: true });
  const meter = h('meter', { id: 'live-meter', min: 0, max: 1, low: 0.6, high: 0.9, optimum: 0.3, value: 0 });
  const elapsed = h('output', { id: 'live-elapsed' }, '00:00');
  const playing = h('ul', { id: 'live-playing', class: 'plain' });
  const playingNote = h('p', { id: 'live-playing-none', class: 'muted' }, t('live.noneYet'));
  const result = h('p', { id: 'live-result', class: 'form-msg' });

  function showBusy(list) {
    const other = list.find((c) => c.session !== run?.session);
    busyNote.hidden = !other;
    if (other) busyNote.textContent = t('live.busy', other.name || other.user) + ' · ' + t('live.since', fmtTime(other.since));
  }
  showBusy(liveNow);

  let run = null; // the session on air: {session, ws, rec, stream, ctx, timers}
  function setState(state, text) { status.dataset.state = state; status.className = 'form-msg' + (state === 'error' ? ' error' : ''); status.textContent = text; }

  function finish() {
    if (!run) return;
    const r = run;
    run = null;
    for (const id of r.timers) clearInterval(id);
    cancelAnimationFrame(r.raf);
    try { if (r.rec && r.rec.state !== 'inactive') r.rec.stop(); } catch { /* already stopped */ }
    r.stream?.getTracks().forEach((tr) => tr.stop());
    r.ctx?.close().catch(() => {});
    meter.value = 0;
    startBtn.disabled = false;
    stopBtn.disabled = true;
    target.disabled = prio.disabled = title.disabled = voice.disabled = slot.disabled = false;
    fixed();
    return r;
  }

  async function pollPlaying(r) {
    try {
      const evs = await api('GET', 'plays', undefined, { query: { item: r.session } });
      const on = new Map();
      for (const e of [...evs].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))) {
        if (e.type === 'started' || e.type === 'resumed') on.set(e.node_id, true);
        else if (['finished', 'interrupted', 'failed'].includes(e.type)) on.delete(e.node_id);
      }
      clear(playing).append(...[...on.keys()].map((id) => h('li', { 'data-node': id }, nodeName[id] || id)));
      playingNote.hidden = on.size > 0;
    } catch { /* the next poll may do better */ }
  }

  startBtn.addEventListener('click', () => busy(startBtn, async () => {
    result.textContent = '';
    if (prio.value === 'emergency' && !confirm(t('live.confirmEmergency'))) return;
    if (!navigator.mediaDevices?.getUserMedia || !window.MediaRecorder) { setState('error', t('live.needHttps')); return; }
    const [kind, id] = target.value.split(':');
    let tk;
    try {
      tk = await api('POST', 'live', slot.value ? { slot: slot.value } : { [kind]: id, priority: prio.value, title: title.value.trim() });
    } catch (e) {
      if (e.code === 'live_busy') { showBusy(await api('GET', 'live').catch(() => [])); setState('error', busyNote.textContent); return; }
      setState('error', ''); status.replaceChildren(errorView(e)); return;
    }
    let stream;
    try {
      const v = voice.checked;
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: v, noiseSuppression: v, autoGainControl: v, channelCount: 1 } });
    } catch (e) {
      setState('error', t('live.noMic', e.name || String(e)));
      return; // the station frees itself when no browser connects
    }
    const r = { session: tk.session, stream, timers: [], started: 0 };
    run = r;
    status.dataset.session = tk.session;
    startBtn.disabled = true;
    target.disabled = prio.disabled = title.disabled = voice.disabled = slot.disabled = true;
    setState('connecting', t('live.connecting'));
    // level meter
    r.ctx = new AudioContext();
    const an = r.ctx.createAnalyser();
    an.fftSize = 1024;
    r.ctx.createMediaStreamSource(stream).connect(an);
    const buf = new Float32Array(an.fftSize);
    const draw = () => {
      an.getFloatTimeDomainData(buf);
      let peak = 0;
      for (const v of buf) peak = Math.max(peak, Math.abs(v));
      // dBFS, -60 to 0, as a mixing desk shows it: speech sits in the middle
      meter.value = Math.max(0, Math.min(1, (20 * Math.log10(peak || 1e-6) + 60) / 60));
      meter.dataset.level = peak.toFixed(3);
      r.raf = requestAnimationFrame(draw);
    };
    draw();
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + tk.ws);
    r.ws = ws;
    ws.onopen = () => {
      const mimeType = mimeTypes.find((m) => MediaRecorder.isTypeSupported(m)) || '';
      r.rec = new MediaRecorder(stream, { mimeType, audioBitsPerSecond: 32000 });
      r.rec.ondataavailable = (e) => { if (e.data.size && ws.readyState === WebSocket.OPEN) ws.send(e.data); };
      r.rec.onstop = () => { if (ws.readyState === WebSocket.OPEN) ws.send('stop'); };
      r.rec.start(100);
      stopBtn.disabled = false;
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (m.type === 'started') {
        r.started = Date.now();
        setState('live', t('live.onAir', fmtTime(m.start_at)));
        r.timers.push(setInterval(() => {
          const s = Math.floor((Date.now() - r.started) / 1000);
          elapsed.textContent = String(Math.floor(s / 60)).padStart(2, '0') + ':' + String(s % 60).padStart(2, '0');
        }, 250));
        pollPlaying(r);
        r.timers.push(setInterval(() => pollPlaying(r), 2000));
      } else if (m.type === 'ended') {
        r.ended = true;
        if (run === r) finish();
        pollPlaying(r);
        if (m.error) setState('error', t('live.failed', m.error));
        else setState('ended', t('live.ended', elapsed.textContent));
        if (m.media) {
          result.dataset.media = m.media;
          result.replaceChildren(t('live.recorded') + ' ', h('a', { href: '#/media', id: 'live-recording' }, t('nav.media')));
        }
      }
    };
    ws.onclose = () => {
      if (!r.ended) { if (run === r) finish(); setState('error', t('live.lost')); }
    };
  }));

  stopBtn.addEventListener('click', () => {
    if (!run) return;
    stopBtn.disabled = true;
    setState('stopping', t('live.stopping'));
    try { run.rec.stop(); } catch { run.ws.send('stop'); } // onstop sends "stop" after the last chunk
  });

  box.append(
    busyNote,
    section(t('ctl.where'), h('div', { class: 'form-grid' },
      ...(slots.length ? [field('live-slot', t('live.slot'), slot)] : []),
      field('live-target', t('ctl.target'), target), field('live-priority', t('b.priority'), prio), field('live-title', t('ctl.title'), title),
      h('div', { class: 'field' }, h('label', { for: 'live-voice' }, voice, ' ', t('live.voice')))),
    h('div', { class: 'row-actions' }, startBtn, stopBtn), status),
    section(t('live.onAirTitle'), h('div', { class: 'form-grid' },
      h('div', { class: 'field' }, h('label', { for: 'live-meter' }, t('live.level')), meter),
      h('div', { class: 'field' }, h('label', { for: 'live-elapsed' }, t('live.elapsed')), elapsed)),
    h('h3', {}, t('live.playing')), playingNote, playing),
    result);
  // Leaving the page ends the session: the socket closes with it.
  return () => { const r = finish(); r?.ws?.close(); };
}
