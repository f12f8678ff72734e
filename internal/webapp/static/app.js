// gridmeter web app: sign-in, the meter list, and a meter view with the last hour of
// readings, a live stream and the meter's commands. A plain ES module with no build step; the only library is
// uPlot (vendor/uplot), loaded before this module as a classic deferred script.
//
// Wire units (see the API): u_* mV, i_* mA, p* mW, q mvar, pf thousandths, f mHz,
// e_imp/e_exp Wh. Times on the wire are RFC 3339 UTC; the page shows local time.

const API = '/api/v1';
const LIST_REFRESH_MS = 10_000;
const WINDOW_S = 3600; // the chart shows the last hour
const MIN_SPAN_S = 120; // ...but starts at the first reading, showing at least two minutes
const STREAM_RETRY_MS = 5_000;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// HTTP

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status; // 0: the request did not reach the head-end
  }
}

// api calls the REST API and returns the decoded JSON body (null for 204). A non-2xx
// answer throws an APIError carrying the server's message from {"error":{"message"}}.
async function api(path, { method = 'GET', body } = {}) {
  // X-Requested-With marks a script's request: the server must not answer it with a
  // Basic-auth challenge, which would open the browser's own password dialog.
  const headers = { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    throw new APIError(0, `cannot reach the head-end (${err.message})`);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const msg = data && data.error && data.error.message ? data.error.message : `${res.status} ${res.statusText}`.trim();
    throw new APIError(res.status, msg);
  }
  return data;
}

// ---------------------------------------------------------------------------
// formatting

const numberFormats = new Map();

