// Approval queue (duyệt bản tin): drafts, and changes to bulletins on air,
// waiting for a commune leader, with who submitted each and its recording.
// Only leaders and administrators see the Approve and Send back buttons; a
// bulletin sent back leaves the queue until the officer saves it again.
import { api, can } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, busy, notify, priorityBadge, statusBadge, errorView, fmtDay, fmtDateTime } from '../ui.js';
import { describeRecurrence, describeTarget, friendlyErrors } from '../bulletin.js';

export async function render(box) {
  const [queue, stations, zones, nodes, media] = await Promise.all([api('GET', 'approvals'), api('GET', 'stations'), api('GET', 'zones'), api('GET', 'nodes'), api('GET', 'media')]);
  const stationName = Object.fromEntries(stations.map((s) => [s.id, s.name || s.id]));
  const names = Object.fromEntries([...zones.map((z) => [z.id, z.name || z.id]), ...nodes.map((n) => [n.id, n.name || n.id])]);
  const mediaName = Object.fromEntries(media.map((m) => [m.sha256, m.name || m.sha256.slice(0, 12)]));
  clear(box);
  if (!can.approve()) box.append(h('p', { class: 'note', id: 'approvals-readonly' }, t('appr.readonly')));
  if (!queue.length) { box.append(h('p', { class: 'empty', 'data-test': 'approvals-empty' }, t('appr.none'))); return; }
  box.append(h('ul', { class: 'cards-list', id: 'approvals' }, queue.map((q) => {
    const b = q.bulletin;
    const rv = b.review || {};
    const sha = b.source?.media || b.source?.audio;
    const li = h('li', { class: 'card', 'data-test': 'approval-' + b.id },
      h('h2', {}, b.title, ' ', priorityBadge(b.priority), ' ', q.airing ? h('span', { class: 'badge badge-st-pending' }, t('appr.change')) : statusBadge(b.status || 'draft')),
      h('dl', { class: 'kv' },
        h('dt', {}, t('appr.station')), h('dd', {}, stationName[q.station] || q.station),
        h('dt', {}, t('b.when')), h('dd', {}, describeRecurrence(b.recurrence)),
        h('dt', {}, t('b.target')), h('dd', {}, describeTarget(b.target, names)),
        rv.submitted_name ? [h('dt', {}, t('appr.submitted')), h('dd', { 'data-test': 'submitted-' + b.id }, t('prog.submittedBy', rv.submitted_name, fmtDateTime(rv.submitted_at)))] : null,
        b.source?.kind === 'media' && b.source.media ? [h('dt', {}, t('appr.recording')), h('dd', { 'data-test': 'recording-' + b.id }, mediaName[b.source.media] || b.source.media.slice(0, 12))] : null,
        q.airing ? [h('dt', {}, t('appr.airing')), h('dd', { 'data-test': 'airing-' + b.id }, `${q.airing.title} · ${describeRecurrence(q.airing.recurrence)}`)] : null,
        b.from || b.until ? [h('dt', {}, t('appr.range')), h('dd', {}, `${b.from ? fmtDay(b.from) : '…'} → ${b.until ? fmtDay(b.until) : '…'}`)] : null),
      b.source?.kind === 'tts' ? h('blockquote', { class: 'tts-text' }, b.source.text) : null,
      sha ? h('audio', { controls: true, preload: 'none', src: `/api/v1/media/${sha}/audio`, 'aria-label': t('media.listen') + ' ' + b.title }) : null);
    if (can.approve()) {
      const path = `schedules/${encodeURIComponent(q.schedule)}/bulletins/${encodeURIComponent(b.id)}`;
      const btn = h('button', { type: 'button', class: 'primary', 'data-test': 'approve-' + b.id }, t('appr.approve'));
      // why approving failed, on the card itself: a schedule refusal lists
      // the server's reasons and says what the leader should do
      const why = h('div', { class: 'error-summary', role: 'alert', 'data-test': 'approve-errors-' + b.id, hidden: true });
      const done = (msg, test) => {
        notify(msg, 'ok');
        li.classList.add('approved');
        li.replaceChildren(h('p', { 'data-test': test + '-' + b.id }, '✓ ', msg));
        window.dispatchEvent(new Event('radio-waiting')); // the menu's count
      };
      btn.addEventListener('click', () => busy(btn, async () => {
        why.hidden = true; clear(why);
        try {
          await api('POST', path + '/approve', { version: b.version });
          done(t('appr.done', b.title), 'approved');
        } catch (e) {
          why.hidden = false;
          if (e.code === 'schedule' && e.errors?.length) {
            why.append(h('p', {}, t('appr.refusedLead')), errorView(e, { list: friendlyErrors, advice: false }));
            notify(t('appr.seeCard', b.title), 'error');
          } else {
            why.append(h('p', {}, t('appr.failed', b.title)), errorView(e));
            notify(errorView(e), 'error');
          }
          why.scrollIntoView({ block: 'nearest' });
        }
      }));
      // Trả lại: back to the officer with what to change.
      const comment = h('textarea', { id: 'return-comment-' + b.id, 'data-test': 'return-comment-' + b.id, rows: 3, maxlength: 1000 });
      const send = h('button', { type: 'button', 'data-test': 'return-send-' + b.id }, t('appr.returnSend'));
      const msg = h('p', { class: 'field-error', 'aria-live': 'polite' });
      const form = h('div', { class: 'field', hidden: true, 'data-test': 'return-form-' + b.id },
        h('label', { for: 'return-comment-' + b.id }, t('appr.returnComment')), comment, msg, h('div', { class: 'row-actions' }, send));
      const back = h('button', { type: 'button', 'data-test': 'return-' + b.id, onclick: () => { form.hidden = false; comment.focus(); } }, t('appr.return'));
      send.addEventListener('click', () => {
        msg.textContent = '';
        if (!comment.value.trim()) { msg.textContent = t('appr.needComment'); return; }
        busy(send, async () => {
          try {
            await api('POST', path + '/return', { version: b.version, comment: comment.value.trim() });
            done(t('appr.returned', b.title), 'returned');
          } catch (e) { msg.replaceChildren(errorView(e)); }
        });
      });
      li.append(why, h('div', { class: 'row-actions' }, btn, back), form);
    }
    return li;
  })));
}
