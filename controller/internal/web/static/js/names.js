// People read names, not ids: pages remember the names of the zones,
// clusters, stations and recordings they load, and text from the server
// that names them by id ("zone z-demo", a sha256, a command id) is said
// with those names. The ids stay available as tooltips.
import { t } from './i18n.js';
import { fmtDay } from './ui.js';

const known = { zone: new Map(), node: new Map(), station: new Map(), media: new Map() };

// remember keeps the names of a list the API gave (objects with id or
// sha256, and name).
export function remember(kind, list) {
  for (const x of list || []) {
    const id = x.id || x.sha256;
    if (id && x.name) known[kind].set(id, x.name);
  }
}

export function nameOf(kind, id) { return known[kind].get(id) || ''; }

const SHA = /^[0-9a-f]{64}$/;
const COMMAND = /^c-[A-Za-z0-9_-]{6,}$/;

// place says a target in words: "zone:z-demo" or "zone z-demo" → "vùng
// Trung tâm" (the id itself when its name is not known).
export function place(kind, id) {
  const name = nameOf(kind, id);
  return t('name.' + kind, name ? '“' + name + '”' : id);
}

// placeList says "zone z-a, node n-1" (the server's list of speakers) in words.
export function placeList(s) {
  return String(s).split(/,\s*/).map((p) => {
    const m = /^(zone|node)[: ](\S+)$/.exec(p.trim());
    return m ? place(m[1], m[2]) : p;
  }).join(', ');
}

// humanize says a line of an audit record in words: recordings by name,
// targets by name, command ids left out (they are in the tooltip).
export function humanize(text) {
  if (!text) return '';
  return String(text).split(/(\s+)/).map((w) => {
    const bare = w.replace(/[;,]$/, ''), tail = w.slice(bare.length);
    if (SHA.test(bare)) return (nameOf('media', bare) ? '“' + nameOf('media', bare) + '”' : t('name.recording')) + tail;
    if (COMMAND.test(bare)) return '';
    const m = /^(zone|node):(\S+)$/.exec(bare);
    if (m) return place(m[1], m[2]) + tail;
    // "st-1/tin-sang": a bulletin of a programme (named after its station)
    const b = /^([a-z0-9][a-z0-9_.-]*)\/([A-Za-z0-9_-]+)$/.exec(bare);
    if (b && nameOf('station', b[1])) return t('name.bulletin', b[2], nameOf('station', b[1])) + tail;
    if (nameOf('station', bare)) return place('station', bare) + tail;
    return w;
  }).join('').replace(/\s+/g, ' ').trim();
}

// occurrence says a scheduled occurrence's id ("ban-tin-sang-20261207-063000")
// as its time: "lượt 06:30 ngày 07/12/2026".
export function occurrence(id) {
  const m = /-(\d{4})(\d\d)(\d\d)-(\d\d)(\d\d)(\d\d)$/.exec(id || '');
  if (!m) return '';
  return t('name.occurrence', `${m[4]}:${m[5]}`, fmtDay(`${m[1]}-${m[2]}-${m[3]}`));
}

// cronText says the common cron lines ("sec min hour day month weekday") in
// words; '' for one it cannot (the caller then shows the line itself).
export function cronText(cron) {
  const f = String(cron || '').trim().split(/\s+/);
  if (f.length !== 6) return '';
  const [sec, min, hour, dom, mon, dow] = f;
  const num = (s) => /^\d+$/.test(s);
  const list = (s) => /^\d+(,\d+)*$/.test(s);
  if (!num(sec) || !num(min) || !list(hour) || mon !== '*') return '';
  const p = (n) => String(n).padStart(2, '0');
  const times = hour.split(',').map((h) => `${p(h)}:${p(min)}` + (Number(sec) ? ':' + p(sec) : '')).join(', ');
  const WD = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const days = (s) => {
    const out = [];
    for (const part of s.split(',')) {
      const r = /^(\d)(?:-(\d))?$/.exec(part);
      if (!r) return null;
      for (let d = Number(r[1]); d <= Number(r[2] ?? r[1]); d++) out.push(t('wd.' + WD[d]));
    }
    return out.join(', ');
  };
  if (dom === '*' && dow === '*') return t('rec.dailyAt', times);
  if (dom === '*' && days(dow)) return t('rec.weeklyAt', days(dow), times);
  if (list(dom) && dow === '*') return t('name.monthly', dom.split(',').join(', '), times);
  return '';
}