// fmt scales an integer wire value by div and prints it with a fixed number of decimals;
// a missing value prints as an em dash.
function fmt(v, div, decimals) {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  let nf = numberFormats.get(decimals);
  if (!nf) {
    nf = new Intl.NumberFormat('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    numberFormats.set(decimals, nf);
  }
  return nf.format(v / div);
}

const pad2 = (n) => String(n).padStart(2, '0');

// fmtClock prints a local time as HH:MM:SS, with the date in front when it is not today.
function fmtClock(d) {
  const hms = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const now = new Date();
  if (d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate()) {
    return hms;
  }
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hms}`;
}

function fmtAge(seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

// rfc3339 prints a time the way the API wants it: UTC, whole seconds.
const rfc3339 = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

// h builds an element: h('a', {class: 'x', href: '#'}, 'text', child, ...).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// selectedFromHash reads the meter id from "#meter=<id>".
function selectedFromHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const id = params.get('meter');
  return id ? id : null;
}

const meterHref = (id) => `#meter=${encodeURIComponent(id)}`;

// ---------------------------------------------------------------------------
// application state

const state = {
  user: null,
  meters: [],
  terminals: new Map(),
  listTimer: null,
  listSeq: 0, // ignores list answers that arrive after a newer request or a logout
  selected: null,
  view: null,
  cameFromList: false, // the meter view was opened by a click, so Back can use history
};

function showBanner(message) {
  const b = $('banner');
  b.textContent = message;
  b.hidden = false;
}

function clearBanner() {
  $('banner').hidden = true;
  $('banner').textContent = '';
}

// ---------------------------------------------------------------------------
// sign-in

function showLogin(message) {
  state.user = null;
  stopApp();
  $('boot').hidden = true;
  $('app-view').hidden = true;
  $('session').hidden = true;
  $('login-view').hidden = false;
  const err = $('login-error');
  err.textContent = message || '';
  err.hidden = !message;
  $('password').value = '';
  document.title = 'Sign in · gridmeter';
  ($('username').value ? $('password') : $('username')).focus();
}

async function onLogin(ev) {
  ev.preventDefault();
  const username = $('username').value.trim();
  const password = $('password').value;
  const err = $('login-error');
  if (!username || !password) {
    err.textContent = 'Enter your username and password.';
    err.hidden = false;
    return;
  }
  const button = $('login-submit');
  button.disabled = true;
  button.textContent = 'Signing in…';
  try {
    const user = await api('/login', { method: 'POST', body: { username, password } });
    err.hidden = true;
    $('password').value = '';
    showApp(user);
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
    $('password').value = '';
    $('password').focus();
  } finally {
    button.disabled = false;
    button.textContent = 'Sign in';
  }
}

async function onLogout() {
  try {
    await api('/logout', { method: 'POST' });
    clearBanner();
  } catch (e) {
    if (e.status !== 401) showBanner(`Log out: ${e.message}`);
  }
  showLogin();
}

// sessionEnded is called when the API answers 401 while the app is open.
function sessionEnded() {
  if (state.user) showLogin('Your session has ended. Sign in again.');
}

// handleError shows an API error; a 401 means the session is gone.
function handleError(e, what) {
  if (e instanceof APIError && e.status === 401) {
    sessionEnded();
    return;
  }
  showBanner(`${what}: ${e.message}`);
}

// ---------------------------------------------------------------------------
// the app shell

function showApp(user) {
  state.user = user;
  $('boot').hidden = true;
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('session').hidden = false;
  $('user-name').textContent = user.name;
  $('user-name').title = user.role ? `${user.name}, role ${user.role}` : user.name;
  $('meter-list').replaceChildren(h('p', { class: 'list-empty' }, 'Loading meters…'));
  state.selected = null;
  route();
  refreshList();
  state.listTimer = setInterval(() => {
    if (!document.hidden) refreshList();
  }, LIST_REFRESH_MS);
}

function stopApp() {
  clearInterval(state.listTimer);
  state.listTimer = null;
  state.listSeq++;
  closeView();
}

// route opens or closes the meter view to match the URL hash.
function route() {
  if (!state.user) return;
  const id = selectedFromHash();
  if (id !== state.selected) {
    closeView();
    state.selected = id;
    if (id) {
      state.view = new MeterView(id);
      state.view.open();
    }
  }
  const open = Boolean(state.selected);
  $('app-view').classList.toggle('has-detail', open);
  $('detail-panel').hidden = !open;
  document.title = open ? `${state.selected} · gridmeter` : 'gridmeter';
  markSelectedRow();
  if (!open) state.cameFromList = false;
}

function closeView() {
  if (state.view) state.view.close();
  state.view = null;
  state.selected = null;
}

function onBack() {
  if (state.cameFromList) {
    history.back();
    return;
  }
  history.replaceState(null, '', location.pathname + location.search);
  route();
}

// ---------------------------------------------------------------------------
// meter list

async function refreshList() {
  const seq = ++state.listSeq;
  try {
    const [m, t] = await Promise.all([api('/meters'), api('/terminals')]);
    if (seq !== state.listSeq) return;
    state.meters = (m && m.meters) || [];
    state.terminals = new Map(((t && t.terminals) || []).map((x) => [x.id, x]));
    renderList();
    clearBanner();
    $('list-updated').textContent = `Updated ${fmtClock(new Date())}`;
  } catch (e) {
    if (seq !== state.listSeq) return;
    handleError(e, 'Meter list');
  }
}

function compareMeters(a, b) {
  return (a.bus || '').localeCompare(b.bus || '') || (a.address || '').localeCompare(b.address || '', undefined, { numeric: true });
}

function renderList() {
  const list = $('meter-list');
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.meterId : undefined;

  // Group meters by terminal; a terminal without meters is shown too.
  const groups = new Map();
  for (const id of [...state.terminals.keys()].sort()) groups.set(id, []);
  for (const m of state.meters) {
    if (!groups.has(m.terminal)) groups.set(m.terminal, []);
    groups.get(m.terminal).push(m);
  }
  const ids = [...groups.keys()].sort();
  if (ids.length === 0) {
    list.replaceChildren(h('p', { class: 'list-empty', 'data-testid': 'list-empty' }, 'No meters are configured yet.'));
    return;
  }

  const out = [];
  for (const tid of ids) {
    const term = state.terminals.get(tid);
    const tstate = term ? term.state : 'unknown';
    const meta = [];
    if (term && term.last_seen) meta.push(`seen ${fmtClock(new Date(term.last_seen))}`);
    if (term && term.seq_gaps) meta.push(`${term.seq_gaps} sequence gap${term.seq_gaps === 1 ? '' : 's'}`);
    if (term && term.conflicts) meta.push(`${term.conflicts} conflict${term.conflicts === 1 ? '' : 's'}`);
    const meters = groups.get(tid).sort(compareMeters);
    out.push(
      h(
        'section',
        { class: 'terminal-group', 'data-testid': 'terminal-group', 'data-terminal-id': tid },
        h(
          'div',
          { class: 'terminal-head' },
          h('h3', {}, `Terminal ${tid}`),
          h('span', { class: `badge ${tstate}`, 'data-testid': 'terminal-state' }, tstate),
          meta.length ? h('span', { class: 'meta' }, meta.join(' · ')) : null,
        ),
        meters.length
          ? h('ul', { class: 'meter-rows' }, ...meters.map((m) => h('li', {}, meterRow(m, tstate))))
          : h('p', { class: 'list-empty' }, 'No meters on this terminal.'),
      ),
    );
  }
  list.replaceChildren(...out);
  markSelectedRow();
  if (focused) {
    const row = list.querySelector(`[data-meter-id="${CSS.escape(focused)}"]`);
    if (row) row.focus();
  }
}

function meterRow(m, terminalState) {
  const v = m.latest && m.latest.values ? m.latest.values : null;
  const when = m.latest && m.latest.time ? new Date(m.latest.time) : null;
  const idEl = h('div', { class: 'meter-id', title: m.id });
  [m.terminal, m.bus, m.address].forEach((part, i) => {
    if (i > 0) idEl.append(h('span', { class: 'sep', 'aria-hidden': 'true' }, '·'));
    idEl.append(h('span', {}, part));
  });
  return h(
    'a',
    {
      class: 'meter-row',
      href: meterHref(m.id),
      'data-testid': 'meter-row',
      'data-meter-id': m.id,
      'data-terminal-state': terminalState,
    },
    idEl,
    h('div', { class: 'meter-desc' }, m.description || m.protocol || ''),
    h(
      'div',
      { class: 'meter-meta' },
      h('span', { class: 'proto' }, m.protocol || '?'),
      when ? h('time', { datetime: m.latest.time, title: m.latest.time }, fmtClock(when)) : h('span', {}, 'no reading yet'),
    ),
    h('div', { class: 'meter-p', 'data-testid': 'row-p' }, v ? fmt(v.p, 1e6, 3) : '—', ' ', h('small', {}, 'kW')),
    h('div', { class: 'meter-u', 'data-testid': 'row-u' }, v ? fmt(v.u_a, 1e3, 1) : '—', ' ', h('small', {}, 'V')),
  );
}

function markSelectedRow() {
  for (const row of document.querySelectorAll('.meter-row')) {
    if (row.dataset.meterId === state.selected) row.setAttribute('aria-current', 'true');
    else row.removeAttribute('aria-current');
  }
}

// ---------------------------------------------------------------------------
// meter view

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

const VALUE_FIELDS = [
  ['p', 1e6, 3],
  ['q', 1e6, 3],
  ['pf', 1e3, 3],
  ['f', 1e3, 2],
  ['e_imp', 1e3, 2],
  ['u_a', 1e3, 1],
  ['u_b', 1e3, 1],
  ['u_c', 1e3, 1],
  ['i_a', 1e3, 3],
  ['i_b', 1e3, 3],
  ['i_c', 1e3, 3],
];

// MeterView owns everything shown for one selected meter: the chart, the live stream and
// the timers. close() releases all of it.
class MeterView {
  constructor(id) {
    this.id = id;
    this.closed = false;
    this.rows = []; // {t (unix s), p (kW), ua, ub, uc (V)}, sorted by t, unique t
    this.latest = null; // newest reading shown in the values table
    this.loaded = false;
    this.chart = null;
    this.es = null;
    this.streamFailed = false;
    this.retryTimer = null;
    this.drawPending = false;
    this.observer = null;
    this.ageTimer = null;
    this.chartWidth = 0;
    this.lastReload = 0;
    this.commands = new CommandsCard(id);
  }

  open() {
    $('meter-title').textContent = this.id;
    $('meter-sub').replaceChildren();
    for (const [name] of VALUE_FIELDS) $(`v-${name}`).textContent = '—';
    const last = $('last-reading');
    last.textContent = '—';
    last.removeAttribute('datetime');
    $('last-age').textContent = '';
    $('quality').hidden = true;
    $('chart-empty').hidden = true;
    $('chart').replaceChildren();
    this.setStream('connecting', null);
    this.ageTimer = setInterval(() => this.updateAge(), 1000);
    this.connect();
    this.loadMeta();
    this.loadHistory();
    this.commands.open();
  }

  close() {
    this.closed = true;
    if (this.es) this.es.close();
    this.es = null;
    clearTimeout(this.retryTimer);
    clearInterval(this.ageTimer);
    if (this.observer) this.observer.disconnect();
    if (this.chart) this.chart.destroy();
    this.chart = null;
    $('chart').replaceChildren();
    $('stream-notice').hidden = true;
    this.commands.close();
  }

  async loadMeta() {
    try {
      const m = await api(`/meters/${encodeURIComponent(this.id)}`);
      if (this.closed) return;
      const term = state.terminals.get(m.terminal);
      const tstate = term ? term.state : null;
      $('meter-sub').replaceChildren(
        h('span', { class: 'proto' }, m.protocol || '?'),
        h('span', {}, m.description || ''),
        tstate ? h('span', { class: `badge ${tstate}`, title: `terminal ${m.terminal}` }, `${m.terminal} ${tstate}`) : null,
      );
      if (m.latest) this.showIfNewer(m.latest);
      this.commands.setMeter(m);
    } catch (e) {
      if (this.closed) return;
      if (e.status === 404 || e.status === 400) {
        this.notice(`This meter is not known to the head-end (${e.message}).`);
        this.commands.hide();
        this.setStream('disconnected', null);
        if (this.es) this.es.close();
        this.es = null;
        return;
      }
      handleError(e, `Meter ${this.id}`);
    }
  }

  async loadHistory() {
    const to = new Date();
    const from = new Date(to.getTime() - WINDOW_S * 1000);
    const q = new URLSearchParams({ kind: 'instant', from: rfc3339(from), to: rfc3339(to) });
    try {
      const r = await api(`/meters/${encodeURIComponent(this.id)}/readings?${q}`);
      if (this.closed) return;
      const readings = (r && r.readings) || [];
      for (const rd of readings) this.insert(rd);
      if (readings.length) this.showIfNewer(readings[readings.length - 1]);
      this.loaded = true;
      this.draw();
    } catch (e) {
      if (this.closed || e.status === 404) return;
      handleError(e, `Readings of ${this.id}`);
    }
  }

  // connect opens the live stream. EventSource reconnects by itself after a dropped
  // connection; when the server refuses the stream (an HTTP error) it gives up, so we
  // check the session and retry ourselves.
  connect() {
    if (this.closed) return;
    const es = new EventSource(`${API}/stream?meter=${encodeURIComponent(this.id)}`);
    this.es = es;
    es.onopen = () => {
      if (this.closed) return;
      this.setStream('live', null);
      if (this.streamFailed) {
        // Readings stored while we were away did not reach us: reload the window.
        this.streamFailed = false;
        this.loadHistory();
      }
    };
    es.addEventListener('reading', (ev) => {
      if (this.closed) return;
      let d;
      try {
        d = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (d.meter !== this.id || d.kind !== 'instant') return;
      const row = this.insert(d);
      if (row === null) return;
      const n = this.rows.length;
      if (this.rows[n - 1] === row && n >= 3 && isGap(this.rows, n - 1)) this.reloadSoon();
      this.showIfNewer(d);
      this.scheduleDraw();
    });
    es.onerror = () => {
      if (this.closed) return;
      this.streamFailed = true;
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        this.es = null;
        this.setStream('disconnected', `Live stream refused by the head-end; retrying in ${STREAM_RETRY_MS / 1000} s.`);
        api('/me').catch((e) => {
          if (e.status === 401) sessionEnded();
        });
        this.retryTimer = setTimeout(() => this.connect(), STREAM_RETRY_MS);
      } else {
        this.setStream('disconnected', 'Live stream disconnected; reconnecting… The chart resumes when the connection is back.');
      }
    };
  }

  setStream(s, message) {
    const pill = $('stream-status');
    pill.dataset.state = s;
    pill.textContent = { live: 'Live', connecting: 'Connecting…', disconnected: 'Disconnected' }[s];
    this.notice(message);
  }

  notice(message) {
    const n = $('stream-notice');
    n.textContent = message || '';
    n.hidden = !message;
  }

  // insert adds a reading to the chart rows, keeping them sorted and unique by time, and
  // returns the row (null for a reading without a valid time).
  insert(rd) {
    const ms = Date.parse(rd.time);
    if (!Number.isFinite(ms)) return null;
    const v = rd.values || {};
    const scale = (x, div) => (typeof x === 'number' ? x / div : null);
    const row = { t: ms / 1000, p: scale(v.p, 1e6), ua: scale(v.u_a, 1e3), ub: scale(v.u_b, 1e3), uc: scale(v.u_c, 1e3) };
    const rows = this.rows;
    if (rows.length === 0 || row.t > rows[rows.length - 1].t) {
      rows.push(row);
    } else {
      let lo = 0;
      let hi = rows.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (rows[mid].t < row.t) lo = mid + 1;
        else hi = mid;
      }
      if (rows[lo] && rows[lo].t === row.t) rows[lo] = row;
      else rows.splice(lo, 0, row);
    }
    return row;
  }

  showIfNewer(rd) {
    if (!this.latest || Date.parse(rd.time) >= Date.parse(this.latest.time)) this.showValues(rd);
  }

  showValues(rd) {
    this.latest = rd;
    const v = rd.values || {};
    for (const [name, div, dec] of VALUE_FIELDS) $(`v-${name}`).textContent = fmt(v[name], div, dec);
    const d = new Date(rd.time);
    const last = $('last-reading');
    last.dateTime = rd.time;
    last.textContent = fmtClock(d);
    last.title = rd.time;
    const q = $('quality');
    const flags = rd.quality || [];
    q.textContent = flags.join(', ');
    q.hidden = flags.length === 0;
    this.updateAge();
  }

  updateAge() {
    if (!this.latest) return;
    $('last-age').textContent = `(${fmtAge((Date.now() - Date.parse(this.latest.time)) / 1000)})`;
  }

  scheduleDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      if (!this.closed) this.draw();
    });
  }

  // reloadSoon reloads the hour after a gap in the live readings: the hub drops readings
  // for a slow client, and the store may have them. At most once every 30 s.
  reloadSoon() {
    const now = Date.now();
    if (this.lastReload && now - this.lastReload < 30_000) return;
    this.lastReload = now;
    setTimeout(() => {
      if (!this.closed) this.loadHistory();
    }, 1000);
  }

  // data turns the rows into uPlot's columns. A missing stretch of readings (see isGap)
  // becomes a break in the lines: the chart never bridges data it does not have.
  data() {
    const cutoff = Date.now() / 1000 - WINDOW_S;
    while (this.rows.length && this.rows[0].t < cutoff) this.rows.shift();
    const rows = this.rows;
    const cols = [[], [], [], [], []];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (i > 0 && isGap(rows, i)) {
        cols[0].push((rows[i - 1].t + r.t) / 2);
        for (let k = 1; k < 5; k++) cols[k].push(null);
      }
      cols[0].push(r.t);
      cols[1].push(r.p);
      cols[2].push(r.ua);
      cols[3].push(r.ub);
      cols[4].push(r.uc);
    }
    return cols;
  }

  chartHeight() {
    return window.matchMedia('(min-width: 600px)').matches ? 300 : 230;
  }

  draw() {
    const data = this.data();
    $('chart-empty').hidden = !(this.loaded && this.rows.length === 0);
    if (this.chart) {
      this.chart.setData(data);
      if (this.chart.cursor.idx == null) this.chart.setLegend({ idx: null });
      return;
    }
    if (typeof window.uPlot !== 'function') {
      this.notice('The chart library did not load; reload the page.');
      return;
    }
    const el = $('chart');
    const width = Math.max(200, Math.floor(el.clientWidth - 8));
    this.chartWidth = width;
    this.chart = new window.uPlot(this.chartOptions(width, this.chartHeight()), data, el);
    this.observer = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0].contentRect.width);
      if (!this.chart || w <= 0 || w === this.chartWidth) return;
      this.chartWidth = w;
      this.chart.setSize({ width: w, height: this.chartHeight() });
    });
    this.observer.observe(el);
  }

  chartOptions(width, height) {
    const muted = cssVar('--muted', '#5a6675');
    const grid = cssVar('--grid', 'rgba(0,0,0,0.08)');
    const power = cssVar('--power', '#1f5fbf');
    const font = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    // The legend shows the values under the cursor, and the newest values otherwise.
    const legendValue = (format) => (u, v, sidx, idx) => {
      if (idx == null) v = lastValue(u.data[sidx]);
      return v == null ? '—' : format(v);
    };
    const axis = { stroke: muted, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 } };
    const line = (label, scale, color, w, format) => ({ label, scale, stroke: color, width: w, value: legendValue(format) });
    const volts = (v) => `${v.toFixed(1)} V`;
    return {
      width,
      height,
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      legend: { live: true },
      scales: {
        x: {
          time: true,
          // The axis ends now and starts at the first reading of the hour, so a young
          // meter's few readings are not squeezed against the right edge.
          range: (u, min, max) => {
            const hi = Math.max(Date.now() / 1000, Number.isFinite(max) ? max : 0);
            const first = this.rows.length ? this.rows[0].t : hi;
            return [Math.max(hi - WINDOW_S, Math.min(first, hi - MIN_SPAN_S)), hi];
          },
        },
        kW: { auto: true },
        V: { auto: true },
      },
      series: [
        { label: 'Time', value: legendValue((ts) => fmtClock(new Date(ts * 1000))) },
        line('P', 'kW', power, 2, (v) => `${v.toFixed(3)} kW`),
        line('U a', 'V', cssVar('--phase-a', '#c79500'), 1.25, volts),
        line('U b', 'V', cssVar('--phase-b', '#1a8a3a'), 1.25, volts),
        line('U c', 'V', cssVar('--phase-c', '#c62828'), 1.25, volts),
      ],
      axes: [
        { ...axis, space: 64, size: 34, values: timeTicks },
        // The power axis takes the colour of the power line; the voltage axis stays neutral.
        { ...axis, stroke: power, scale: 'kW', size: 48, values: (u, splits) => splits.map(trimNum) },
        { ...axis, scale: 'V', side: 1, size: 48, grid: { show: false }, values: (u, splits) => splits.map(trimNum) },
      ],
    };
  }
}

