// Bulletin helpers shared by the programme and the approval queue.
import { t, lang } from './i18n.js';
import { fmtDay } from './ui.js';
import { cronText, placeList } from './names.js';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

// describe says in words when a bulletin airs.
export function describeRecurrence(r = {}) {
  const times = (r.times || []).join(', ');
  const days = (r.weekdays || []).map((d) => t('wd.' + d)).join(', ');
  switch (r.kind) {
    case 'once': return t('rec.onceAt', r.date ? fmtDay(r.date) : '?', times);
    case 'daily': return t('rec.dailyAt', times);
    case 'weekly': return t('rec.weeklyAt', days, times);
    case 'every': return t('rec.everyAt', r.weeks || '?', days, times);
    case 'cron': return cronText(r.cron) || t('rec.cronAt', r.cron || '');
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
// nothing to them), says in Vietnamese the messages whose wording is known
// (orig keeps the server's own), and guesses which part of the form it is
// about.
export function friendlyError(line) {
  const msg = String(line).replace(/^[^:\s]+:\d+:\s*/, '').replace(/\s*\([^()\s]+\.radio:\d+\)/g, '');
  const l = msg.toLowerCase();
  let fieldKey = 'general';
  if (/overlap|clash|same time|at the same/.test(l)) fieldKey = 'time';
  else if (/title/.test(l)) fieldKey = 'title';
  else if (/source|media|recording|sha256|speech/.test(l)) fieldKey = 'source';
  else if (/target|zone|node|commune/.test(l)) fieldKey = 'target';
  else if (/priority/.test(l)) fieldKey = 'priority';
  else if (/cron|weekday|weeks|daily|weekly|once|time|date|every/.test(l)) fieldKey = 'time';
  else if (/from|until|except/.test(l)) fieldKey = 'range';
  else if (/repeat|gap|duration/.test(l)) fieldKey = 'repeat';
  const ov = OVERLAP.exec(msg);
  return { field: fieldKey, text: lang() === 'en' ? msg : translateScheduleError(msg), orig: msg,
    key: ov ? `overlap ${ov[1]} ${ov[4]} ${ov[3]} ${ov[5]} ${ov[6]}` : msg };
}

// friendlyErrors is friendlyError for a list, where the same clash on
// every day of five weeks says it once, with how many more days it has.
export function friendlyErrors(lines) {
  const out = [], seen = new Map();
  for (const x of (lines || []).map(friendlyError)) {
    const first = seen.get(x.key);
    if (first) { first.more++; continue; }
    const y = { ...x, more: 0 };
    seen.set(x.key, y); out.push(y);
  }
  for (const y of out) if (y.more) y.text += ' ' + t('se.more', y.more);
  return out;
}

// The server's sentences for a bulletin that would clash with an approved
// one, or whose one-off time has passed (controller/internal/api
// bulletins.go); any other is left as the server wrote it.
const CLASH = /^at (\S+ \S+) it would play at the same time as "((?:[^"\\]|\\.)*)" \(([^)]*)\), on the same speakers \((.*)\) and with the same priority/;
const PASSED = /^its time, (.+?) \(Vietnam time\), has already passed(?:: (.*))?$/;
// The full check of a programme: "a" at 2026-12-02 11:00:00-11:00:03
// overlaps "b" at 11:00:00-11:00:03 on zone z-center; both are normal: ...
const OVERLAP = /^"((?:[^"\\]|\\.)*)" at (\d{4}-\d\d-\d\d) (\d\d:\d\d)(?::\d\d)?\S* overlaps "((?:[^"\\]|\\.)*)" at (\d\d:\d\d)(?::\d\d)?\S* on (.+?); both are (\w+)/;
function translateScheduleError(msg) {
  const o = OVERLAP.exec(msg);
  if (o) return t('se.overlap', fmtDay(o[2]), o[3], o[1], o[4], o[5], placeList(o[6]), t('prio.' + o[7]));
  let m = CLASH.exec(msg);
  if (m) return t('se.clash', m[1], m[2].replace(/\\(.)/g, '$1'), m[3], placeList(m[4]));
  m = PASSED.exec(msg);
  if (m) {
    const rest = m[2] || '';
    return t('se.passed', m[1]) + ' ' + (/approved/.test(rest) ? t('se.passedApprove') : t('se.passedChoose'));
  }
  return msg;
}

// normTime reads a time as people type it — "6:30", "0630", "630", "6h30",
// "6h", "06.30", "06:30:15" — and writes it as the API wants it ("06:30",
// "06:30:15"); null when it is no time of day.
export function normTime(s) {
  const x = String(s).trim().toLowerCase();
  let m = /^(\d{1,2})\s*[:h.g]\s*(\d{2})(?:\s*[:.m]\s*(\d{2}))?\s*[p']?$/.exec(x) ||
    /^(\d{1,2})\s*[hg]$/.exec(x);
  if (!m && /^\d{3,4}$/.test(x)) m = [x, x.slice(0, -2), x.slice(-2)];
  if (!m && /^\d{6}$/.test(x)) m = [x, x.slice(0, 2), x.slice(2, 4), x.slice(4)];
  if (!m) return null;
  const [hh, mm, ss] = [Number(m[1]), Number(m[2] || 0), m[3] === undefined ? null : Number(m[3])];
  if (hh > 23 || mm > 59 || (ss !== null && ss > 59)) return null;
  const p = (n) => String(n).padStart(2, '0');
  return `${p(hh)}:${p(mm)}` + (ss === null ? '' : ':' + p(ss));
}
