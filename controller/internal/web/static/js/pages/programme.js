// Programme (lịch phát): a station's week on a calendar (past occurrences
// with what became of them: aired, partly, missed), its bulletins, and the
// form that creates or changes one. A new bulletin is a draft until a
// leader approves it; a change to an approved one waits beside it while the
// approved version airs. Every edit names the version it was made on: one
// made on an old version is refused, saying what changed.
import { api, can, session, ApiError } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, busy, notify, field, select, section, table, priorityBadge, statusBadge, fmtDayMonth, fmtTime,
  vnWeekStart, vnDateString, fmtDate, fmtDateTime, errorView, dateInput } from '../ui.js';
import { remember } from '../names.js';
import { WEEKDAYS, describeRecurrence, describeTarget, slug, friendlyErrors, normTime } from '../bulletin.js';

const DAY = 86400000;

export async function render(box) {
  const [schedules, stations, zones, nodes, media] = await Promise.all([
    api('GET', 'schedules'), api('GET', 'stations'), api('GET', 'zones'), api('GET', 'nodes'), api('GET', 'media')]);
  remember('zone', zones); remember('node', nodes); // clash messages name them (names.js)
  // One programme per station; a station without one yet gets a
  // programme named after it when its first bulletin is saved.
  const choices = stations.map((st) => {
    const sc = schedules.find((x) => x.station === st.id);
    return { name: sc ? sc.name : st.id, station: st.id, label: st.name || st.id, drafts: sc?.drafts || 0 };
  });
  for (const sc of schedules) if (!choices.some((c) => c.name === sc.name)) choices.push({ name: sc.name, station: sc.station, label: sc.name, drafts: sc.drafts || 0 });
  if (!choices.length) { clear(box).append(h('p', { class: 'empty' }, t('prog.noStation'))); return; }

  const names = Object.fromEntries([...zones.map((z) => [z.id, z.name || z.id]), ...nodes.map((n) => [n.id, n.name || n.id])]);
  const mediaName = Object.fromEntries(media.map((m) => [m.sha256, m.name || m.sha256.slice(0, 12)]));
  const remembered = sessionStorage.getItem('radio.schedule');
  const state = { cur: choices.find((c) => c.name === remembered) || choices[0], week: vnWeekStart(new Date()), bulletins: [] };

  const pick = select(choices.map((c) => ({ value: c.name, label: c.label + (c.drafts ? ` (${t('prog.drafts', c.drafts)})` : '') })), state.cur.name);
  const weekLabel = h('span', { id: 'week-label', class: 'week-label', 'aria-live': 'polite' });
  const grid = h('div', { id: 'week-grid', class: 'week' });
  const listBox = h('div', { id: 'bulletin-list' });
  const formBox = h('div', { id: 'bulletin-form-box' });

  async function loadWeek() {
    const from = state.week, to = new Date(state.week.getTime() + 7 * DAY);
    weekLabel.textContent = t('prog.week', fmtDate(from), fmtDate(to.getTime() - DAY));
    clear(grid).append(h('p', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' })));
    let occ = [];
    try {
      occ = await api('GET', `schedules/${encodeURIComponent(state.cur.name)}/occurrences`, undefined, { query: { from: from.toISOString(), to: to.toISOString() } });
    } catch (e) {
      if (e.code !== 'not_found') { clear(grid).append(h('p', { class: 'error' }, errorView(e))); return; }
    }
    const days = [];
    for (let i = 0; i < 7; i++) {
      const d = new Date(from.getTime() + i * DAY);
      const key = vnDateString(d);
      const today = key === vnDateString(new Date());
      const items = (occ || []).filter((o) => vnDateString(o.at) === key).sort((a, b) => String(a.at).localeCompare(String(b.at)));
      days.push(h('div', { class: 'day' + (today ? ' today' : ''), 'data-date': key },
        h('h3', {}, fmtDayMonth(d)),
        items.length ? h('ul', { class: 'plain' }, items.map((o) => h('li', {},
          h('button', { type: 'button', class: `occ prio-${o.priority || 'normal'} st-${o.status}`, 'data-test': 'occ-' + o.item, title: o.occurrence,
            onclick: () => { const b = state.bulletins.find((x) => x.id === o.item); if (b) openForm(b); } },
          h('time', { datetime: o.at }, fmtTime(o.at)), ' ', h('span', { class: 'occ-title' }, o.title || o.item), ' ', statusBadge(o.status)))))
          : h('p', { class: 'muted small' }, t('prog.nothing'))));
    }
    clear(grid).append(...days);
  }

  async function loadBulletins() {
    try {
      state.bulletins = await api('GET', `schedules/${encodeURIComponent(state.cur.name)}/bulletins`);
    } catch (e) {
      if (e.code !== 'not_found') throw e;
      state.bulletins = [];
    }
    const cols = [
      { label: t('b.title'), cell: (b) => h('strong', {}, b.title) },
      { label: t('b.when'), cell: (b) => describeRecurrence(b.recurrence) },
      { label: t('b.target'), cell: (b) => describeTarget(b.target, names) },
      { label: t('b.source'), cell: (b) => b.source?.kind === 'media' ? (mediaName[b.source.media] || b.source.media?.slice(0, 12)) : t('src.' + (b.source?.kind || 'media')) },
      { label: t('b.priority'), cell: (b) => priorityBadge(b.priority) },
      { label: t('b.status'), cell: (b) => statusCell(b) },
    ];
    if (can.change()) cols.push({ label: t('common.actions'), cell: (b) => h('div', { class: 'row-actions' },
      h('button', { type: 'button', 'data-test': 'edit-' + b.id, onclick: () => openForm(b) }, t('common.edit')),
      h('button', { type: 'button', class: 'danger', 'data-test': 'delete-' + b.id, onclick: (ev) => remove(ev.currentTarget, b) }, t('common.delete'))) });
    clear(listBox).append(table(cols, state.bulletins, { test: 'bulletin-table', rowTest: (b) => 'bulletin-' + b.id, empty: t('prog.noBulletins') }));
  }

  async function remove(btn, b) {
    if (!confirm(t('prog.confirmDelete', b.title))) return;
    await busy(btn, async () => {
      try {
        await api('DELETE', `schedules/${encodeURIComponent(state.cur.name)}/bulletins/${encodeURIComponent(b.id)}`, undefined,
          { query: { version: b.pending?.version || b.version } });
        notify(t('prog.deleted', b.title), 'ok');
        await Promise.all([loadBulletins(), loadWeek()]);
      } catch (e) { notify(errorView(e), 'error'); }
    });
  }

  function openForm(b) {
    if (!can.change()) return;
    const stZones = zones.filter((z) => z.station_id === state.cur.station);
    const stNodes = nodes.filter((n) => n.station_id === state.cur.station && !n.revoked);
    clear(formBox).append(bulletinForm({ b, zones: stZones, nodes: stNodes, media, existing: state.bulletins,
      schedule: state.cur.name,
      onSaved: async (saved) => {
        clear(formBox);
        notify(saved.pending ? t('prog.savedPending', saved.pending.title) : t('prog.saved', saved.title), 'ok');
        await Promise.all([loadBulletins(), loadWeek()]);
      },
      onReload: async (id) => {
        await loadBulletins();
        const fresh = state.bulletins.find((x) => x.id === id);
        if (fresh) openForm(fresh); else clear(formBox);
      },
      onCancel: () => clear(formBox) }));
    formBox.scrollIntoView({ block: 'start' });
    formBox.querySelector('input')?.focus();
  }

  pick.id = 'prog-schedule';
  pick.addEventListener('change', async () => {
    state.cur = choices.find((c) => c.name === pick.value);
    sessionStorage.setItem('radio.schedule', state.cur.name);
    clear(formBox);
    await Promise.all([loadBulletins(), loadWeek()]);
  });
  const move = (weeks) => { state.week = weeks ? new Date(state.week.getTime() + weeks * 7 * DAY) : vnWeekStart(new Date()); loadWeek(); };

  clear(box).append(
    h('div', { class: 'toolbar' }, h('label', { for: 'prog-schedule' }, t('prog.station')), pick,
      can.change() ? h('button', { type: 'button', id: 'bulletin-new', class: 'primary', onclick: () => openForm(null) }, t('prog.new')) : null),
    formBox,
    section(t('prog.calendar'), h('div', { class: 'toolbar' },
      h('button', { type: 'button', id: 'week-prev', onclick: () => move(-1), 'aria-label': t('prog.prevWeek') }, '‹ ' + t('prog.prev')),
      h('button', { type: 'button', id: 'week-today', onclick: () => move(0) }, t('prog.thisWeek')),
      h('button', { type: 'button', id: 'week-next', onclick: () => move(1), 'aria-label': t('prog.nextWeek') }, t('prog.next') + ' ›'),
      weekLabel), h('p', { class: 'muted small' }, t('prog.tzNote')), h('div', { class: 'week-wrap' }, grid)),
    section(t('prog.bulletins'), listBox));
  await Promise.all([loadBulletins(), loadWeek()]);
}

// statusCell says where a bulletin stands: approved or draft, a change
// waiting beside it, sent back by the leader (with their comment).
function statusCell(b) {
  const rv = b.review || {};
  return h('div', {},
    statusBadge(b.status),
    b.pending ? [' ', h('span', { class: 'badge badge-st-pending', 'data-test': 'pending-' + b.id }, t('prog.pending'))] : null,
    rv.returned_at ? [' ', h('span', { class: 'badge badge-st-returned', 'data-test': 'returned-' + b.id }, t('prog.returned')),
      h('p', { class: 'review-note', 'data-test': 'returned-note-' + b.id }, t('prog.returnedBy', rv.returned_name || rv.returned_by, fmtDateTime(rv.returned_at), rv.comment))] : null);
}

// staleView says, in words, what someone else changed meanwhile.
function staleView(e) {
  const list = e.body?.changes || [];
  return list.map((c) => t('stale.' + c.what, c.title || c.bulletin) + (c.by ? t('stale.by', c.by) + (c.at ? t('stale.at', fmtDateTime(c.at)) : '') + ')' : ''));
}

// bulletinForm is the create/edit form. Mistakes found here or by the
// server are shown next to the part of the form they are about. A bulletin
// with a change waiting is edited from that change.
function bulletinForm({ b, zones, nodes, media, existing, schedule, onSaved, onCancel, onReload }) {
  const orig = (b && b.pending) ? { ...b.pending, id: b.id } : (b || {});
  const onAir = b?.status === 'approved';
  const rec = orig.recurrence || { kind: 'once' };
  const errs = {};
  const errBox = (k) => (errs[k] = h('p', { class: 'field-error', id: 'err-' + k, 'aria-live': 'polite' }));

  // No maxlength: a pasted title over 200 characters would be cut without
  // a word. The counter says how long it is; saving refuses it with why.
  const title = h('input', { value: orig.title || '', required: true, 'aria-describedby': 'f-title-count' });
  const titleCount = h('span', { class: 'title-count', id: 'f-title-count', 'aria-live': 'polite' });
  const countTitle = () => {
    const n = [...title.value.trim()].length;
    titleCount.textContent = t('f.titleCount', n);
    titleCount.classList.toggle('over', n > 200);
  };
  title.addEventListener('input', countTitle);
  countTitle();
  const idIn = h('input', { value: orig.id || '', pattern: '[a-z0-9][a-z0-9._-]*', maxlength: 48, disabled: !!b, autocapitalize: 'none' });
  let idTouched = !!b;
  idIn.addEventListener('input', () => { idTouched = true; });
  title.addEventListener('input', () => { if (!idTouched) idIn.value = uniqueId(slug(title.value), existing); });

  const mediaOpts = [{ value: '', label: t('f.chooseMedia') }, ...media.map((m) => ({ value: m.sha256, label: `${m.name || m.sha256.slice(0, 12)} (${Math.round((m.duration_ms || 0) / 1000)} s)` }))];
  const isTTS = orig.source?.kind === 'tts';
  const keepOther = orig.source && orig.source.kind !== 'media' && !isTTS;
  if (keepOther) mediaOpts.unshift({ value: '__keep', label: t('f.keepSource', t('src.' + orig.source.kind)) });
  mediaOpts.splice(1, 0, { value: '__tts', label: t('f.tts') });
  const mediaSel = select(mediaOpts, isTTS ? '__tts' : keepOther ? '__keep' : (orig.source?.media || ''));
  // "Đọc văn bản": a typed notice, read by the controller's voice; "Nghe thử" plays it as it will air.
  const ttsText = h('textarea', { id: 'f-tts-text', rows: 4, maxlength: 10000, placeholder: t('f.ttsHint') }, isTTS ? orig.source.text : '');
  const ttsAudio = h('audio', { id: 'f-tts-audio', controls: true, hidden: true });
  const ttsListen = h('button', { type: 'button', id: 'f-tts-listen' }, t('f.ttsListen'));
  ttsListen.addEventListener('click', () => busy(ttsListen, async () => {
    errs.source.replaceChildren(); errs.source.hidden = true;
    const r = await fetch('/api/v1/tts/preview', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf }, body: JSON.stringify({ text: ttsText.value }) });
    if (!r.ok) {
      let body = null; try { body = await r.json(); } catch { body = null; }
      errs.source.hidden = false; errs.source.append(h('span', {}, String(new ApiError(r.status, body))));
      return;
    }
    ttsAudio.src = URL.createObjectURL(await r.blob()); ttsAudio.hidden = false; ttsAudio.play().catch(() => {});
  }));
  const ttsBox = h('div', { class: 'field', id: 'f-tts' }, h('label', { for: 'f-tts-text' }, t('src.tts')), ttsText, h('div', { class: 'row-actions' }, ttsListen, ttsAudio));
  const syncSource = () => { ttsBox.hidden = mediaSel.value !== '__tts'; };
  mediaSel.addEventListener('change', syncSource);

  const tkind = orig.target?.kind || 'zone';
  const radio = (v) => h('label', { class: 'inline' }, h('input', { type: 'radio', name: 'f-target', value: v, id: 'f-target-' + v, checked: tkind === v }), ' ', t('target.' + v));
  const ids = new Set(orig.target?.ids || (zones.length === 1 ? [zones[0].id] : []));
  const zoneBoxes = h('div', { class: 'checks', id: 'f-zones' }, zones.length ? zones.map((z) => h('label', { class: 'inline' },
    h('input', { type: 'checkbox', value: z.id, id: 'f-zone-' + z.id, checked: ids.has(z.id) }), ' ', z.name || z.id)) : h('span', { class: 'muted' }, t('f.noZones')));
  const nodeBoxes = h('div', { class: 'checks', id: 'f-nodes' }, nodes.length ? nodes.map((n) => h('label', { class: 'inline' },
    h('input', { type: 'checkbox', value: n.id, id: 'f-node-' + n.id, checked: ids.has(n.id) }), ' ', n.name || n.id)) : h('span', { class: 'muted' }, t('f.noNodes')));
  const targetSet = h('fieldset', { class: 'field' }, h('legend', {}, t('b.target')), h('div', { class: 'checks' }, radio('commune'), radio('zone'), radio('nodes')), zoneBoxes, nodeBoxes, errBox('target'));
  const syncTarget = () => {
    const k = targetSet.querySelector('input[name=f-target]:checked')?.value;
    zoneBoxes.hidden = k !== 'zone'; nodeBoxes.hidden = k !== 'nodes';
  };
  targetSet.addEventListener('change', syncTarget);

  const prio = select(['normal', 'priority', 'emergency'].map((p) => ({ value: p, label: t('prio.' + p) })), orig.priority || 'normal');
  const kind = select(['once', 'daily', 'weekly', 'every', 'cron'].map((k) => ({ value: k, label: t('rec.' + k) })), rec.kind || 'once');
  const date = dateInput(rec.date || vnDateString(new Date()));
  const times = h('input', { value: (rec.times || []).join(', '), placeholder: '06:30, 17:00' });
  // "0630, 6h30" reads as "06:30, 06:30" once the officer leaves the field
  const timeList = () => times.value.split(/[,;]+|\s+(?=\d)/).map((x) => x.trim()).filter(Boolean);
  times.addEventListener('blur', () => {
    const list = timeList(), norm = list.map(normTime);
    if (list.length && norm.every(Boolean)) times.value = norm.join(', ');
  });
  const wd = new Set(rec.weekdays || []);
  const weekdays = h('fieldset', { class: 'field', id: 'f-weekdays' }, h('legend', {}, t('f.weekdays')), h('div', { class: 'checks' },
    WEEKDAYS.map((d) => h('label', { class: 'inline' }, h('input', { type: 'checkbox', value: d, id: 'f-wd-' + d, checked: wd.has(d) }), ' ', t('wd.' + d)))));
  const weeks = h('input', { type: 'number', min: 1, max: 52, value: rec.weeks || 2 });
  const cron = h('input', { value: rec.cron || '', placeholder: '0 0 11 1,15 * *', autocapitalize: 'none', spellcheck: 'false' });
  const from = dateInput(orig.from || '');
  const until = dateInput(orig.until || '');
  const repeat = h('input', { type: 'number', min: 0, max: 20, value: orig.repeat || 0 });
  const gap = h('input', { value: orig.gap || '', placeholder: '2m', autocapitalize: 'none' });
  const duration = h('input', { value: orig.duration || '', placeholder: '5m', autocapitalize: 'none' });
  const onInt = select(['resume', 'skip'].map((v) => ({ value: v, label: t('f.int.' + v) })), orig.on_interrupt || 'resume');
  const onHol = select(['skip', 'play'].map((v) => ({ value: v, label: t('f.hol.' + v) })), orig.on_holiday || 'skip');

  const wrap = {
    date: field('f-date', t('f.date'), date),
    times: field('f-times', t('f.times'), times, t('f.timesHint')),
    weeks: field('f-weeks', t('f.weeks'), weeks),
    cron: field('f-cron', t('f.cron'), cron, t('f.cronHint')),
  };
  const rangeGrid = h('div', { class: 'form-grid', id: 'f-range' }, field('f-from', t('f.from'), from), field('f-until', t('f.until'), until));
  const syncKind = () => {
    const k = kind.value;
    rangeGrid.hidden = k === 'once'; // a one-off has its date
    wrap.date.hidden = k !== 'once';
    wrap.times.hidden = k === 'cron';
    weekdays.hidden = !(k === 'weekly' || k === 'every');
    wrap.weeks.hidden = k !== 'every';
    wrap.cron.hidden = k !== 'cron';
  };
  kind.addEventListener('change', syncKind);

  const summary = h('div', { id: 'f-errors', class: 'error-summary', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', id: 'f-save', class: 'primary' }, b ? t('f.saveChange') : t('f.saveNew'));
  const form = h('form', { class: 'card bulletin-form', id: 'bulletin-form', novalidate: true },
    h('h2', {}, b ? t('f.editTitle', orig.title) : t('f.newTitle')),
    h('p', { class: 'muted small' }, t(onAir ? 'f.pendingNote' : 'f.draftNote')),
    summary,
    h('div', { class: 'form-grid' },
      h('div', {}, field('f-title', t('b.title'), title), titleCount, errBox('title')),
      field('f-id', t('f.id'), idIn, t('f.idHint')),
      h('div', {}, field('f-media', t('f.media'), mediaSel), ttsBox, errBox('source')),
      h('div', {}, field('f-priority', t('b.priority'), prio), errBox('priority'))),
    targetSet,
    h('fieldset', { class: 'field' }, h('legend', {}, t('b.when')),
      h('div', { class: 'form-grid' }, field('f-rec', t('f.rec'), kind), wrap.date, wrap.times, wrap.weeks, wrap.cron),
      weekdays, errBox('time'),
      rangeGrid, errBox('range')),
    h('details', { class: 'field' }, h('summary', {}, t('f.more')),
      h('div', { class: 'form-grid' }, field('f-repeat', t('f.repeat'), repeat), field('f-gap', t('f.gap'), gap),
        field('f-duration', t('f.duration'), duration, t('f.durationHint')), field('f-interrupt', t('f.onInterrupt'), onInt), field('f-holiday', t('f.onHoliday'), onHol)),
      errBox('repeat')),
    errBox('general'),
    h('div', { class: 'row-actions' }, save, h('button', { type: 'button', id: 'f-cancel', onclick: onCancel }, t('common.cancel'))));
  syncTarget(); syncKind(); syncSource();

  // showErrors lists the mistakes above the form and beside the part of it
  // each is about; err, an error without such a list, goes at the bottom.
  function showErrors(list, err) {
    for (const e of Object.values(errs)) { e.replaceChildren(); e.hidden = true; }
    summary.hidden = !list.length && !err;
    clear(summary);
    if (err) {
      summary.append(errorView(err));
      errs.general.hidden = false; errs.general.append(h('span', {}, err.advice || String(err)));
    }
    if (list.length) summary.append(h('p', {}, t('f.fix', list.length)), h('ul', {}, list.map((x) => h('li', { title: x.orig && x.orig !== x.text ? x.orig : undefined }, x.text))));
    for (const x of list) { const box = errs[x.field] || errs.general; box.hidden = false; box.append(h('span', {}, x.text)); }
    if (list.length || err) summary.scrollIntoView({ block: 'nearest' });
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const problems = [];
    const tk = targetSet.querySelector('input[name=f-target]:checked')?.value || 'commune';
    const picked = [...(tk === 'zone' ? zoneBoxes : nodeBoxes).querySelectorAll('input:checked')].map((i) => i.value);
    const typed = timeList(), normTimes = typed.map(normTime);
    const days = [...weekdays.querySelectorAll('input:checked')].map((i) => i.value);
    const id = idIn.value.trim() || uniqueId(slug(title.value), existing);
    if (!title.value.trim()) problems.push({ field: 'title', text: t('v.title') });
    if ([...title.value.trim()].length > 200) problems.push({ field: 'title', text: t('v.titleLong', [...title.value.trim()].length) });
    if (!/^[a-z0-9][a-z0-9._-]{0,47}$/.test(id)) problems.push({ field: 'title', text: t('v.id') });
    if (!b && existing.some((x) => x.id === id)) problems.push({ field: 'title', text: t('v.idTaken', id) });
    if (!mediaSel.value) problems.push({ field: 'source', text: t('v.media') });
    if (mediaSel.value === '__tts' && !ttsText.value.trim()) problems.push({ field: 'source', text: t('v.ttsText') });
    if (tk !== 'commune' && !picked.length) problems.push({ field: 'target', text: t(tk === 'zone' ? 'v.zones' : 'v.nodes') });
    if (kind.value !== 'cron') {
      if (!typed.length) problems.push({ field: 'time', text: t('v.times') });
      const bad = typed.filter((x, i) => !normTimes[i]);
      if (bad.length) problems.push({ field: 'time', text: t('v.timeFormat', bad.join(', ')) });
    }
    if (kind.value === 'once' && !date.value) problems.push({ field: 'time', text: t('v.date') });
    if ((kind.value === 'weekly' || kind.value === 'every') && !days.length) problems.push({ field: 'time', text: t('v.weekdays') });
    if (kind.value === 'every' && !(Number(weeks.value) >= 1)) problems.push({ field: 'time', text: t('v.weeks') });
    if (kind.value === 'every' && !from.value) problems.push({ field: 'range', text: t('v.everyFrom') });
    if (kind.value === 'cron' && cron.value.trim().split(/\s+/).length !== 6) problems.push({ field: 'time', text: t('v.cron') });
    if (kind.value !== 'once' && from.value && until.value && until.value < from.value) problems.push({ field: 'range', text: t('v.range') });
    showErrors(problems);
    if (problems.length) return;

    const r = { kind: kind.value };
    if (kind.value === 'once') r.date = date.value;
    if (kind.value !== 'cron') { r.times = normTimes; times.value = normTimes.join(', '); }
    if (kind.value === 'weekly' || kind.value === 'every') r.weekdays = days;
    if (kind.value === 'every') r.weeks = Number(weeks.value);
    if (kind.value === 'cron') r.cron = cron.value.trim();
    const out = { ...orig, id, title: title.value.trim(),
      source: mediaSel.value === '__keep' ? orig.source : mediaSel.value === '__tts' ? { kind: 'tts', text: ttsText.value.trim().replace(/\s*\n\s*/g, ' ') } : { kind: 'media', media: mediaSel.value },
      target: { kind: tk, ids: tk === 'commune' ? [] : picked },
      priority: prio.value, recurrence: r, from: kind.value === 'once' ? '' : from.value, until: kind.value === 'once' ? '' : until.value,
      repeat: Number(repeat.value) || 0, gap: gap.value.trim(), duration: duration.value.trim(),
      on_interrupt: onInt.value, on_holiday: onHol.value };
    delete out.status; delete out.pending; delete out.review; delete out.line;
    out.version = orig.version || ''; // the version this edit was made on
    busy(save, async () => {
      try {
        const saved = await api('PUT', `schedules/${encodeURIComponent(schedule)}/bulletins/${encodeURIComponent(id)}`, out);
        await onSaved(saved || out);
      } catch (e) {
        if (e.code === 'schedule' && e.errors.length) showErrors(friendlyErrors(e.errors));
        else if (e.code === 'stale') {
          // Someone else saved first: say what they changed; nothing of
          // this edit was saved, and the form keeps it to redo.
          showErrors([]);
          summary.hidden = false;
          summary.dataset.stale = 'true';
          summary.append(h('p', { 'data-test': 'stale-advice' }, e.advice),
            h('ul', { class: 'stale-list', 'data-test': 'stale-changes' }, staleView(e).map((x) => h('li', {}, x))),
            h('div', { class: 'row-actions' }, h('button', { type: 'button', id: 'f-stale-reload', 'data-test': 'stale-reload',
              onclick: () => onReload(id) }, t('stale.reload'))));
          summary.scrollIntoView({ block: 'nearest' });
        } else showErrors([], e);
      }
    });
  });
  return form;
}

function uniqueId(base, existing) {
  let id = base, n = 2;
  while (existing.some((x) => x.id === id)) id = `${base}-${n++}`;
  return id;
}