// isGap reports whether readings are missing between rows[i-1] and rows[i]: their spacing
// is more than 2.5 times the larger spacing next to it. Comparing with the neighbours
// rather than one global interval keeps a change of the polling interval from looking
// like a gap.
function isGap(rows, i) {
  const dt = (k) => (k >= 1 && k < rows.length ? rows[k].t - rows[k - 1].t : 0);
  const near = Math.max(dt(i - 1), dt(i + 1));
  return near > 0 && dt(i) > 2.5 * near;
}

// lastValue returns the newest non-null value of a uPlot data column.
function lastValue(col) {
  for (let i = (col ? col.length : 0) - 1; i >= 0; i--) if (col[i] != null) return col[i];
  return null;
}

// timeTicks labels the time axis HH:MM, or HH:MM:SS when ticks are less than a minute apart.
function timeTicks(u, splits) {
  const seconds = splits.length > 1 && splits[1] - splits[0] < 60;
  return splits.map((ts) => {
    const d = new Date(ts * 1000);
    const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    return seconds ? `${hm}:${pad2(d.getSeconds())}` : hm;
  });
}

// trimNum prints an axis tick without float noise (0.30000000000000004 → 0.3).
function trimNum(v) {
  return String(Number.parseFloat(v.toPrecision(6)));
}

