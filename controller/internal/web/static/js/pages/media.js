// Media library (thư viện âm thanh): upload with a progress bar, then the
// server's loudness normalisation and transcoding with theirs; list, listen,
// rename and delete. The limits the form states and checks before sending
// are the server's (GET media/limits); the server checks them again.
import { api, can, ApiError } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, fmtDateTime, fmtDuration, fmtSize, busy, notify, section, table, errorView } from '../ui.js';

const ACCEPT = '.mp3,.m4a,.wav,.ogg,.oga,.opus,.amr,.webm,audio/*';

export async function render(box) {
  const [limits, areas] = await Promise.all([
    api('GET', 'media/limits'),
    can.admin() ? api('GET', 'areas') : Promise.resolve([]),
  ]);
  const listBox = h('div', { id: 'media-list' });
  const msg = h('div', { id: 'media-msg', class: 'form-msg', role: 'alert' });
  async function refresh() {
    const items = await api('GET', 'media');
    items.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    const cols = [
      { label: t('media.name'), cell: (m) => h('span', { class: 'media-name', title: m.sha256 }, m.name || m.sha256.slice(0, 12)) },
      { label: t('media.duration'), cell: (m) => fmtDuration(m.duration_ms), class: 'num' },
      { label: t('media.size'), cell: (m) => fmtSize(m.size), class: 'num' },
      { label: t('media.format'), cell: (m) => m.source_format || '—' },
      { label: t('media.date'), cell: (m) => fmtDateTime(m.created_at) },
      { label: t('media.by'), cell: (m) => m.created_by || '—' },
      { label: t('media.listen'), cell: (m) => h('audio', { controls: true, preload: 'none', src: `/api/v1/media/${m.sha256}/audio`, 'aria-label': t('media.listen') + ' ' + (m.name || '') }) },
    ];
    if (can.change()) cols.push({ label: t('media.actions'), cell: (m) => actions(m, msg, refresh) });
    clear(listBox).append(table(cols, items, { test: 'media-table', rowTest: (m) => 'media-' + m.sha256.slice(0, 16), empty: t('media.none') }));
  }
  clear(box);
  if (can.change()) box.append(uploader(limits, areas, refresh));
  box.append(section(t('media.library'), msg, listBox));
  await refresh();
}

// actions are a recording's rename and delete buttons.
function actions(m, msg, refresh) {
  const key = m.sha256.slice(0, 16);
  const rename = h('button', { type: 'button', class: 'link-btn', 'data-test': 'media-rename-' + key }, t('media.rename'));
  const del = h('button', { type: 'button', class: 'link-btn danger', 'data-test': 'media-delete-' + key }, t('media.delete'));
  const cell = h('div', { class: 'row-actions media-actions' }, rename, del);
  rename.addEventListener('click', () => {
    const input = h('input', { value: m.name || '', maxlength: 200, 'aria-label': t('media.newName'), 'data-test': 'media-newname-' + key });
    const save = h('button', { type: 'submit', class: 'primary', 'data-test': 'media-save-' + key }, t('media.save'));
    const cancel = h('button', { type: 'button' }, t('common.cancel'));
    const form = h('form', { class: 'row-actions' }, input, save, cancel);
    cancel.addEventListener('click', () => form.replaceWith(cell));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = input.value.trim();
      if (!name) { msg.className = 'form-msg error'; msg.textContent = t('media.nameEmpty'); input.focus(); return; }
      busy(save, async () => {
        try {
          await api('PATCH', 'media/' + m.sha256, { name });
          msg.className = 'form-msg'; msg.textContent = t('media.renamed', name);
          await refresh();
        } catch (e) { msg.className = 'form-msg error'; msg.replaceChildren(errorView(e)); }
      });
    });
    cell.replaceWith(form);
    input.focus(); input.select();
  });
  del.addEventListener('click', () => {
    if (!confirm(t('media.confirmDelete', m.name))) return;
    busy(del, async () => {
      try {
        await api('DELETE', 'media/' + m.sha256);
        msg.className = 'form-msg'; msg.textContent = t('media.deleted', m.name);
        msg.dataset.deleted = m.sha256;
        await refresh();
      } catch (e) {
        msg.className = 'form-msg error';
        if (e instanceof ApiError && e.code === 'media_in_use') msg.replaceChildren(inUse(m, e.body.uses || []));
        else msg.replaceChildren(errorView(e));
        msg.scrollIntoView({ block: 'nearest' });
      }
    });
  });
  return cell;
}

