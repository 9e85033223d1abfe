// Bulletin helpers shared by the programme and the approval queue.
import { t } from './i18n.js';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

// describe says in words when a bulletin airs.
export function describeRecurrence(r = {}) {
  const times = (r.times || []).join(', ');
  const days = (r.weekdays || []).map((d) => t('wd.' + d)).join(', ');
  switch (r.kind) {
    case 'once': return t('rec.onceAt', r.date || '?', times);
    case 'daily': return t('rec.dailyAt', times);
    case 'weekly': return t('rec.weeklyAt', days, times);
    case 'every': return t('rec.everyAt', r.weeks || '?', days, times);
    case 'cron': return t('rec.cronAt', r.cron || '');
    default: return '—';
  }
}

export function describeTarget(tg = {}, names = {}) {
  if (tg.kind === 'commune') return t('target.commune');
  const ids = (tg.ids || []).map((id) => names[id] || id).join(', ');
  return (tg.kind === 'zone' ? t('target.zone') : t('target.nodes')) + ': ' + ids;
}

// slug makes a bulletin id from a title: "Bản tin sáng" -> "ban-tin-sang".
export function slug(title) {
  const base = title.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, 'd').toLowerCase()
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  return base || 'ban-tin';
}

// friendlyError turns one of the server's "file:line: message" lines into
// the message alone (the line of a file the officer never saw means
// nothing to them) and guesses which part of the form it is about.
export function friendlyError(line) {
  const msg = String(line).replace(/^[^:\s]+:\d+:\s*/, '');
  const l = msg.toLowerCase();
  let fieldKey = 'general';
  if (/overlap|clash|same time|at the same/.test(l)) fieldKey = 'time';
  else if (/title/.test(l)) fieldKey = 'title';
  else if (/source|media|recording|sha256/.test(l)) fieldKey = 'source';
  else if (/target|zone|node|commune/.test(l)) fieldKey = 'target';
  else if (/priority/.test(l)) fieldKey = 'priority';
  else if (/cron|weekday|weeks|daily|weekly|once|time|date|every/.test(l)) fieldKey = 'time';
  else if (/from|until|except/.test(l)) fieldKey = 'range';
  else if (/repeat|gap|duration/.test(l)) fieldKey = 'repeat';
  return { field: fieldKey, text: msg };
}