// ---------------------------------------------------------------------------
// commands card

const CMD_LIMIT = 10; // commands listed per meter
const CMD_POLL_MS = 1000; // while a listed command is open
// A command sent from the page expires after 2 minutes: an operator at the screen expects it
// now, and a relay must not switch a quarter of an hour later because the terminal was offline.
const CMD_TTL_S = 120;
const CMD_RETRY_MS = 5000; // after a failed list request

// RELAY_OPEN_BIT is bit 4 of run status word 3 (DL/T 645-2007): 1 = relay open, load off.
const RELAY_OPEN_BIT = 16;

// ROLE_RANK orders the API roles; sending commands needs operator or above.
const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };
const roleAllows = (role, need) => (ROLE_RANK[role] || 0) >= ROLE_RANK[need];

// COMMANDS are the card's buttons in their order on screen (two by two on a phone: the
// relay pair on its own row). confirm: the inline second step a relay command needs.
const COMMANDS = [
  { action: 'read_now', label: 'Read now', testid: 'cmd-read-now', modbus: true },
  { action: 'time_sync', label: 'Sync time', testid: 'cmd-time-sync' },
  {
    action: 'relay_open', label: 'Open relay', testid: 'cmd-relay-open', danger: true,
    confirm: { question: 'Open the relay of meter', effect: 'This cuts the customer’s supply.', yes: 'Open relay' },
  },
  {
    action: 'relay_close', label: 'Close relay', testid: 'cmd-relay-close',
    confirm: { question: 'Close the relay of meter', effect: 'This restores the customer’s supply.', yes: 'Close relay' },
  },
];

