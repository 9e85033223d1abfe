// Media library (thư viện âm thanh): upload with a progress bar, then the
// server's transcoding; list and listen in the browser.
import { api, can } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, fmtDateTime, fmtDuration, fmtSize, busy, notify, section, table, errorView } from '../ui.js';

const ACCEPT = '.mp3,.m4a,.wav,.ogg,.oga,.opus,.amr,.webm,audio/*';

export async function render(box) {
  const listBox = h('div', { id: 'media-list' });
  async function refresh() {
    const items = await api('GET', 'media');
    items.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    clear(listBox).append(table([
      { label: t('media.name'), cell: (m) => h('span', { class: 'media-name' }, m.name || m.sha256.slice(0, 12)) },
      { label: t('media.duration'), cell: (m) => fmtDuration(m.duration_ms), class: 'num' },
      { label: t('media.size'), cell: (m) => fmtSize(m.size), class: 'num' },
      { label: t('media.format'), cell: (m) => m.source_format || '—' },
      { label: t('media.date'), cell: (m) => fmtDateTime(m.created_at) },
      { label: t('media.by'), cell: (m) => m.created_by || '—' },
      { label: t('media.listen'), cell: (m) => h('audio', { controls: true, preload: 'none', src: `/api/v1/media/${m.sha256}/audio`, 'aria-label': t('media.listen') + ' ' + (m.name || '') }) },
    ], items, { test: 'media-table', rowTest: (m) => 'media-' + m.sha256.slice(0, 16), empty: t('media.none') }));
  }
  clear(box);
  if (can.change()) box.append(uploader(refresh));
  box.append(section(t('media.library'), listBox));
  await refresh();
}

function uploader(done) {
  const file = h('input', { type: 'file', id: 'media-file', accept: ACCEPT, required: true });
  const bar = h('progress', { id: 'media-progress', max: 100, value: 0, hidden: true, 'aria-label': t('media.progress') });
  const state = h('p', { id: 'media-state', class: 'form-msg', 'aria-live': 'polite' });
  const go = h('button', { type: 'submit', id: 'media-upload', class: 'primary' }, t('media.upload'));
  const form = h('form', { id: 'media-form', novalidate: true },
    h('label', { for: 'media-file' }, t('media.choose')), file,
    h('small', { class: 'hint' }, t('media.formats')),
    h('div', { class: 'row-actions' }, go), bar, state);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) { state.textContent = t('media.pick'); return; }
    const fd = new FormData();
    fd.append('file', f, f.name);
    bar.hidden = false; bar.value = 0; bar.removeAttribute('data-done');
    state.className = 'form-msg';
    state.textContent = t('media.uploading', 0);
    busy(go, async () => {
      try {
        const m = await api('POST', 'media', fd, {
          query: { name: f.name },
          onProgress: (p) => {
            if (p.phase === 'upload' && p.total) {
              const pc = Math.round((p.loaded / p.total) * 100);
              bar.value = pc;
              state.textContent = t('media.uploading', pc);
            } else if (p.phase === 'processing') {
              bar.value = 100;
              bar.removeAttribute('value'); // indeterminate while the server transcodes
              state.textContent = t('media.transcoding');
            }
          },
        });
        bar.value = 100; bar.hidden = true;
        state.textContent = t('media.done', m.name || f.name, fmtDuration(m.duration_ms));
        state.dataset.done = m.sha256;
        form.reset();
        notify(t('media.done', m.name || f.name, fmtDuration(m.duration_ms)), 'ok');
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
