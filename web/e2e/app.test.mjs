// End-to-end tests of the gridmeter web app in a real browser: Debian's Chromium driven by
// playwright-core against the real demo (bin/gridmeter-demo: head-end, embedded broker,
// simulated terminals and meters). Nothing is built or downloaded here: the Makefile builds
// the demo, scripts/web-test-setup.sh installs Chromium and web/node_modules.
//
// Run from the repository root:  make web-test   or   (cd web && npm test)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, constants, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const demoBin = path.join(repo, 'bin', 'gridmeter-demo');
const resultsDir = path.join(repo, 'web', 'test-results');

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const TERMINALS = 2;
const METERS_PER_TERMINAL = 3; // DL/T 645 meters on bus1
const MODBUS_PER_TERMINAL = 1; // Modbus TCP meters on bus2
const METERS = TERMINALS * (METERS_PER_TERMINAL + MODBUS_PER_TERMINAL);

const DEMO_START_TIMEOUT = 60_000;
const DEMO_STOP_TIMEOUT = 10_000;
const UI_TIMEOUT = 10_000; // a page element appears
const METERS_TIMEOUT = 30_000; // all meters listed (the list refreshes every 10 s)
const LIVE_TIMEOUT = 15_000; // the live stream delivers a new reading
const TEST_TIMEOUT = 90_000;
const COMMAND_TIMEOUT = 10_000; // a command reaches its final state (it pre-empts the polls)

// ---------------------------------------------------------------------------
// helpers

// within runs a Playwright wait and replaces its timeout error with a clear message.
async function within(what, ms, fn) {
  try {
    return await fn(ms);
  } catch (err) {
    throw new Error(`timed out after ${ms / 1000} s waiting for ${what}: ${err.message.split('\n')[0]}`);
  }
}

const tid = (id) => `[data-testid="${id}"]`;

