// Approval queue (duyệt bản tin): drafts waiting for a commune leader. Only
// leaders and administrators see the Approve button.
import { api, can } from '../api.js';
import { t } from '../i18n.js';
import { h, clear, busy, notify, priorityBadge, statusBadge, errorView, fmtDay } from '../ui.js';
import { describeRecurrence, describeTarget, friendlyErrors } from '../bulletin.js';

export async function render(box) {
  const [queue, stations, zones, nodes] = await Promise.all([api('GET', 'approvals'), api('GET', 'stations'), api('GET', 'zones'), api('GET', 'nodes')]);
  const stationName = Object.fromEntries(stations.map((s) => [s.id, s.name || s.id]));
  const names = Object.fromEntries([...zones.map((z) => [z.id, z.name || z.id]), ...nodes.map((n) => [n.id, n.name || n.id])]);
  clear(box);
  if (!can.approve()) box.append(h('p', { class: 'note', id: 'approvals-readonly' }, t('appr.readonly')));
  if (!queue.length) { box.append(h('p', { class: 'empty', 'data-test': 'approvals-empty' }, t('appr.none'))); return; }
  box.append(h('ul', { class: 'cards-list', id: 'approvals' }, queue.map((q) => {
    const b = q.bulletin;
    const li = h('li', { class: 'card', 'data-test': 'approval-' + b.id },
      h('h2', {}, b.title, ' ', priorityBadge(b.priority), ' ', statusBadge(b.status || 'draft')),
      h('dl', { class: 'kv' },
        h('dt', {}, t('appr.station')), h('dd', {}, stationName[q.station] || q.station),
        h('dt', {}, t('b.when')), h('dd', {}, describeRecurrence(b.recurrence)),
        h('dt', {}, t('b.target')), h('dd', {}, describeTarget(b.target, names)),
        b.from || b.until ? [h('dt', {}, t('appr.range')), h('dd', {}, `${b.from ? fmtDay(b.from) : '…'} → ${b.until ? fmtDay(b.until) : '…'}`)] : null),
      b.source?.kind === 'tts' ? h('blockquote', { class: 'tts-text' }, b.source.text) : null,
      (b.source?.kind === 'media' && b.source.media) || b.source?.audio
        ? h('audio', { controls: true, preload: 'none', src: `/api/v1/media/${b.source.media || b.source.audio}/audio`, 'aria-label': t('media.listen') + ' ' + b.title }) : null);
    if (can.approve()) {
      const btn = h('button', { type: 'button', class: 'primary', 'data-test': 'approve-' + b.id }, t('appr.approve'));
      // why approving failed, on the card itself: a schedule refusal lists
      // the server's reasons and says what the leader should do
      const why = h('div', { class: 'error-summary', role: 'alert', 'data-test': 'approve-errors-' + b.id, hidden: true });
      btn.addEventListener('click', () => busy(btn, async () => {
        why.hidden = true; clear(why);
        try {
          await api('POST', `schedules/${encodeURIComponent(q.schedule)}/bulletins/${encodeURIComponent(b.id)}/approve`, { version: b.version });
          notify(t('appr.done', b.title), 'ok');
          li.classList.add('approved');
          li.replaceChildren(h('p', { 'data-test': 'approved-' + b.id }, '✓ ', t('appr.done', b.title)));
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
      li.append(why, h('div', { class: 'row-actions' }, btn));
    }
    return li;
  })));
}