const ACTION_LABELS = {
  read_now: 'Read now',
  time_sync: 'Sync time',
  relay_open: 'Open relay',
  relay_close: 'Close relay',
  set_param: 'Set parameter',
  freeze: 'Freeze',
};

// STATE_TONES: pending and accepted are still in progress, the rest are final.
const STATE_TONES = { pending: 'busy', accepted: 'busy', succeeded: 'ok', failed: 'bad', rejected: 'bad', expired: 'bad' };
const STATE_LABELS = {
  pending: 'Pending', accepted: 'Accepted', succeeded: 'Succeeded', failed: 'Failed', rejected: 'Rejected', expired: 'Expired',
};
const isOpenCommand = (c) => c.state === 'pending' || c.state === 'accepted';

// READ_NOW_VALUES are the channels a read_now row shows.
const READ_NOW_VALUES = [
  ['p', 'P', 'kW'],
  ['u_a', 'U a', 'V'],
  ['e_imp', 'E imp', 'kWh'],
];

function actionLabel(c) {
  const label = ACTION_LABELS[c.action] || c.action;
  const params = Object.entries(c.params || {});
  if (params.length === 0) return label;
  return `${label} (${params.map(([k, v]) => `${k} ${v}`).join(', ')})`;
}

// fmtValue formats a channel the way the values card does (VALUE_FIELDS).
function fmtValue(name, v) {
  const f = VALUE_FIELDS.find(([n]) => n === name);
  return f ? fmt(v, f[1], f[2]) : fmt(v, 1, 0);
}