// inUse says, in words, what still needs a recording.
function inUse(m, uses) {
  const line = (u) => {
    if (u.kind === 'warning') return t('media.useWarning', u.title || u.warning, fmtDateTime(u.expires));
    if (u.kind === 'command') return t('media.useCommand', u.target_name || u.target, fmtDateTime(u.expires));
    if (u.kind === 'programme') return t('media.useProgramme', u.schedule, u.station_name || u.station);
    return t('media.useBulletin', u.title || u.bulletin, u.station_name || u.station);
  };
  return h('div', { 'data-test': 'media-in-use' },
    h('p', {}, t('media.inUse', m.name)),
    h('ul', {}, uses.map((u) => h('li', { title: u.command || u.warning || u.bulletin || u.schedule || '' }, line(u)))),
    h('p', { class: 'muted' }, t('media.inUseHint')));
}

function fmtLimitDuration(s) {
  return s >= 3600 && s % 3600 === 0 ? t('media.hours', s / 3600) : t('common.minutes', Math.round(s / 60));
}

function fmtLUFS(v) { return new Intl.NumberFormat('vi-VN', { maximumFractionDigits: 1 }).format(v); }

function uploader(limits, areas, done) {
  const file = h('input', { type: 'file', id: 'media-file', accept: ACCEPT, required: true, 'data-max': limits.max_upload_bytes });
  const bar = h('progress', { id: 'media-progress', max: 100, value: 0, hidden: true, 'aria-label': t('media.progress') });
  const state = h('p', { id: 'media-state', class: 'form-msg', 'aria-live': 'polite' });
  const go = h('button', { type: 'submit', id: 'media-upload', class: 'primary' }, t('media.upload'));
  // An administrator uploads for a commune, whose officers then have it.
  const communes = areas.filter((a) => a.kind === 'commune');
  const area = communes.length ? h('select', { id: 'media-area' },
    h('option', { value: '' }, t('media.areaPick')),
    communes.map((a) => h('option', { value: a.id }, a.name || a.id)),
    h('option', { value: '-' }, t('media.areaNone'))) : null;
  const form = h('form', { id: 'media-form', novalidate: true },
    area ? h('div', { class: 'field' }, h('label', { for: 'media-area' }, t('media.area')), area) : null,
    h('label', { for: 'media-file' }, t('media.choose')), file,
    h('small', { class: 'hint' }, t('media.formats')),
    h('small', { class: 'hint', id: 'media-limits' }, ' ', t('media.limits', fmtSize(limits.max_upload_bytes), fmtLimitDuration(limits.max_duration_s), fmtLUFS(limits.target_lufs))),
    h('div', { class: 'row-actions' }, go), bar, state);
  const fail = (text) => { state.className = 'form-msg error'; state.textContent = text; };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) { fail(t('media.pick')); return; }
    // Told before a byte is sent: on 4G a 300 MB file takes a long time
    // to be refused.
    if (f.size === 0) { fail(t('media.emptyFile', f.name)); return; }
    if (f.size > limits.max_upload_bytes) { fail(t('media.tooBig', f.name, fmtSize(f.size), fmtSize(limits.max_upload_bytes))); return; }
    if (area && !area.value) { fail(t('media.pickArea')); area.focus(); return; }
    const fd = new FormData();
    fd.append('file', f, f.name);
    bar.hidden = false; bar.value = 0; bar.removeAttribute('data-done');
    state.className = 'form-msg';
    state.textContent = t('media.uploading', 0);
    delete state.dataset.done;
    busy(go, async () => {
      try {
        const m = await api('POST', 'media', fd, {
          query: { name: f.name, progress: 1, area: area && area.value !== '-' ? area.value : '' },
          onProgress: (p) => {
            if (p.phase === 'upload' && p.total) {
              const pc = Math.round((p.loaded / p.total) * 100);
              bar.value = pc;
              state.textContent = t('media.uploading', pc);
            } else if (p.phase === 'processing') {
              // the server's two passes: measuring, then normalising and
              // transcoding; unknown length (a browser recording): no %
              const known = p.done !== undefined && p.done >= 0;
              const pc = known ? Math.round(p.done * 100) : 0;
              if (known) bar.value = p.stage === 'transcode' ? 50 + pc / 2 : pc / 2; else bar.removeAttribute('value');
              const key = p.stage === 'measure' ? 'media.measuring' : p.stage === 'transcode' ? 'media.normalising' : '';
              state.textContent = key ? t(key, known ? pc + '%' : '') : t('media.transcoding');
              state.dataset.stage = p.stage || '';
            }
          },
        });
        bar.value = 100; bar.hidden = true;
        const text = t('media.done', m.name || f.name, fmtDuration(m.duration_ms)) +
          (m.input_lufs ? ' ' + t('media.loudness', fmtLUFS(m.input_lufs), fmtLUFS(m.target_lufs)) : '');
        state.textContent = text;
        state.dataset.done = m.sha256;
        form.reset();
        notify(text, 'ok');
        await done();
      } catch (e) {
        bar.hidden = true;
        state.className = 'form-msg error';
        state.replaceChildren(errorView(e));
      }
    });
  });
  return h('section', { class: 'card' }, h('h2', {}, t('media.new')), form);
}