// startDemo starts bin/gridmeter-demo on free ports in a temporary directory and resolves
// when it prints its web address and login.
async function startDemo() {
  try {
    await access(demoBin, constants.X_OK);
  } catch {
    throw new Error(`${demoBin} is missing: build it first (go build -o bin/gridmeter-demo ./cmd/gridmeter-demo, or make web-test)`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'gridmeter-web-e2e-'));
  const args = ['-dir', dir, '-http', '127.0.0.1:0', '-mqtt', '127.0.0.1:0', '-interval', '1s',
    '-terminals', String(TERMINALS), '-meters', String(METERS_PER_TERMINAL),
    '-modbus-meters', String(MODBUS_PER_TERMINAL)];
  const child = spawn(demoBin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const demo = { child, dir, url: null, user: null, password: null, output: '', exited: null };
  const keep = (chunk) => {
    demo.output += chunk;
    if (demo.output.length > 64_000) demo.output = demo.output.slice(-32_000);
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', keep);
  child.stdout.setEncoding('utf8');
  // Should this test process die without running its after hook, take the demo along.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    process.off('exit', killOnExit);
    resolve({ code, signal });
  }));
  exited.then((how) => { demo.exited = how; });
  demo.exitedPromise = exited;

  const ready = new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      buf += chunk;
      const web = buf.match(/^\s*web:\s*(http:\/\/\S+?)\/?\s*$/m);
      const login = buf.match(/^\s*login:\s*(\S+)\s*\/\s*(\S+)\s*$/m);
      if (web && login) {
        demo.url = web[1];
        demo.user = login[1];
        demo.password = login[2];
        resolve();
      }
    });
    child.on('error', (err) => reject(new Error(`start ${demoBin}: ${err.message}`)));
    exited.then(({ code, signal }) => reject(new Error(`gridmeter-demo exited (code ${code}, signal ${signal}) before it was ready; output:\n${demo.output}`)));
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gridmeter-demo printed no "web:" and "login:" lines within ${DEMO_START_TIMEOUT / 1000} s; output:\n${demo.output}`)), DEMO_START_TIMEOUT);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    await stopDemo(demo);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return demo;
}

// stopDemo sends SIGINT, waits for a clean exit, and sends SIGKILL after a timeout.
async function stopDemo(demo) {
  if (!demo) return;
  if (!demo.exited) {
    demo.child.kill('SIGINT');
    let timer;
    const timedOut = await Promise.race([
      demo.exitedPromise.then(() => false),
      new Promise((resolve) => { timer = setTimeout(() => resolve(true), DEMO_STOP_TIMEOUT); }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      demo.child.kill('SIGKILL');
      await demo.exitedPromise;
      console.error(`gridmeter-demo did not stop within ${DEMO_STOP_TIMEOUT / 1000} s of SIGINT; killed`);
    } else if (demo.exited && demo.exited.code !== 0) {
      console.error(`gridmeter-demo exited with code ${demo.exited.code} (signal ${demo.exited.signal}) after SIGINT; output:\n${demo.output.slice(-4000)}`);
    }
  }
  await rm(demo.dir, { recursive: true, force: true });
}

// watch collects uncaught page errors and CSP violations; the tests fail on any.
function watch(page, problems) {
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
}

async function login(page, demo) {
  await within('the login form', UI_TIMEOUT, (timeout) => page.locator(tid('login-form')).waitFor({ state: 'visible', timeout }));
  await page.locator(tid('login-username')).fill(demo.user);
  await page.locator(tid('login-password')).fill(demo.password);
  await page.locator(tid('login-submit')).click();
  await within('the meter list after login', UI_TIMEOUT, (timeout) => page.locator(tid('meter-list')).waitFor({ state: 'visible', timeout }));
}

async function waitForMeters(page, n) {
  await within(`${n} meter rows`, METERS_TIMEOUT, (timeout) =>
    page.waitForFunction(([sel, want]) => document.querySelectorAll(sel).length === want, [tid('meter-row'), n], { timeout }));
}

// openMeter opens a meter's view from the list and waits for its commands card to know
// the meter (the buttons, or the viewer's hint, appear once the meter is loaded).
async function openMeter(page, id) {
  await page.locator(`${tid('meter-row')}[data-meter-id="${id}"]`).click();
  await within(`the meter view of ${id}`, UI_TIMEOUT, (timeout) =>
    page.waitForFunction((want) => document.querySelector('[data-testid="meter-title"]').textContent.trim() === want &&
      !document.querySelector('[data-testid="meter-view"]').hidden, id, { timeout }));
  await within(`the commands of ${id}`, UI_TIMEOUT, (timeout) =>
    page.waitForFunction(() => {
      const shown = (t) => { const e = document.querySelector(`[data-testid="${t}"]`); return e && !e.hidden; };
      return (shown('cmd-actions') || shown('cmd-hint')) && (shown('cmd-empty') ? !/Loading/.test(document.querySelector('[data-testid="cmd-empty"]').textContent) : true);
    }, null, { timeout }));
}

// sendCommand presses a command button (and the confirming second tap when asked),
// waits until the new command's row reaches a final state and returns that row.
async function sendCommand(page, button, action, { confirm = false } = {}) {
  const rows = page.locator(tid('cmd-row'));
  const before = await rows.evaluateAll((els) => els.map((e) => e.dataset.commandId));
  await page.locator(tid(button)).click();
  if (confirm) {
    const yes = page.locator(tid('cmd-confirm-yes'));
    await within(`the confirm step of ${action}`, UI_TIMEOUT, (timeout) => yes.waitFor({ state: 'visible', timeout }));
    assert.equal(await page.locator(tid('cmd-confirm')).getAttribute('data-action'), action);
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.dataset.commandId)), before, `the first tap on ${button} sends nothing`);
    await yes.click();
    assert.equal(await page.locator(tid('cmd-confirm')).isVisible(), false, 'the confirm step closes');
  }
  const id = await within(`a new ${action} command row`, UI_TIMEOUT, async (timeout) => (await page.waitForFunction(([want, old]) =>
    [...document.querySelectorAll('[data-testid="cmd-row"]')].map((e) => e.dataset.commandId)
      .find((x) => !old.includes(x) && document.querySelector(`[data-command-id="${x}"]`).dataset.action === want),
  [action, before], { timeout })).jsonValue());
  const row = page.locator(`${tid('cmd-row')}[data-command-id="${id}"]`);
  await within(`${action} ${id} to reach a final state`, COMMAND_TIMEOUT, (timeout) =>
    page.waitForFunction((cid) => !['pending', 'accepted'].includes(document.querySelector(`[data-command-id="${cid}"]`)?.dataset.state), id, { timeout }));
  return row;
}

async function horizontalOverflow(page) {
  return page.evaluate(() => ({ scrollWidth: document.scrollingElement.scrollWidth, innerWidth: window.innerWidth }));
}

// ---------------------------------------------------------------------------
// tests

describe('gridmeter web app', { timeout: 5 * 60_000 }, () => {
  let demo;
  let browser;
  let desktop; // browser context with a desktop viewport, shared by the login flow
  let page;
  const problems = [];
  let selected; // meter id picked in the meter view test

  before(async () => {
    await mkdir(resultsDir, { recursive: true });
    await access(CHROMIUM, constants.X_OK).catch(() => {
      throw new Error(`${CHROMIUM} is missing: run scripts/web-test-setup.sh (installs Debian's chromium)`);
    });
    demo = await startDemo();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
    desktop = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    desktop.setDefaultTimeout(UI_TIMEOUT);
    page = await desktop.newPage();
    watch(page, problems);
  });

  after(async () => {
    try {
      if (browser) await browser.close();
    } finally {
      await stopDemo(demo);
    }
  });

  // A 401 that challenges with "WWW-Authenticate: Basic" makes a browser open its own
  // password dialog over the page (headless Chromium waits for it forever), so the app's
  // own requests without a session must get a plain 401.
  test('API requests without a session answer 401 without a browser password dialog', { timeout: TEST_TIMEOUT }, async () => {
    await page.goto(demo.url + '/icon.svg', { timeout: UI_TIMEOUT });
    const got = await page.evaluate(async (ms) => {
      const timeout = (what) => new Promise((resolve) => setTimeout(() => resolve(`${what}: no answer within ${ms / 1000} s`), ms));
      const me = fetch('/api/v1/me', { headers: { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' } })
        .then((r) => `fetch: ${r.status}`, (e) => `fetch: ${e.message}`);
      const stream = new Promise((resolve) => {
        const es = new EventSource('/api/v1/stream');
        es.onopen = () => { es.close(); resolve('stream: opened'); };
        es.onerror = () => { const closed = es.readyState === EventSource.CLOSED; es.close(); resolve(closed ? 'stream: refused' : 'stream: error, retrying'); };
      });
      return Promise.all([Promise.race([me, timeout('fetch')]), Promise.race([stream, timeout('stream')])]);
    }, 5000);
    assert.deepEqual(got, ['fetch: 401', 'stream: refused'],
      'GET /api/v1/me and /api/v1/stream without a session must answer 401 at once; a "WWW-Authenticate: Basic" challenge on them makes the browser wait for its password dialog');
  });

  test('a wrong password shows the server error', { timeout: TEST_TIMEOUT }, async () => {
    await page.goto(demo.url + '/', { timeout: UI_TIMEOUT });
    await within('the login form', UI_TIMEOUT, (timeout) => page.locator(tid('login-form')).waitFor({ state: 'visible', timeout }));
    await page.screenshot({ path: path.join(resultsDir, 'desktop-login.png') });

    // The message shown must be the server's own.
    const res = await fetch(demo.url + '/api/v1/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: demo.user, password: demo.password + '-wrong' }),
    });
    assert.equal(res.status, 401, 'POST /api/v1/login with a wrong password');
    const serverMessage = (await res.json()).error.message;

    await page.locator(tid('login-username')).fill(demo.user);
    await page.locator(tid('login-password')).fill(demo.password + '-wrong');
    await page.locator(tid('login-submit')).click();
    const err = page.locator(tid('login-error'));
    await within('the login error message', UI_TIMEOUT, (timeout) => err.waitFor({ state: 'visible', timeout }));
    assert.equal((await err.textContent()).trim(), serverMessage);
    assert.equal(await page.locator(tid('meter-list')).isVisible(), false, 'the meter list must stay hidden');
  });

  test('login shows all meters with their latest values', { timeout: TEST_TIMEOUT }, async () => {
    await login(page, demo);
    await waitForMeters(page, METERS);
    assert.equal(await page.locator(tid('login-error')).isVisible(), false);

    // Every meter gets a latest reading within a few polling intervals.
    await within('a power value on every meter row', METERS_TIMEOUT, (timeout) =>
      page.waitForFunction((sel) => [...document.querySelectorAll(sel)].every((r) => /\d\.\d{3}/.test(r.querySelector('[data-testid="row-p"]').textContent)), tid('meter-row'), { timeout }));
    const rows = await page.locator(tid('meter-row')).evaluateAll((els) => els.map((e) => ({
      id: e.dataset.meterId,
      text: e.textContent,
      p: e.querySelector('[data-testid="row-p"]').textContent,
      u: e.querySelector('[data-testid="row-u"]').textContent,
    })));
    assert.equal(rows.length, METERS);
    assert.equal(new Set(rows.map((r) => r.id)).size, METERS, 'meter ids are unique');
    for (const r of rows) {
      const [terminal, bus, address] = r.id.split('.');
      assert.ok(r.text.includes(terminal) && r.text.includes(bus) && r.text.includes(address), `row ${r.id} shows terminal, bus and address: ${r.text}`);
      assert.match(r.p, /^-?[\d,]+\.\d{3} kW$/, `row ${r.id} power`);
      assert.match(r.u, /^[\d,]+\.\d V/, `row ${r.id} voltage`);
    }
    await within(`${TERMINALS} online terminals`, METERS_TIMEOUT, (timeout) =>
      page.waitForFunction(([sel, n]) => {
        const s = [...document.querySelectorAll(sel)].map((e) => e.textContent.trim());
        return s.length === n && s.every((x) => x === 'online');
      }, [tid('terminal-state'), TERMINALS], { timeout }));
  });

  test('the meter view draws the chart and updates live without reload', { timeout: TEST_TIMEOUT }, async () => {
    const row = page.locator(tid('meter-row')).first();
    selected = await row.getAttribute('data-meter-id');
    await row.click();
    await within('the meter view', UI_TIMEOUT, (timeout) => page.locator(tid('meter-view')).waitFor({ state: 'visible', timeout }));
    assert.equal(decodeURIComponent(new URL(page.url()).hash), `#meter=${selected}`);
    assert.equal((await page.locator(tid('meter-title')).textContent()).trim(), selected);
    await within('a canvas in the chart container', UI_TIMEOUT, (timeout) => page.locator(`${tid('chart')} canvas`).first().waitFor({ state: 'visible', timeout }));
    const box = await page.locator(`${tid('chart')} canvas`).first().boundingBox();
    assert.ok(box && box.width > 300 && box.height > 150, `chart canvas is drawn large enough: ${JSON.stringify(box)}`);

    const label = page.locator(tid('last-reading'));
    await within('a first "last reading" time', UI_TIMEOUT, (timeout) =>
      page.waitForFunction((sel) => /\d\d:\d\d:\d\d/.test(document.querySelector(sel).textContent), tid('last-reading'), { timeout }));
    await within('the live stream to connect', UI_TIMEOUT, (timeout) =>
      page.waitForFunction((sel) => document.querySelector(sel).dataset.state === 'live', tid('stream-status'), { timeout }));

    // Mark this document: a reload would lose the mark.
    await page.evaluate(() => { window.__gridmeterNoReload = true; });
    const first = await label.getAttribute('datetime');
    await within('the "last reading" label to change through the live stream', LIVE_TIMEOUT, (timeout) =>
      page.waitForFunction(([sel, before]) => document.querySelector(sel).getAttribute('datetime') !== before, [tid('last-reading'), first], { timeout }));
    assert.equal(await page.evaluate(() => window.__gridmeterNoReload), true, 'the page must not reload');
    const second = await label.getAttribute('datetime');
    assert.ok(Date.parse(second) > Date.parse(first), `the new reading (${second}) is newer than the first (${first})`);

    assert.match(await page.locator(tid('value-p')).textContent(), /^-?[\d,]+\.\d{3}$/, 'P in kW with 3 decimals');
    assert.match(await page.locator(tid('value-u_a')).textContent(), /^[\d,]+\.\d$/, 'U a in V with 1 decimal');
    assert.equal(await page.locator(tid('chart-empty')).isVisible(), false, 'the chart has readings');
    await page.screenshot({ path: path.join(resultsDir, 'desktop-meter.png'), fullPage: true });

    // The chart follows its container's width.
    await page.setViewportSize({ width: 1000, height: 860 });
    await within('the chart to follow a narrower window', UI_TIMEOUT, (timeout) =>
      page.waitForFunction(([sel]) => {
        const c = document.querySelector(sel);
        const canvas = c.querySelector('canvas');
        return canvas && Math.abs(canvas.getBoundingClientRect().width - c.clientWidth) < 24;
      }, [tid('chart')], { timeout }));
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  test('a reload keeps the selected meter', { timeout: TEST_TIMEOUT }, async () => {
    assert.ok(selected, 'the meter view test selected a meter');
    await page.reload({ timeout: UI_TIMEOUT });
    await within('the meter view after reload', UI_TIMEOUT, (timeout) =>
      page.waitForFunction(([sel, id]) => document.querySelector(sel)?.textContent.trim() === id && !document.querySelector('[data-testid="meter-view"]').hidden, [tid('meter-title'), selected], { timeout }));
    await within('the chart after reload', UI_TIMEOUT, (timeout) => page.locator(`${tid('chart')} canvas`).first().waitFor({ state: 'visible', timeout }));
    assert.equal(await page.locator(`${tid('meter-row')}[aria-current="true"]`).getAttribute('data-meter-id'), selected);
  });

  test('an admin reads a meter now and opens and closes its relay', { timeout: TEST_TIMEOUT }, async () => {
    // The last DL/T 645 meter: not the one the other tests look at, since its relay opens.
    const ids = await page.locator(tid('meter-row')).evaluateAll((els) =>
      els.filter((e) => e.querySelector('.proto')?.textContent === 'dlt645').map((e) => e.dataset.meterId));
    assert.ok(ids.length > 0, 'a DL/T 645 meter in the list');
    const id = ids[ids.length - 1];
    const listRequests = [];
    const onRequest = (req) => {
      const u = new URL(req.url());
      if (u.pathname === '/api/v1/commands' && u.searchParams.get('meter') === id) listRequests.push(Date.now());
    };
    page.on('request', onRequest);
    try {
      await openMeter(page, id);
      for (const b of ['cmd-read-now', 'cmd-relay-open', 'cmd-relay-close', 'cmd-time-sync']) {
        assert.equal(await page.locator(tid(b)).isVisible(), true, `${b} is shown to an admin on a DL/T 645 meter`);
      }

      let row = await sendCommand(page, 'cmd-read-now', 'read_now');
      assert.equal(await row.getAttribute('data-state'), 'succeeded', `read_now: ${await row.textContent()}`);
      assert.match(await row.locator(tid('cmd-value-p')).textContent(), /^-?[\d,]+\.\d{3}$/, 'P in kW with 3 decimals');
      assert.match(await row.locator(tid('cmd-value-u_a')).textContent(), /^[\d,]+\.\d$/, 'U a in V with 1 decimal');
      assert.match(await row.locator(tid('cmd-value-e_imp')).textContent(), /^[\d,]+\.\d{2}$/, 'energy in kWh with 2 decimals');
      assert.equal(await row.locator(tid('cmd-state')).textContent(), 'Succeeded');
      assert.match(await page.locator(tid('cmd-live')).textContent(), /Read now: succeeded/, 'the live region announces the result');

      // Cancel leaves the relay alone.
      await page.locator(tid('cmd-relay-open')).click();
      await page.locator(tid('cmd-confirm-no')).click();
      assert.equal(await page.locator(tid('cmd-confirm')).isVisible(), false, 'Cancel closes the confirm step');

      row = await sendCommand(page, 'cmd-relay-open', 'relay_open', { confirm: true });
      assert.equal(await row.getAttribute('data-state'), 'succeeded', `relay_open: ${await row.textContent()}`);
      assert.equal(await row.locator(tid('cmd-relay-state')).getAttribute('data-relay'), 'open');
      assert.equal(await row.locator(tid('cmd-relay-state')).textContent(), 'Relay open');
      await page.screenshot({ path: path.join(resultsDir, 'desktop-commands.png'), fullPage: true });

      row = await sendCommand(page, 'cmd-relay-close', 'relay_close', { confirm: true });
      assert.equal(await row.getAttribute('data-state'), 'succeeded', `relay_close: ${await row.textContent()}`);
      assert.equal(await row.locator(tid('cmd-relay-state')).getAttribute('data-relay'), 'closed');
      assert.match(await page.locator(tid('cmd-live')).textContent(), /Close relay: succeeded, relay closed/);
      assert.equal(await page.locator(`${tid('cmd-list')} ${tid('cmd-row')}`).first().getAttribute('data-action'), 'relay_close', 'newest first');

      // With no command open the polling stops.
      const polls = listRequests.length;
      await page.waitForTimeout(1500);
      assert.equal(listRequests.length, polls, 'no command list requests once every command is final');
    } finally {
      page.off('request', onRequest);
    }
  });

  test('Modbus meters offer Read now only, and a refused command shows the server message', { timeout: TEST_TIMEOUT }, async () => {
    const id = await page.locator(tid('meter-row')).evaluateAll((els) =>
      els.find((e) => e.querySelector('.proto')?.textContent === 'modbus')?.dataset.meterId);
    assert.ok(id, 'a Modbus meter in the list');
    await openMeter(page, id);
    assert.equal(await page.locator(tid('cmd-read-now')).isVisible(), true, 'Read now on a Modbus meter');
    for (const b of ['cmd-relay-open', 'cmd-relay-close', 'cmd-time-sync']) {
      assert.equal(await page.locator(tid(b)).count(), 0, `${b} is not offered on a Modbus meter`);
    }

    // A 400 from the API: the banner shows the server's message.
    const message = 'action "read_now": test refusal';
    const route = `**/api/v1/meters/${encodeURIComponent(id)}/commands`;
    await page.route(route, (r) => r.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ error: { status: 400, message } }) }));
    try {
      const rows = await page.locator(tid('cmd-row')).count();
      await page.locator(tid('cmd-read-now')).click();
      const banner = page.locator(tid('error-banner'));
      await within('the error banner', UI_TIMEOUT, (timeout) => banner.waitFor({ state: 'visible', timeout }));
      assert.ok((await banner.textContent()).includes(message), `banner: ${await banner.textContent()}`);
      assert.equal(await page.locator(tid('cmd-row')).count(), rows, 'a refused command adds no row');
    } finally {
      await page.unroute(route);
    }
  });

  test('a viewer sees the commands but no buttons', { timeout: TEST_TIMEOUT }, async () => {
    // The demo has only its admin, so the role is changed on the way to the page: the
    // buttons depend on the role the API reports.
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    ctx.setDefaultTimeout(UI_TIMEOUT);
    try {
      const viewer = await ctx.newPage();
      watch(viewer, problems);
      const asViewer = async (r) => {
        const res = await r.fetch();
        const body = await res.json();
        await r.fulfill({ response: res, json: res.ok() ? { ...body, role: 'viewer' } : body });
      };
      await viewer.route('**/api/v1/login', asViewer);
      await viewer.route('**/api/v1/me', asViewer);
      await viewer.goto(demo.url + '/', { timeout: UI_TIMEOUT });
      await login(viewer, demo);
      await waitForMeters(viewer, METERS);
      const id = await viewer.locator(tid('meter-row')).evaluateAll((els) =>
        els.filter((e) => e.querySelector('.proto')?.textContent === 'dlt645').map((e) => e.dataset.meterId).pop());
      await openMeter(viewer, id);
      assert.equal(await viewer.locator(`${tid('cmd-actions')} button`).count(), 0, 'no command buttons for a viewer');
      assert.match(await viewer.locator(tid('cmd-hint')).textContent(), /operator role/);
      await within('the commands sent by the admin', UI_TIMEOUT, (timeout) =>
        viewer.locator(`${tid('cmd-row')}[data-action="relay_close"][data-state="succeeded"]`).first().waitFor({ state: 'visible', timeout }));
    } finally {
      await ctx.close();
    }
  });

  test('a 360×740 phone has no horizontal overflow', { timeout: TEST_TIMEOUT }, async () => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    ctx.setDefaultTimeout(UI_TIMEOUT);
    try {
      const phone = await ctx.newPage();
      watch(phone, problems);
      await phone.goto(demo.url + '/', { timeout: UI_TIMEOUT });
      await phone.screenshot({ path: path.join(resultsDir, 'mobile-login.png') });
      let o = await horizontalOverflow(phone);
      assert.ok(o.scrollWidth <= 360, `login page scrollWidth ${o.scrollWidth} > 360`);
      await login(phone, demo);
      await waitForMeters(phone, METERS);
      await phone.waitForFunction((sel) => /\d\.\d{3}/.test(document.querySelector(sel).textContent), tid('row-p'), { timeout: METERS_TIMEOUT });
      o = await horizontalOverflow(phone);
      assert.ok(o.scrollWidth <= 360, `meter list scrollWidth ${o.scrollWidth} > 360`);
      await phone.screenshot({ path: path.join(resultsDir, 'mobile-list.png'), fullPage: true });

      // Touch targets: the rows are at least 44 px high.
      const heights = await phone.locator(tid('meter-row')).evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
      assert.ok(heights.every((x) => x >= 44), `meter rows at least 44 px high: ${heights}`);

      await phone.locator(tid('meter-row')).first().tap();
      await within('the chart on the phone', UI_TIMEOUT, (timeout) => phone.locator(`${tid('chart')} canvas`).first().waitFor({ state: 'visible', timeout }));
      await within('a reading on the phone', UI_TIMEOUT, (timeout) =>
        phone.waitForFunction((sel) => /\d\d:\d\d:\d\d/.test(document.querySelector(sel).textContent), tid('last-reading'), { timeout }));
      await within('the command buttons on the phone', UI_TIMEOUT, (timeout) => phone.locator(tid('cmd-read-now')).waitFor({ state: 'visible', timeout }));
      const buttons = await phone.locator(`${tid('cmd-actions')} button`).evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
      assert.ok(buttons.length > 0 && buttons.every((x) => x >= 44), `command buttons at least 44 px high: ${buttons}`);
      o = await horizontalOverflow(phone);
      assert.ok(o.scrollWidth <= 360, `meter view scrollWidth ${o.scrollWidth} > 360`);
      await phone.screenshot({ path: path.join(resultsDir, 'mobile-meter.png'), fullPage: true });

      // Back returns to the list on a phone.
      await phone.locator(tid('back')).tap();
      await within('the meter list after Back', UI_TIMEOUT, (timeout) => phone.locator(tid('meter-row')).first().waitFor({ state: 'visible', timeout }));
      assert.equal(new URL(phone.url()).hash.includes('meter='), false, 'Back clears the selection');
    } finally {
      await ctx.close();
    }
  });

  test('logout returns to the login form', { timeout: TEST_TIMEOUT }, async () => {
    await page.locator(tid('logout')).click();
    await within('the login form after logout', UI_TIMEOUT, (timeout) => page.locator(tid('login-form')).waitFor({ state: 'visible', timeout }));
    assert.equal(await page.locator(tid('meter-list')).isVisible(), false);
    // The session is gone on the server too: a reload still shows the login form.
    await page.reload({ timeout: UI_TIMEOUT });
    await within('the login form after reload', UI_TIMEOUT, (timeout) => page.locator(tid('login-form')).waitFor({ state: 'visible', timeout }));
    const status = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
    assert.equal(status, 401, 'GET /api/v1/me after logout');
  });

  test('no page errors or CSP violations', () => {
    assert.deepEqual(problems, []);
  });
});