// relayOpen decodes the relay state from a relay command's result, or null.
function relayOpen(result) {
  return result && typeof result.status3 === 'number' ? (result.status3 & RELAY_OPEN_BIT) !== 0 : null;
}

// commandResult renders what a command brought back: the main values of read_now, the
// relay state read back after a relay command, the clock drift corrected by time_sync.
function commandResult(c) {
  const r = c.result;
  if (!r || Object.keys(r).length === 0) return null;
  const box = (...children) => h('div', { class: 'cmd-result', 'data-testid': 'cmd-result' }, ...children);
  switch (c.action) {
    case 'read_now': {
      const shown = READ_NOW_VALUES.filter(([name]) => typeof r[name] === 'number');
      if (shown.length === 0) return null;
      return box(...shown.map(([name, label, unit]) => h(
        'span',
        { class: 'cmd-value' },
        h('span', { class: 'muted' }, label),
        ' ',
        h('span', { class: 'num', 'data-testid': `cmd-value-${name}` }, fmtValue(name, r[name])),
        ' ',
        h('small', {}, unit),
      )));
    }
    case 'relay_open':
    case 'relay_close': {
      const open = relayOpen(r);
      if (open === null) break;
      return box(
        h('span', { class: `relay ${open ? 'open' : 'closed'}`, 'data-testid': 'cmd-relay-state', 'data-relay': open ? 'open' : 'closed' },
          open ? 'Relay open' : 'Relay closed'),
        h('span', { class: 'muted small' }, `status word 3: 0x${r.status3.toString(16).padStart(4, '0')}`),
      );
    }
    case 'time_sync': {
      if (typeof r.drift_ms !== 'number') break;
      const s = fmt(r.drift_ms, 1e3, 1);
      return box(h('span', {}, 'Clock drift before sync ', h('span', { class: 'num', 'data-testid': 'cmd-drift' }, r.drift_ms > 0 ? `+${s}` : s), ' ', h('small', {}, 's')));
    }
    default:
      break;
  }
  return box(h('span', { class: 'muted small' }, Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ')));
}

// describeCommand is the sentence the live region announces when a command changes state.
function describeCommand(c) {
  let s = `${actionLabel(c)}: ${(STATE_LABELS[c.state] || c.state).toLowerCase()}`;
  if (c.reason) s += ` (${c.reason})`;
  const open = c.action === 'relay_open' || c.action === 'relay_close' ? relayOpen(c.result) : null;
  if (open !== null) s += open ? ', relay open' : ', relay closed';
  return `${s}.`;
}

function commandRow(c) {
  const issued = new Date(c.issued);
  const when = Number.isFinite(issued.getTime())
    ? h('time', { datetime: c.issued, title: c.issued }, fmtClock(issued))
    : h('span', {}, '—');
  let reason = c.reason;
  if (!reason && c.state === 'expired') reason = 'not run before it expired';
  return h(
    'li',
    { class: 'cmd-row', 'data-testid': 'cmd-row', 'data-command-id': c.id, 'data-action': c.action, 'data-state': c.state },
    h(
      'div',
      { class: 'cmd-head' },
      h('span', { class: 'cmd-action' }, actionLabel(c)),
      h('span', { class: 'pill cmd-state', 'data-tone': STATE_TONES[c.state] || 'busy', 'data-testid': 'cmd-state' }, STATE_LABELS[c.state] || c.state),
    ),
    h('div', { class: 'cmd-meta' }, 'Issued ', when, c.issued_by ? ` by ${c.issued_by}` : ''),
    commandResult(c),
    reason ? h('p', { class: 'cmd-reason', 'data-testid': 'cmd-reason' }, reason) : null,
  );
}

// CommandsCard is the meter view's "Commands" card: buttons that send commands (for
// operators and admins; relay commands take a second, confirming tap) and the meter's
// recent commands, polled every second while one of them is still open. close() stops
// the polling and drops the card's event listeners.
class CommandsCard {
  constructor(meterId) {
    this.id = meterId;
    this.closed = false;
    this.meter = null; // the meter as GET /meters/{id} gave it; null until loaded
    this.commands = null; // newest first, as listed by the API; null until loaded
    this.shown = ''; // JSON of the rendered list, to skip needless re-renders
    this.states = new Map(); // command id → state last seen, to announce changes
    this.seq = 0; // ignores list answers that arrive after a newer request or a send
    this.timer = null;
    this.sending = false;
    this.confirming = null; // the COMMANDS entry waiting for its second tap
    this.error = null; // the banner text this card put up
    this.events = new AbortController();
  }

  open() {
    $('commands-card').hidden = false;
    $('cmd-actions').hidden = true;
    $('cmd-actions').replaceChildren();
    $('cmd-hint').hidden = true;
    $('cmd-confirm').hidden = true;
    $('cmd-live').textContent = '';
    $('cmd-list').replaceChildren();
    const empty = $('cmd-empty');
    empty.textContent = 'Loading commands…';
    empty.hidden = false;
    const opt = { signal: this.events.signal };
    $('cmd-actions').addEventListener('click', (ev) => this.onAction(ev), opt);
    $('cmd-confirm-yes').addEventListener('click', () => this.onConfirm(), opt);
    $('cmd-confirm-no').addEventListener('click', () => this.cancelConfirm(true), opt);
    $('cmd-confirm').addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') this.cancelConfirm(true);
    }, opt);
    this.load();
  }

  close() {
    this.closed = true;
    this.seq++;
    clearTimeout(this.timer);
    this.timer = null;
    this.events.abort();
    this.confirming = null;
    $('cmd-confirm').hidden = true;
  }

  // hide hides the whole card: the meter is not known to the head-end.
  hide() {
    this.close();
    $('commands-card').hidden = true;
  }

  // setMeter shows the buttons this user may use on this meter: none for a viewer, and
  // only Read now on a Modbus meter.
  setMeter(m) {
    if (this.closed) return;
    this.meter = m;
    const box = $('cmd-actions');
    const hint = $('cmd-hint');
    const role = state.user ? state.user.role : '';
    if (!roleAllows(role, 'operator')) {
      box.hidden = true;
      box.replaceChildren();
      hint.textContent = `Sending commands needs the operator role (you are ${role || 'signed in without a role'}).`;
      hint.hidden = false;
      return;
    }
    const modbus = m.protocol === 'modbus';
    hint.textContent = modbus ? 'Modbus meters take Read now only.' : '';
    hint.hidden = !modbus;
    box.replaceChildren(...COMMANDS.filter((c) => c.modbus || !modbus).map((c) => h(
      'button',
      {
        type: 'button',
        class: c.danger ? 'btn btn-danger-ghost' : 'btn btn-ghost',
        'data-action': c.action,
        'data-testid': c.testid,
        'aria-controls': c.confirm ? 'cmd-confirm' : null,
        'aria-expanded': c.confirm ? 'false' : null,
      },
      c.label,
    )));
    box.hidden = false;
    this.updateButtons();
  }

  // updateButtons marks the buttons unusable while a command is being sent, and a
  // button whose action is still open on this meter (no second relay trip by a double
  // tap). aria-disabled, not disabled: a focused button keeps its focus.
  updateButtons() {
    const open = new Set((this.commands || []).filter(isOpenCommand).map((c) => c.action));
    for (const b of $('cmd-actions').querySelectorAll('button[data-action]')) {
      const busy = open.has(b.dataset.action);
      if (this.sending || busy) b.setAttribute('aria-disabled', 'true');
      else b.removeAttribute('aria-disabled');
      b.title = busy ? `${ACTION_LABELS[b.dataset.action]} is still in progress` : '';
      if (b.dataset.action === (this.confirming && this.confirming.action)) b.setAttribute('aria-expanded', 'true');
      else if (b.hasAttribute('aria-expanded')) b.setAttribute('aria-expanded', 'false');
    }
  }

  onAction(ev) {
    const b = ev.target.closest('button[data-action]');
    if (!b || b.getAttribute('aria-disabled') === 'true') return;
    const c = COMMANDS.find((x) => x.action === b.dataset.action);
    if (!c) return;
    if (c.confirm) {
      this.askConfirm(c);
      return;
    }
    this.cancelConfirm(false);
    this.send(c);
  }

  // askConfirm shows the second step below the buttons, away from the button tapped,
  // so that a double tap cannot confirm; focus goes to Cancel for the same reason.
  askConfirm(c) {
    this.confirming = c;
    const desc = this.meter && this.meter.description ? ` (${this.meter.description})` : '';
    $('cmd-confirm-text').textContent = `${c.confirm.question} ${this.id}${desc}? ${c.confirm.effect}`;
    const yes = $('cmd-confirm-yes');
    yes.textContent = c.confirm.yes;
    yes.className = c.danger ? 'btn btn-danger' : 'btn btn-primary';
    const panel = $('cmd-confirm');
    panel.dataset.action = c.action;
    panel.hidden = false;
    this.updateButtons();
    $('cmd-confirm-no').focus();
  }

  cancelConfirm(restoreFocus) {
    const c = this.confirming;
    this.confirming = null;
    $('cmd-confirm').hidden = true;
    this.updateButtons();
    if (restoreFocus && c) {
      const b = $('cmd-actions').querySelector(`[data-action="${c.action}"]`);
      if (b) b.focus();
    }
  }

  onConfirm() {
    const c = this.confirming;
    if (!c) return;
    this.cancelConfirm(true);
    this.send(c);
  }

  async send(c) {
    if (this.sending || this.closed) return;
    this.sending = true;
    this.updateButtons();
    try {
      const cmd = await api(`/meters/${encodeURIComponent(this.id)}/commands`, { method: 'POST', body: { action: c.action, ttl_s: CMD_TTL_S } });
      if (this.closed) return;
      this.seq++; // a list requested before the send must not hide the new command
      this.states.set(cmd.id, cmd.state);
      this.show([cmd, ...(this.commands || []).filter((x) => x.id !== cmd.id)].slice(0, CMD_LIMIT));
      this.announce(`${c.label} sent: ${(STATE_LABELS[cmd.state] || cmd.state).toLowerCase()}.`);
      this.schedule(CMD_POLL_MS);
    } catch (e) {
      if (this.closed) return;
      this.announce(`${c.label} was not sent: ${e.message}`);
      handleError(e, `${c.label} on ${this.id}`);
    } finally {
      this.sending = false;
      if (!this.closed) this.updateButtons();
    }
  }

  // load fetches the meter's recent commands, and polls again while one is open.
  async load() {
    clearTimeout(this.timer);
    this.timer = null;
    const seq = ++this.seq;
    const q = new URLSearchParams({ meter: this.id, limit: String(CMD_LIMIT) });
    try {
      const r = await api(`/commands?${q}`);
      if (this.closed || seq !== this.seq) return;
      const list = (r && r.commands) || [];
      const changed = [];
      for (const c of list) {
        const before = this.states.get(c.id);
        if (before !== undefined && before !== c.state) changed.push(describeCommand(c));
        this.states.set(c.id, c.state);
      }
      this.show(list);
      if (changed.length) this.announce(changed.join(' '));
      if (this.error !== null && $('banner').textContent === this.error) clearBanner();
      this.error = null;
      if (list.some(isOpenCommand)) this.schedule(CMD_POLL_MS);
    } catch (e) {
      if (this.closed || seq !== this.seq) return;
      if (e.status === 400) return; // a malformed meter id: the meter view says so
      handleError(e, 'Commands');
      if (this.closed) return; // a 401 closed the view
      this.error = $('banner').textContent;
      if (this.commands === null) $('cmd-empty').textContent = 'The commands could not be loaded; retrying.';
      if (this.commands === null || this.commands.some(isOpenCommand)) this.schedule(CMD_RETRY_MS);
    }
  }

  // schedule loads the list again after ms; while the page is hidden it waits.
  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.closed) return;
      if (document.hidden) this.schedule(ms);
      else this.load();
    }, ms);
  }

  show(list) {
    this.commands = list;
    const sig = JSON.stringify(list);
    if (sig !== this.shown) {
      this.shown = sig;
      $('cmd-list').replaceChildren(...list.map(commandRow));
      const empty = $('cmd-empty');
      empty.textContent = 'No commands sent to this meter yet.';
      empty.hidden = list.length > 0;
    }
    this.updateButtons();
  }

  announce(message) {
    $('cmd-live').textContent = message;
  }
}

// ---------------------------------------------------------------------------
// start

async function boot() {
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  $('back').addEventListener('click', onBack);
  $('meter-list').addEventListener('click', (ev) => {
    const row = ev.target.closest('.meter-row');
    if (row && !ev.metaKey && !ev.ctrlKey && !ev.shiftKey) state.cameFromList = true;
  });
  window.addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.user) refreshList();
  });

  try {
    showApp(await api('/me'));
  } catch (e) {
    showLogin(e.status === 401 ? '' : e.message);
  }
}

boot();
