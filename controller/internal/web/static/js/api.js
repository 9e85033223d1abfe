// The one way the app talks to the controller: api() sends the session
// cookie, the CSRF token on every change, and turns error answers into an
// ApiError whose message says, in the officer's language, what to do.
import { t } from './i18n.js';

export const session = { user: null, csrf: '' };

// Who may do what (the server checks again; this only hides buttons).
export const can = {
  change: () => ['officer', 'leader', 'admin'].includes(session.user?.role),
  approve: () => ['leader', 'admin'].includes(session.user?.role),
  admin: () => session.user?.role === 'admin',
  // emergency warnings: provincial staff too, within their province
  warn: () => ['officer', 'leader', 'province', 'admin'].includes(session.user?.role),
};

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const code = body?.code || (status === 0 ? 'network' : 'http');
    super(body?.error || '');
    this.status = status;
    this.code = code;
    this.detail = body?.error || '';
    this.errors = Array.isArray(body?.errors) ? body.errors : [];
    this.body = body || {}; // the whole answer (a refused delete's "uses", say)
    this.retryAfter = Number(body?.retry_after ?? retryAfter) || 0;
  }
  // known: the app has a sentence of its own for this code.
  get known() { return t('err.' + this.code) !== 'err.' + this.code; }
  // advice is the sentence telling the officer what to do about it.
  get advice() {
    if (this.code === 'rate_limited') return t('err.rate_limited', this.retryAfter ? waitText(this.retryAfter) : t('common.aMoment'));
    return this.known ? t('err.' + this.code) : t('err.http', this.status);
  }
  // As text: the advice alone when the app knows the code (the server's
  // English detail goes behind "Chi tiết", see errorView in ui.js), with the
  // detail when it does not, since then the detail is all there is.
  toString() { return !this.known && this.detail && this.detail !== this.advice ? `${this.advice} (${this.detail})` : this.advice; }
}

export function waitText(seconds) {
  if (seconds < 90) return t('common.seconds', Math.ceil(seconds));
  return t('common.minutes', Math.ceil(seconds / 60));
}

// onUnauthorized is called when the session is gone (set by the app).
let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) { onUnauthorized = f; }

function parse(status, text, retryAfter, path) {
  let body = null;
  if (text) { try { body = JSON.parse(text); } catch { body = null; } }
  if (status >= 200 && status < 300) return body ?? text;
  const err = new ApiError(status, body || { error: status ? (text || '').slice(0, 200) : '' }, retryAfter);
  if (err.code === 'unauthorized' && path !== '/api/v1/login') {
    session.user = null;
    onUnauthorized();
  }
  throw err;
}

// api(method, path, body?, {onProgress?, query?}). A FormData body is sent as
// multipart; with onProgress the request goes through XMLHttpRequest so the
// upload's progress can be shown (fetch has no upload progress).
export function api(method, path, body, opts = {}) {
  let url = path.startsWith('/') ? path : '/api/v1/' + path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    if ([...q].length) url += '?' + q;
  }
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (opts.onProgress) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open(method, url);
      x.withCredentials = true;
      for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
      x.upload.onprogress = (e) => opts.onProgress({ phase: 'upload', loaded: e.loaded, total: e.lengthComputable ? e.total : 0 });
      x.upload.onload = () => opts.onProgress({ phase: 'processing' });
      // A streamed answer (?progress=1, application/x-ndjson): lines of the
      // server's progress, then {"status", "body"}: the real answer.
      const streamed = () => (x.getResponseHeader('Content-Type') || '').startsWith('application/x-ndjson');
      const lines = () => x.responseText.split('\n').filter((l) => l.trim()).map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter(Boolean);
      x.onprogress = () => {
        if (!streamed()) return;
        const p = lines().filter((l) => l.progress).pop();
        if (p) opts.onProgress({ phase: 'processing', stage: p.progress.stage, done: p.progress.done });
      };
      x.onload = () => {
        try {
          if (streamed()) {
            const end = lines().find((l) => l.status);
            resolve(parse(end ? end.status : 0, end ? JSON.stringify(end.body) : '', null, path));
          } else resolve(parse(x.status, x.responseText, x.getResponseHeader('Retry-After'), path));
        } catch (e) { reject(e); }
      };
      x.onerror = () => reject(new ApiError(0, null));
      x.send(payload);
    });
  }
  return fetch(url, { method, headers, body: payload, credentials: 'same-origin' })
    .catch(() => { throw new ApiError(0, null); })
    .then(async (r) => parse(r.status, await r.text(), r.headers.get('Retry-After'), path));
}

// loadSession asks who is logged in; false when nobody is.
export async function loadSession() {
  try {
    const me = await api('GET', '/api/v1/me');
    session.user = me.user;
    session.csrf = me.csrf;
    return true;
  } catch (e) {
    if (e.code === 'unauthorized') return false;
    throw e;
  }
}

export async function login(username, password) {
  const r = await api('POST', '/api/v1/login', { username, password });
  session.user = r.user;
  session.csrf = r.csrf;
}

export async function logout() {
  try { await api('POST', '/api/v1/logout', {}); } finally { session.user = null; session.csrf = ''; }
}
