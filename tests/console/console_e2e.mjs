// The web console end to end: Debian's Chromium, driven by playwright-core,
// against the real hoistd serving the built console over HTTPS on loopback.
// A technician logs in; a request an agent submits appears in the queue
// without a reload; one click approves it; the audit row appears and the
// CSV export downloads; the grant is revoked; "approve and add a rule"
// lets the next one through; an offline code is made; the queue works from
// the keyboard; approve shorter and deny with a comment, and the report's
// filter; the policy editor
// checks as it is typed, its rule builder adds a rule and a save makes a
// version with its diff; an endpoint's code key is rotated; a user is added
// and their role changed; a session's timeline lists its processes; an
// ended session returns to the login and back; every view passes axe-core
// and fits a phone; an auditor sees the queue but cannot approve. A
// screenshot of each view is kept in the artifacts directory, and any error
// in the browser's console fails the test. The audit report reads each
// event as a line, a policy change folded (its row stays small); typed
// markup stays text; the request history finds a decided request; an admin
// adds a webhook channel in the Notifications page, tests it, reads the
// failure in the delivery log and re-drives a dead letter; the queue raises
// a browser notification for a new request only once asked; a link
// to one request survives the login on a second hoistd whose approvals ask
// for the password again after 2 s (step-up).
//
//   node tests/console/console_e2e.mjs --hoistd PATH --console DIR --artifacts DIR
import { mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import assert from 'node:assert/strict';

import { startHoistd, tokenFor, ADMIN, ADMIN_PASSWORD } from './hoistd.mjs';

const { values: args } = parseArgs({
  options: {
    hoistd: { type: 'string' },
    console: { type: 'string' },
    artifacts: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
for (const k of ['hoistd', 'console', 'artifacts']) {
  if (!args[k]) throw new Error(`--${k} is required`);
}
// playwright-core comes from the console's own dependencies (package-lock).
const require = createRequire(resolve(args.console, '..', 'package.json'));
const { chromium } = require('playwright-core');
// axe-core (also a console dev dependency) checks each view for WCAG problems.
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

mkdirSync(args.artifacts, { recursive: true });
const AUDITOR = 'e2e-auditor';
const AUDITOR_PASSWORD = 'console-e2e-auditor-password-1';
const POLICY = `version = 1
[settings]
default_action = "deny"
contact = "Call the help desk on 4711"

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
max_duration = "2h"

[[rule]]
name = "package-tools"
action = "request"
path = "/usr/bin/dpkg"

[[rule]]
name = "sessions"
action = "request"
session = true
`;

const steps = [];
function step(name) {
  steps.push(name);
  console.log(`- ${name}`);
}

const server = await startHoistd({ hoistd: args.hoistd, consoleDir: args.console });
let stepUpServer = null;
let deskPage = null;
let browser;
let page;
const browserErrors = [];
try {
  // --- set-up through the API: a policy, an enrolled agent, an auditor ------
  const admin = await tokenFor(server, ADMIN, ADMIN_PASSWORD);
  const put = await server.call('PUT', '/api/v1/policies/base', { body: { text: POLICY }, headers: admin });
  assert.equal(put.status, 201, put.body);
  const assign = await server.call('PUT', '/api/v1/policies/base/labels', { body: { labels: ['lab'] }, headers: admin });
  assert.equal(assign.status, 200, assign.body);
  const enrolToken = await server.call('POST', '/api/v1/enrolment-tokens', { body: { labels: ['lab'] }, headers: admin });
  assert.equal(enrolToken.status, 201, enrolToken.body);
  const enrolled = await server.call('POST', '/api/v1/agent/enrol', {
    body: { token: enrolToken.json.token, hostname: 'laptop-e2e', agent_version: 'e2e' },
  });
  assert.equal(enrolled.status, 201, enrolled.body);
  const agent = { authorization: `Bearer ${enrolled.json.credential}` };
  const endpointId = enrolled.json.id;
  const user = await server.call('POST', '/api/v1/users', {
    body: { name: AUDITOR, role: 'auditor', password: AUDITOR_PASSWORD }, headers: admin,
  });
  assert.equal(user.status, 201, user.body);
  const APT_SHA256 = 'a3f1c9e2'.repeat(8);
  const submit = (ticket, argv = ['/usr/bin/apt-get', 'install', 'nginx']) => server.call('POST', '/api/v1/agent/requests', {
    headers: agent,
    body: {
      kind: 'command', user: 'alice', groups: ['alice', 'staff'], justification: ticket, duration_s: 1800,
      command: {
        path: argv[0], argv: [argv[0].split('/').pop(), ...argv.slice(1)], trusted_path: true, sha256: APT_SHA256,
        package: { name: argv[0].endsWith('apt-get') ? 'apt' : 'dpkg', origin: 'Debian', verified: true },
      },
    },
  });

  // --- the browser ----------------------------------------------------------
  browser = await chromium.launch({
    executablePath: args.chromium,
    headless: true,
    // Chromium's sandbox needs user namespaces a root CI run may not have.
    args: ['--no-sandbox'],
  });
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, // hoistd's own CA on loopback; the API calls above pin it
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  page = await context.newPage();
  // Chromium logs every 401 answer as an error (and may do so after the
  // answer's own event); only the answers to the step that ends the session
  // on purpose are expected, so they are matched by URL at the end.
  let expect401 = false;
  const expected401 = new Set();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push({ text: m.text(), url: m.location().url }); });
  page.on('response', (r) => {
    if (r.status() !== 401) return;
    if (expect401) expected401.add(r.url());
    else browserErrors.push(`401 from ${r.request().method()} ${r.url()} during "${steps.at(-1)}"`);
  });
  page.on('pageerror', (e) => browserErrors.push(`page: ${e.message}`));
  const shot = (name) => page.screenshot({ path: join(args.artifacts, `${name}.png`), fullPage: true });

  const login = async (name, password) => {
    await page.goto(`${server.url}/`);
    await page.getByLabel(/user/i).fill(name);
    await page.getByLabel(/password/i).fill(password);
    await page.getByRole('button', { name: /log in|sign in/i }).click();
  };

  step('a technician logs in');
  await page.goto(`${server.url}/`);
  await shot('login');
  await login(ADMIN, ADMIN_PASSWORD);
  await page.waitForURL(/#\/queue/, { timeout: 10000 });
  await shot('queue-empty');

  step('a request submitted through the agent API appears live');
  const sent = Date.now();
  const submitted = await submit('e2e-ticket-4711');
  assert.equal(submitted.status, 201, submitted.body);
  const requestId = submitted.json.request.id;
  const row = page.locator('article, li, tr', { hasText: 'e2e-ticket-4711' }).first();
  await row.waitFor({ timeout: 5000 });
  const shownAfter = Date.now() - sent;
  console.log(`  shown ${shownAfter} ms after the agent's submit`);
  assert.ok(shownAfter < 2000, `the request took ${shownAfter} ms to appear`);
  await shot('queue-request');
  const shown = await row.innerText();
  for (const want of ['alice', 'laptop-e2e', 'apt-get install nginx', APT_SHA256, 'apt', 'e2e-ticket-4711', '30m']) {
    assert.ok(shown.includes(want), `the queue does not show ${want}: ${shown}`);
  }
  assert.equal(await page.getByRole('button', { name: 'Menu' }).isVisible(), false, 'the phone menu button shows at 1280 px');

  step('one click approves it');
  await row.getByRole('button', { name: /^approve \d/i }).click();
  const approved = async () => (await server.call('GET', `/api/v1/requests/${requestId}`, { headers: admin })).json.state;
  for (let i = 0; i < 50 && (await approved()) === 'pending'; ++i) await page.waitForTimeout(100);
  assert.equal(await approved(), 'approved');
  await row.waitFor({ state: 'detached', timeout: 5000 });

  step('the audit row appears, and the CSV export downloads');
  await page.goto(`${server.url}/#/audit`);
  await page.getByText('request.approved').first().waitFor({ timeout: 5000 });
  await shot('audit');
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 10000 }),
    page.getByRole('link', { name: /csv/i }).click(),
  ]);
  const csv = await readFile(await download.path(), 'utf8');
  assert.match(csv, /^seq,time,actor,action,target,host,details,prev_hash,hash/);
  assert.match(csv, /request\.approved/);

  step('the grant is revoked');
  await page.goto(`${server.url}/#/grants`);
  const grant = page.locator('article, li, tr', { hasText: 'alice' }).first();
  await grant.waitFor({ timeout: 5000 });
  await shot('grants');
  await grant.getByRole('button', { name: /revoke/i }).click();
  await page.getByRole('dialog').getByRole('button', { name: /revoke now/i }).click();
  const revoked = async () => (await server.call('GET', `/api/v1/requests/${requestId}`, { headers: admin })).json.state;
  for (let i = 0; i < 50 && (await revoked()) !== 'revoked'; ++i) await page.waitForTimeout(100);
  assert.equal(await revoked(), 'revoked');

  step('"approve and add a rule" scoped to the host lets the next one through at once');
  const third = await submit('e2e-ticket-4713');
  assert.equal(third.status, 201, third.body);
  const ruleRow = page.locator('article, li, tr', { hasText: 'e2e-ticket-4713' }).first();
  await page.goto(`${server.url}/#/queue`);
  await ruleRow.waitFor({ timeout: 5000 });
  await ruleRow.getByRole('button', { name: /approve and add a rule/i }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel(/only on laptop-e2e/i).check();
  await shot('add-rule');
  await dialog.getByRole('button', { name: /approve and add rule/i }).click();
  await dialog.waitFor({ state: 'detached', timeout: 10000 });
  const policy = await server.call('GET', '/api/v1/policies/base', { headers: admin });
  assert.equal(policy.json.current_version ?? policy.json.version, 2, policy.body);
  assert.match(policy.body, /hosts = \[\\"laptop-e2e\\"\]/);
  const again = await submit('e2e-ticket-4714');
  assert.equal(again.json.decision, 'allow', `the new rule did not allow it at once: ${again.body}`);

  step('an offline code is generated');
  await page.goto(`${server.url}/#/codes`);
  const form = page.getByRole('form', { name: 'Issue a code' });
  await form.getByLabel('Computer').selectOption({ value: endpointId });
  await form.getByLabel('User', { exact: true }).fill('alice');
  await form.getByLabel(/pre-issued/i).check();
  await form.getByRole('button', { name: /issue code/i }).click();
  await page.getByText(/[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}/).first().waitFor({ timeout: 5000 });
  await shot('codes');
  const issued = await server.call('GET', `/api/v1/codes?endpoint=${endpointId}`, { headers: admin });
  assert.equal(issued.json.codes.length, 1, issued.body);

  step('the queue can be worked from the keyboard alone');
  const keyed = await submit('e2e-ticket-4716', ['/usr/bin/dpkg', '--audit']);
  assert.equal(keyed.status, 201, keyed.body);
  await page.goto(`${server.url}/#/queue`);
  await page.locator('article, li, tr', { hasText: 'e2e-ticket-4716' }).first().waitFor({ timeout: 5000 });
  let reached = '';
  for (let i = 0; i < 80 && !/^Approve \d/.test(reached); ++i) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => {
      const el = document.activeElement;
      return el && el.closest('article, li, tr')?.textContent?.includes('e2e-ticket-4716') ? el.textContent.trim() : '';
    });
  }
  assert.match(reached, /^Approve \d/, 'Tab never reached the request\'s approve button');
  const focusVisible = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle !== 'none');
  assert.ok(focusVisible, 'the focused button shows no focus outline');
  await page.keyboard.press('Enter');
  const keyedState = async () => (await server.call('GET', `/api/v1/requests/${keyed.json.request.id}`, { headers: admin })).json.state;
  for (let i = 0; i < 50 && (await keyedState()) === 'pending'; ++i) await page.waitForTimeout(100);
  assert.equal(await keyedState(), 'approved');

  step('"approve shorter" grants less than asked; "deny" sends its comment; the report filters to the denial');
  const shorter = await submit('e2e-ticket-4717', ['/usr/bin/dpkg', '--verify']);
  const denied = await submit('e2e-ticket-4718', ['/usr/bin/dpkg', '--purge', 'openssh-server']);
  assert.equal(shorter.status, 201, shorter.body);
  assert.equal(denied.status, 201, denied.body);
  const shorterRow = page.locator('article, li, tr', { hasText: 'e2e-ticket-4717' }).first();
  await shorterRow.getByRole('button', { name: 'Approve shorter…' }).click({ timeout: 5000 });
  const shorterDialog = page.getByRole('dialog', { name: "Approve alice's request" });
  await shorterDialog.getByRole('textbox', { name: 'Duration' }).fill('10m');
  await shorterDialog.getByRole('button', { name: /^Approve 10/ }).click();
  await shorterDialog.waitFor({ state: 'detached', timeout: 5000 });
  const deniedRow = page.locator('article, li, tr', { hasText: 'e2e-ticket-4718' }).first();
  await deniedRow.getByRole('button', { name: 'Deny…' }).click();
  const denyDialog = page.getByRole('dialog', { name: "Deny alice's request" });
  await denyDialog.getByLabel('Comment for the user').fill('Not on a laptop: open ticket 4719 for a rebuild');
  await shot('deny');
  await denyDialog.getByRole('button', { name: 'Deny', exact: true }).click();
  await denyDialog.waitFor({ state: 'detached', timeout: 5000 });
  const shorterNow = (await server.call('GET', `/api/v1/requests/${shorter.json.request.id}`, { headers: admin })).json;
  assert.equal(shorterNow.state, 'approved', JSON.stringify(shorterNow));
  assert.equal((Date.parse(shorterNow.grant_deadline) - Date.parse(shorterNow.grant_start)) / 1000, 600, JSON.stringify(shorterNow));
  const deniedNow = (await server.call('GET', `/api/v1/requests/${denied.json.request.id}`, { headers: admin })).json;
  assert.equal(deniedNow.state, 'denied', JSON.stringify(deniedNow));
  assert.equal(deniedNow.review.comment, 'Not on a laptop: open ticket 4719 for a rebuild');
  // The agent hears the decision with the comment it shows at the terminal.
  const heard = await server.call('GET', `/api/v1/agent/requests/${denied.json.request.id}`, { headers: agent });
  assert.match(heard.body, /open ticket 4719 for a rebuild/);
  await page.goto(`${server.url}/#/audit`);
  await page.getByLabel('Action', { exact: true }).fill('request.denied');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL(/action=request\.denied/, { timeout: 5000 });
  const auditRows = page.locator('table.audit-table tbody tr');
  await auditRows.first().locator('.event-text', { hasText: denied.json.request.id }).waitFor({ timeout: 5000 });
  const actions = await page.locator('table.audit-table tbody a.event-kind').allInnerTexts();
  assert.deepEqual([...new Set(actions)], ['request.denied'], `the filter let through: ${actions}`);
  assert.match(await page.getByRole('link', { name: /csv/i }).getAttribute('href'), /action=request\.denied/);
  await shot('audit-filtered');

  step('the policy editor checks the text as it is typed; the rule builder adds a rule; a save makes a version with its diff');
  await page.goto(`${server.url}/#/policies/base`);
  const editor = page.getByLabel('Policy text (TOML)');
  await editor.waitFor({ timeout: 5000 });
  const saved = await editor.inputValue();
  await editor.fill(`${saved}\n[[rule]]\nname = "typo"\naction = "allow"\npathh = "/usr/bin/true"\n`);
  const problems = page.getByRole('list', { name: 'Problems in the policy text' });
  await problems.waitFor({ timeout: 5000 });
  const typoLine = saved.split('\n').length + 4;
  assert.match(await problems.innerText(), new RegExp(`line ${typoLine}:1[^]*pathh`), await problems.innerText());
  await shot('policy-check-error');
  await editor.fill(saved);
  await page.getByRole('button', { name: 'Add a rule…' }).click();
  const builder = page.getByRole('dialog', { name: 'Add a rule' });
  await builder.getByLabel('Name', { exact: true }).fill('disk-tools');
  await builder.getByLabel('Action', { exact: true }).selectOption('request');
  await builder.getByLabel('Exact path').fill('/usr/sbin/fdisk');
  await builder.getByLabel('Hosts (optional)').fill('LAPTOP-E2E');
  await shot('rule-builder');
  await builder.getByRole('button', { name: 'Add to the text' }).click();
  await page.getByText(/^No problems \(5 rules\); saving makes version 3\.$/).waitFor({ timeout: 5000 });
  await page.getByText('What saving changes').click();
  await page.getByLabel('Changes from version 2 to the text above').getByText('+path = "/usr/sbin/fdisk"').waitFor();
  await page.getByLabel('What changed (comment for the history)').fill('fdisk on request, on the e2e laptop');
  await page.getByRole('button', { name: 'Save as version 3' }).click();
  await page.getByText('Saved base version 3').waitFor({ timeout: 5000 });
  const v3 = await server.call('GET', '/api/v1/policies/base', { headers: admin });
  assert.equal(v3.json.current_version, 3, v3.body);
  assert.match(v3.json.current.text, /name = "disk-tools"[^]*path = "\/usr\/sbin\/fdisk"[^]*hosts = \["laptop-e2e"\]/);
  assert.equal(v3.json.current.comment, 'fdisk on request, on the e2e laptop');
  const fdisk = await server.call('POST', '/api/v1/agent/requests', {
    headers: agent,
    body: {
      kind: 'command', user: 'alice', groups: ['alice'], justification: 'disk check', duration_s: 600,
      command: { path: '/usr/sbin/fdisk', argv: ['fdisk', '-l'], trusted_path: true },
    },
  });
  assert.equal(fdisk.status, 201, fdisk.body);
  assert.equal(fdisk.json.decision, 'request', `the saved rule is not in force: ${fdisk.body}`);
  await page.getByLabel('Compare version').selectOption('2');
  await page.getByRole('button', { name: 'Show diff' }).click();
  await page.getByLabel('Changes from version 2 to 3').getByText('+name = "disk-tools"').waitFor({ timeout: 5000 });
  await shot('policy-history');

  step('the audit report reads each event as one line; a policy change is a folded diff that keeps its row small');
  await page.goto(`${server.url}/#/audit?action=policy.version_added`);
  const changeRow = page.locator('tr.audit-row', { hasText: 'saved policy base as version 3' });
  await changeRow.waitFor({ timeout: 5000 });
  const changeText = await changeRow.innerText();
  for (const want of ['admin saved policy base as version 3: “fdisk on request, on the e2e laptop”', 'saved', 'Changes: +']) {
    assert.ok(changeText.includes(want), `the policy change's line does not say ${want}: ${changeText}`);
  }
  const folded = await changeRow.boundingBox();
  console.log(`  a policy change's row is ${Math.round(folded.height)} px tall while folded`);
  assert.ok(folded.height < 160, `a folded policy change is ${folded.height} px tall`);
  const pageHeight = await page.evaluate(() => document.documentElement.scrollHeight);
  assert.ok(pageHeight < 2500, `the report of three policy changes is ${pageHeight} px tall`);
  await changeRow.getByText(/^Changes: \+/).click();
  await changeRow.getByLabel('Changes to policy base').getByText('+name = "disk-tools"').waitFor({ timeout: 5000 });
  const opened = await changeRow.boundingBox();
  assert.ok(opened.height < 700, `an open policy diff makes its row ${opened.height} px tall`);
  await shot('audit-policy-change');
  await page.goto(`${server.url}/#/audit?action=request.denied`);
  const deniedLine = page.locator('tr.audit-row', { hasText: denied.json.request.id });
  await deniedLine.waitFor({ timeout: 5000 });
  assert.match(await deniedLine.locator('.event-text').innerText(),
    /^admin denied alice’s request req-[0-9a-f-]+: “Not on a laptop: open ticket 4719 for a rebuild”$/);
  assert.match(await deniedLine.locator('td[data-label="Outcome"]').innerText(), /denied/);
  assert.match(await deniedLine.locator('td[data-label="Host"]').innerText(), /laptop-e2e/);

  step('what a user typed is shown as text: markup, script and Markdown in a justification do nothing');
  const HOSTILE = '<img src=x onerror="window.__hoistXss=1"><script>window.__hoistXss=2</script> **bold** [x](javascript:alert(1)) <!channel>';
  const hostile = await submit(HOSTILE, ['/usr/bin/dpkg', '--list']);
  assert.equal(hostile.status, 201, hostile.body);
  const hostileId = hostile.json.request.id;
  for (const where of [`#/queue`, `#/requests/${hostileId}`, `#/audit?target=${hostileId}`, `#/requests?text=${encodeURIComponent('onerror')}`]) {
    await page.goto(`${server.url}/${where}`);
    await page.getByText(HOSTILE.slice(0, 40), { exact: false }).first().waitFor({ timeout: 5000 });
    const injected = await page.evaluate(() => ({
      xss: window.__hoistXss ?? null,
      img: document.querySelectorAll('main img').length,
      script: document.querySelectorAll('main script').length,
      strong: [...document.querySelectorAll('main strong')].some((e) => e.textContent === 'bold'),
      jsLinks: [...document.querySelectorAll('a')].filter((a) => a.href.startsWith('javascript:')).length,
    }));
    assert.deepEqual(injected, { xss: null, img: 0, script: 0, strong: false, jsLinks: 0 }, `${where}: ${JSON.stringify(injected)}`);
  }
  await shot('request-hostile');

  step('decided requests stay findable in the request history, by state, user, host and text');
  await page.goto(`${server.url}/#/requests`);
  await page.getByLabel('State').selectOption('denied');
  await page.getByLabel('Text').fill('openssh');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL(/#\/requests\?state=denied&text=openssh/, { timeout: 5000 });
  const historyRows = page.locator('table.history-table tbody tr');
  await historyRows.first().getByText('dpkg --purge openssh-server').waitFor({ timeout: 5000 });
  assert.equal(await historyRows.count(), 1, await page.locator('table.history-table').innerText());
  assert.match(await historyRows.first().innerText(), /denied by admin/);
  await historyRows.first().getByRole('link').click();
  await page.waitForURL(new RegExp(`#/requests/${denied.json.request.id}$`), { timeout: 5000 });
  await page.getByRole('heading', { name: `Request ${denied.json.request.id}` }).waitFor({ timeout: 5000 });
  await page.locator('tr.audit-row', { hasText: 'admin denied alice’s request' }).waitFor({ timeout: 5000 });
  await shot('request-history');

  step("an endpoint's admin-code key is rotated from its actions; an enrolment token made here enrols one");
  await page.goto(`${server.url}/#/endpoints`);
  await page.getByRole('button', { name: 'Rotate code key…' }).click();
  const rotate = page.getByRole('dialog', { name: "Rotate laptop-e2e's admin-code key?" });
  await rotate.getByRole('button', { name: 'Rotate key' }).click();
  // (the dialog itself says "generation 2": wait for it to go first)
  await rotate.waitFor({ state: 'detached', timeout: 5000 });
  await page.locator('td[data-label="Code key"]', { hasText: 'generation 2' }).first().waitFor({ timeout: 5000 });
  const rotated = await server.call('GET', `/api/v1/endpoints/${endpointId}`, { headers: admin });
  assert.equal(rotated.json.codes_key_generation, 2, rotated.body);
  await page.getByLabel('Endpoint groups (labels)').fill('lab, kiosks');
  assert.equal(await page.getByLabel('Endpoint groups (labels)').inputValue(), 'lab, kiosks');
  await page.getByRole('button', { name: 'Create token' }).click();
  const shownToken = await page.locator('.shown-once code').innerText({ timeout: 5000 });
  const viaToken = await server.call('POST', '/api/v1/agent/enrol', { body: { token: shownToken, hostname: 'kiosk-e2e', agent_version: 'e2e' } });
  assert.equal(viaToken.status, 201, viaToken.body);
  assert.deepEqual(viaToken.json.labels.sort(), ['kiosks', 'lab'], JSON.stringify((await server.call('GET', '/api/v1/enrolment-tokens', { headers: admin })).json));
  await page.reload();
  await page.getByText('kiosk-e2e').waitFor({ timeout: 5000 });
  await shot('endpoints-token');

  step('an admin adds an approver and changes a role');
  await page.goto(`${server.url}/#/users`);
  await page.getByRole('button', { name: 'New user…' }).click();
  const newUser = page.getByRole('dialog');
  await newUser.getByLabel('Name', { exact: true }).fill('e2e-approver');
  await newUser.getByLabel('Role', { exact: true }).selectOption('approver');
  await newUser.getByLabel('Password (optional)').fill('console-e2e-approver-password-1');
  await newUser.getByRole('button', { name: 'Create' }).click();
  await page.getByLabel('Role of e2e-approver').waitFor({ timeout: 5000 });
  await page.getByLabel('Role of e2e-approver').selectOption('auditor');
  const roleOf = async () => (await server.call('GET', '/api/v1/users', { headers: admin })).json.users.find((u) => u.name === 'e2e-approver')?.role;
  for (let i = 0; i < 50 && (await roleOf()) !== 'auditor'; ++i) await page.waitForTimeout(100);
  assert.equal(await roleOf(), 'auditor');
  await shot('users');

  step('an admin adds a webhook channel in the Notifications page, sends a test and reads the failed attempt in the delivery log');
  await page.goto(`${server.url}/#/notifications`);
  await page.getByText('No channel yet.').waitFor({ timeout: 5000 });
  await page.getByRole('button', { name: 'New channel…' }).click();
  const channelForm = page.getByRole('dialog', { name: 'New notification channel' });
  await channelForm.getByLabel('Kind').selectOption('webhook');
  await channelForm.getByLabel('Name', { exact: true }).fill('e2e SOC');
  await channelForm.getByLabel('Events', { exact: true }).fill('request.*, grant.*');
  // Nothing listens on port 9: every attempt fails and is retried.
  await channelForm.getByLabel('URL', { exact: true }).fill('https://127.0.0.1:9/hook');
  await channelForm.getByLabel('Signing secret').fill('not-a-secret');
  await channelForm.getByRole('button', { name: 'Add channel' }).click();
  await channelForm.getByText('whsec_ followed by the base64 of 24 to 64 random bytes: use Generate').waitFor({ timeout: 5000 });
  await channelForm.getByRole('button', { name: 'Generate a secret' }).click();
  const webhookSecret = await channelForm.locator('.shown-once code').innerText();
  assert.match(webhookSecret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  await shot('notifications-new');
  await channelForm.getByRole('button', { name: 'Add channel' }).click();
  await channelForm.waitFor({ state: 'detached', timeout: 5000 });
  const listed = await server.call('GET', '/api/v1/notify/channels', { headers: admin });
  assert.equal(listed.json.channels.length, 1, listed.body);
  const socChannel = listed.json.channels[0];
  assert.deepEqual(
    [socChannel.kind, socChannel.name, socChannel.events, socChannel.enabled, socChannel.config.url, socChannel.secret.set],
    ['webhook', 'e2e SOC', ['request.*', 'grant.*'], true, 'https://127.0.0.1:9/hook', true], listed.body,
  );
  assert.ok(!listed.body.includes(webhookSecret.slice('whsec_'.length, 30)), 'hoistd answered with the secret');
  const socRow = page.locator('table.channels-table tbody tr', { hasText: 'e2e SOC' });
  await socRow.waitFor({ timeout: 5000 });
  assert.ok(!(await page.content()).includes(webhookSecret), 'the page still shows the secret after saving');
  await socRow.getByRole('button', { name: 'Send a test' }).click();
  const testResult = page.locator('.test-result');
  await testResult.getByText(/^Attempt 1 failed: .*127\.0\.0\.1:9/).waitFor({ timeout: 15000 });
  const socLog = page.locator('table.deliveries-table tbody tr', { hasText: 'notify.channel_tested' });
  await socLog.getByText(/^attempt 1 failed: .*127\.0\.0\.1:9.*; next attempt/).waitFor({ timeout: 10000 });
  await socRow.getByText('retrying').waitFor({ timeout: 10000 });
  await shot('notifications-test');
  const socDeliveries = await server.call('GET', `/api/v1/notify/deliveries?channel=${socChannel.id}`, { headers: admin });
  assert.equal(socDeliveries.json.deliveries.length, 1, socDeliveries.body);
  assert.equal(socDeliveries.json.deliveries[0].state, 'pending', socDeliveries.body);
  assert.ok(socDeliveries.json.deliveries[0].last_error, socDeliveries.body);
  // The enabled switch is one PATCH with the channel's version.
  await socRow.getByRole('checkbox').uncheck();
  const socAfter = async () => (await server.call('GET', `/api/v1/notify/channels/${socChannel.id}`, { headers: admin })).json;
  for (let i = 0; i < 50 && (await socAfter()).enabled; ++i) await page.waitForTimeout(100);
  assert.equal((await socAfter()).enabled, false);
  // The page shows it once the PATCH's answer is back (a flake when read at once).
  const sendTest = socRow.getByRole('button', { name: 'Send a test' });
  for (let i = 0; i < 50 && !(await sendTest.isDisabled()); ++i) await page.waitForTimeout(100);
  assert.equal(await sendTest.isDisabled(), true);

  step('a refused delivery is a dead letter with its status and error, and Re-drive sends it again');
  // A receiver that answers 404: hoistd's own API, verified with its CA.
  const deadEnd = await server.call('POST', '/api/v1/notify/channels', {
    headers: admin,
    body: { kind: 'webhook', name: 'e2e dead end', events: ['request.created'], config: { url: `${server.url}/api/v1/e2e-hook`, ca_file: server.caFile }, secret: webhookSecret },
  });
  assert.equal(deadEnd.status, 201, deadEnd.body);
  await page.goto(`${server.url}/#/notifications`);
  const deadRow = page.locator('table.channels-table tbody tr', { hasText: 'e2e dead end' });
  await deadRow.getByRole('button', { name: 'Send a test' }).click();
  await testResult.getByText(/^Refused: HTTP 404: .*It is kept as a dead letter/).waitFor({ timeout: 15000 });
  await page.getByLabel('Channel', { exact: true }).selectOption({ label: 'e2e dead end' });
  await page.getByLabel('State', { exact: true }).selectOption('dead');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(new RegExp(`#/notifications\\?channel=${deadEnd.json.id}&state=dead$`), { timeout: 5000 });
  const deadLetter = page.locator('table.deliveries-table tbody tr', { hasText: 'notify.channel_tested' });
  await deadLetter.getByText(/^given up after 1 attempt: HTTP 404: .*there is no API at \/api\/v1\/e2e-hook/).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('table.deliveries-table tbody tr').count(), 1);
  await shot('notifications-dead');
  const deadId = Number(await deadLetter.locator('td[data-label="Delivery"] strong').innerText());
  await deadLetter.getByRole('button', { name: 'Re-drive' }).click();
  await page.getByText(`Delivery ${deadId} is queued again`).waitFor({ timeout: 5000 });
  const redriven = await server.call('GET', `/api/v1/audit?action=notify.delivery_redriven`, { headers: admin });
  assert.equal(redriven.json.events.length, 1, redriven.body);
  assert.equal(redriven.json.events[0].target, String(deadId));
  // Refused again (attempts counted afresh), and still listed as dead.
  const deadAgain = async () => (await server.call('GET', `/api/v1/notify/deliveries/${deadId}`, { headers: admin })).json;
  for (let i = 0; i < 50 && (await deadAgain()).state !== 'dead'; ++i) await page.waitForTimeout(100);
  assert.deepEqual([(await deadAgain()).state, (await deadAgain()).attempts], ['dead', 1]);
  await deadLetter.getByRole('button', { name: 'Re-drive' }).waitFor({ timeout: 10000 });

  step('the queue notifies of a new request only when asked, not for those already there nor for the technician’s own');
  // A browser whose Notification records what it is asked (permission kept
  // in localStorage, as the browser keeps it).
  const alertsContext = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  await alertsContext.addInitScript(() => {
    const stored = () => { try { return localStorage.getItem('e2e.permission') ?? 'default'; } catch { return 'default'; } };
    window.__asked = 0;
    window.__shown = [];
    window.Notification = class {
      static get permission() { return stored(); }
      static async requestPermission() { window.__asked += 1; localStorage.setItem('e2e.permission', 'granted'); return 'granted'; }
      constructor(title, options = {}) { Object.assign(this, { title, body: options.body, tag: options.tag, onclick: null }); window.__shown.push(this); }
      close() { this.closed = true; }
    };
  });
  const alertsPage = await alertsContext.newPage();
  alertsPage.on('pageerror', (e) => browserErrors.push(`alerts page: ${e.message}`));
  alertsPage.on('console', (m) => { if (m.type() === 'error') browserErrors.push(`alerts console: ${m.text()}`); });
  const dpkgRequest = (user, ticket) => server.call('POST', '/api/v1/agent/requests', {
    headers: agent,
    body: { kind: 'command', user, groups: [user], justification: ticket, duration_s: 600,
      command: { path: '/usr/bin/dpkg', argv: ['dpkg', '--audit'], trusted_path: true } },
  });
  const already = await dpkgRequest('alice', 'e2e-alert-already-there');
  assert.equal(already.status, 201, already.body);
  await alertsPage.goto(`${server.url}/`);
  await alertsPage.getByLabel(/user/i).fill(ADMIN);
  await alertsPage.getByLabel(/password/i).fill(ADMIN_PASSWORD);
  await alertsPage.getByRole('button', { name: /log in/i }).click();
  await alertsPage.getByText('e2e-alert-already-there').waitFor({ timeout: 5000 });
  assert.equal(await alertsPage.evaluate(() => window.__asked), 0, 'permission asked on load');
  await alertsPage.getByRole('button', { name: 'Notify me of new requests' }).click();
  await alertsPage.getByText('Notifications of new requests are on in this browser.').waitFor({ timeout: 5000 });
  assert.equal(await alertsPage.evaluate(() => window.__asked), 1);
  await alertsPage.goto(`${server.url}/#/audit`); // elsewhere than the queue
  await alertsPage.getByRole('heading', { name: /Audit report/ }).waitFor({ timeout: 5000 });
  const own = await dpkgRequest(ADMIN, 'e2e-alert-own-request');
  assert.equal(own.status, 201, own.body);
  const fresh = await dpkgRequest('alice', 'e2e-alert-new <b>request</b>');
  assert.equal(fresh.status, 201, fresh.body);
  const freshId = fresh.json.request.id;
  await alertsPage.waitForFunction(() => window.__shown.length > 0, null, { timeout: 5000 });
  await alertsPage.waitForTimeout(500); // anything else would have come with it
  const shownAlerts = await alertsPage.evaluate(() => window.__shown.map(({ title, body, tag }) => ({ title, body, tag })));
  assert.deepEqual(shownAlerts, [{ title: 'Root request: alice on laptop-e2e', body: 'dpkg --audit for 10m\n“e2e-alert-new <b>request</b>”', tag: freshId }]);
  await alertsPage.evaluate(() => window.__shown[0].onclick());
  await alertsPage.waitForURL(new RegExp(`#/requests/${freshId}$`), { timeout: 5000 });
  await alertsPage.locator('dl.request-facts').getByText('e2e-alert-new <b>request</b>').waitFor({ timeout: 5000 });
  // The choice is remembered.
  await alertsPage.goto(`${server.url}/#/queue`);
  await alertsPage.reload();
  await alertsPage.getByText('Notifications of new requests are on in this browser.').waitFor({ timeout: 5000 });
  await alertsPage.locator('li', { hasText: 'e2e-alert-new' }).first().waitFor({ timeout: 5000 });
  await alertsPage.waitForLoadState('networkidle');
  assert.equal(await alertsPage.evaluate(() => window.__shown.length), 0, 'a reload announced the requests it found');
  await alertsContext.close();

  step("a temporary admin session's timeline lists every elevated process");
  const asked = await server.call('POST', '/api/v1/agent/requests', {
    headers: agent,
    body: { kind: 'session', user: 'alice', groups: ['alice'], justification: 'e2e-session-4715', duration_s: 1800 },
  });
  assert.equal(asked.status, 201, asked.body);
  const sessionId = asked.json.request.id;
  const ok = await server.call('POST', `/api/v1/requests/${sessionId}/approve`, { body: {}, headers: admin });
  assert.equal(ok.status, 200, ok.body);
  const now = Date.now();
  const processes = [
    ['/usr/bin/bash', ['bash'], 'allow', 4100],
    ['/usr/bin/systemctl', ['systemctl', 'restart', 'nginx'], 'allow', 4101],
    ['/usr/bin/shred', ['shred', '/etc/shadow'], 'deny', 4102],
  ];
  const uploaded = await server.call('POST', '/api/v1/agent/events', {
    headers: agent,
    body: {
      events: processes.map(([command, argv, action, pid], i) => ({
        id: (0xe2e0 + i).toString(16).padStart(32, '0'),
        kind: 'process',
        time_ms: now + i,
        target: sessionId,
        details: { session: sessionId, user: 'alice', runas: 'root', command, argv, action, pid, ppid: 4000 },
      })),
    },
  });
  assert.equal(uploaded.status, 200, uploaded.body);
  await page.goto(`${server.url}/#/grants/${sessionId}`);
  const timeline = page.locator('ol.timeline').first(); // the processes, then the history
  await timeline.getByText('systemctl restart nginx').waitFor({ timeout: 5000 });
  const timelineText = await timeline.innerText();
  for (const [, argv] of processes) assert.ok(timelineText.includes(argv.join(' ')), `${argv.join(' ')} missing from: ${timelineText}`);
  await shot('session-timeline');

  step('an ended session sends the technician to log in, and back to where they were');
  const [cookie] = (await context.cookies()).filter((c) => c.name.startsWith('hoist'));
  assert.ok(cookie, 'no session cookie in the browser');
  const who = await server.call('GET', '/api/v1/session', { headers: { cookie: `${cookie.name}=${cookie.value}` } });
  expect401 = true; // the open feed may hear of it before the call returns
  const ended = await server.call('POST', '/api/v1/logout', {
    body: {}, headers: { cookie: `${cookie.name}=${cookie.value}`, 'x-csrf-token': who.json.csrf_token },
  });
  assert.ok(ended.status < 300, ended.body);
  // Sent to log in from one page, then on to another before logging in:
  // the login returns to the last one.
  await page.goto(`${server.url}/#/audit`);
  await page.getByText('Your session ended. Log in again to continue where you were.').waitFor({ timeout: 5000 });
  await page.goto(`${server.url}/#/grants`);
  await page.getByText('Your session ended. Log in again to continue where you were.').waitFor({ timeout: 5000 });
  await shot('session-ended');
  await page.getByLabel(/user/i).fill(ADMIN);
  await page.getByLabel(/password/i).fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: /log in|sign in/i }).click();
  await page.waitForURL(/#\/grants$/, { timeout: 10000 });
  await page.getByRole('heading', { name: 'Grants and sessions in force' }).waitFor({ timeout: 5000 });
  await page.waitForLoadState('networkidle');
  assert.match(page.url(), /#\/grants$/, 'the login did not stay where it returned to');
  expect401 = false;

  step('every view passes axe-core (WCAG 2.1 A and AA) and fits a 375 px phone without sideways scrolling');
  const views = [
    ['#/queue', 'queue'], ['#/requests', 'requests'], [`#/requests/${requestId}`, 'request'], ['#/grants', 'grants'], [`#/grants/${sessionId}`, 'grant'], ['#/policies', 'policies'],
    ['#/policies/base', 'policy'], ['#/endpoints', 'endpoints'], ['#/codes', 'codes'], ['#/audit', 'audit'], ['#/notifications', 'notifications'],
    ['#/users', 'users'],
  ];
  const a11yProblems = [];
  for (const width of [1280, 375]) {
    await page.setViewportSize({ width, height: width > 500 ? 900 : 800 });
    for (const [view, name] of views) {
      await page.goto(`${server.url}/${view}`);
      await page.waitForLoadState('networkidle');
      await page.locator('main').waitFor();
      // Each view says "Loading…" until its data is in: check what users see.
      await page.waitForFunction(() => !/Loading/.test(document.querySelector('main')?.innerText ?? 'Loading'), null, { timeout: 10000 });
      if (width < 500) {
        const menu = page.getByRole('button', { name: 'Menu' });
        const nav = page.getByRole('navigation', { name: 'Main' });
        if (name === 'queue') {
          assert.equal(await nav.isVisible(), false, 'the navigation is open on a phone before Menu is pressed');
          await menu.click();
          await nav.getByRole('link', { name: 'Audit report' }).waitFor();
          assert.equal(await menu.getAttribute('aria-expanded'), 'true');
          await shot('menu-phone');
          await menu.click();
        }
        await shot(`${name}-phone`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        if (overflow > 0) a11yProblems.push(`${view} at ${width} px scrolls sideways by ${overflow} px`);
      } else {
        await shot(name);
      }
      // Through the debugger, not a <script>: hoistd's CSP refuses inline scripts.
      await page.evaluate(AXE);
      const result = await page.evaluate(async () =>
        // eslint-disable-next-line no-undef
        axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
      );
      assert.ok(result.passes.length >= 10, `axe-core checked almost nothing on ${view}`);
      for (const v of result.violations) {
        a11yProblems.push(`${view} at ${width} px: ${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
      }
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.deepEqual(a11yProblems, [], `accessibility:\n${a11yProblems.join('\n')}`);

  step('an auditor sees the queue but cannot approve, edit a policy or open the user admin');
  await page.getByRole('button', { name: /log out|sign out/i }).click();
  // dpkg: apt-get on this host is now allowed outright by the rule added above.
  const second = await submit('e2e-ticket-4712', ['/usr/bin/dpkg', '--configure', '-a']);
  assert.equal(second.status, 201, second.body);
  await login(AUDITOR, AUDITOR_PASSWORD);
  const pending = page.locator('article, li, tr', { hasText: 'e2e-ticket-4712' }).first();
  await pending.waitFor({ timeout: 5000 });
  assert.equal(await pending.getByRole('button', { name: /approve/i }).count(), 0, 'an auditor is offered approve');
  await shot('queue-auditor');
  const auditorNav = await page.getByRole('navigation', { name: 'Main' }).innerText();
  assert.ok(!/Users/.test(auditorNav), `an auditor is offered the user admin: ${auditorNav}`);
  assert.ok(!/Notifications/.test(auditorNav), `an auditor is offered the notifications: ${auditorNav}`);
  await page.goto(`${server.url}/#/users`);
  await page.getByText('Your role (auditor) cannot open this page.').waitFor({ timeout: 5000 });
  // Not even asked: hoistd would refuse it, and audit the refusal.
  const notifyCalls = [];
  const onNotifyCall = (r) => { if (r.url().includes('/api/v1/notify/')) notifyCalls.push(r.url()); };
  page.on('request', onNotifyCall);
  await page.goto(`${server.url}/#/notifications`);
  await page.getByText('Your role (auditor) cannot open this page.').waitFor({ timeout: 5000 });
  await page.waitForLoadState('networkidle');
  page.off('request', onNotifyCall);
  assert.deepEqual(notifyCalls, [], 'the console called the notify API for an auditor');
  await page.goto(`${server.url}/#/policies/base`);
  await page.getByLabel('Policy text (TOML, read-only)').waitFor({ timeout: 5000 });
  assert.equal(await page.getByRole('button', { name: /^Save as version/ }).count(), 0, 'an auditor is offered to save a policy');
  const auditorApi = await tokenFor(server, AUDITOR, AUDITOR_PASSWORD);
  const auditorChannels = await server.call('GET', '/api/v1/notify/channels', { headers: auditorApi });
  assert.equal(auditorChannels.status, 403, auditorChannels.body);
  const refused = await server.call('POST', `/api/v1/requests/${second.json.request.id}/approve`, {
    body: {}, headers: auditorApi,
  });
  assert.equal(refused.status, 403, refused.body);

  step('a link to one request survives the login, and an approval from an old login asks for the password again');
  // A second hoistd whose console logins need a step-up after 2 s.
  stepUpServer = await startHoistd({ hoistd: args.hoistd, consoleDir: args.console, config: '[console]\nstep_up_after = "2s"\n' });
  const admin2 = await tokenFor(stepUpServer, ADMIN, ADMIN_PASSWORD);
  assert.equal((await stepUpServer.call('PUT', '/api/v1/policies/base', { body: { text: POLICY }, headers: admin2 })).status, 201);
  assert.equal((await stepUpServer.call('PUT', '/api/v1/policies/base/labels', { body: { labels: ['lab'] }, headers: admin2 })).status, 200);
  const enrol2 = await stepUpServer.call('POST', '/api/v1/enrolment-tokens', { body: { labels: ['lab'] }, headers: admin2 });
  const agent2 = await stepUpServer.call('POST', '/api/v1/agent/enrol', { body: { token: enrol2.json.token, hostname: 'desk-e2e', agent_version: 'e2e' } });
  assert.equal(agent2.status, 201, agent2.body);
  const linked = await stepUpServer.call('POST', '/api/v1/agent/requests', {
    headers: { authorization: `Bearer ${agent2.json.credential}` },
    body: {
      kind: 'command', user: 'dave', groups: ['staff'], justification: 'e2e-deep-link-4720', duration_s: 900,
      command: { path: '/usr/bin/apt-get', argv: ['apt-get', 'install', 'htop'], trusted_path: true, sha256: APT_SHA256, package: { name: 'apt', verified: true } },
    },
  });
  assert.equal(linked.status, 201, linked.body);
  const linkedId = linked.json.request.id;
  // A fresh browser, logged out, opens the link a notification would carry.
  const desk = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  deskPage = await desk.newPage();
  deskPage.on('pageerror', (e) => browserErrors.push(`desk page: ${e.message}`));
  const deskErrors = [];
  deskPage.on('console', (m) => { if (m.type() === 'error') deskErrors.push(m.text()); });
  await deskPage.goto(`${stepUpServer.url}/#/requests/${linkedId}`);
  await deskPage.getByRole('button', { name: /log in/i }).waitFor({ timeout: 10000 });
  await deskPage.getByLabel(/user/i).fill(ADMIN);
  await deskPage.getByLabel(/password/i).fill(ADMIN_PASSWORD);
  await deskPage.getByRole('button', { name: /log in/i }).click();
  await deskPage.waitForURL(new RegExp(`#/requests/${linkedId}$`), { timeout: 10000 });
  const facts = deskPage.locator('dl.request-facts');
  await facts.getByText('e2e-deep-link-4720').waitFor({ timeout: 5000 });
  await deskPage.waitForLoadState('networkidle');
  assert.match(deskPage.url(), new RegExp(`#/requests/${linkedId}$`), 'the deep link did not stay after the login');
  const factsText = await facts.innerText();
  for (const want of ['dave', 'desk-e2e', 'apt-get install htop', APT_SHA256, 'apt', '15m', 'installs', 'Waits until']) {
    assert.ok(factsText.includes(want), `the request page does not show ${want}: ${factsText}`);
  }
  await deskPage.screenshot({ path: join(args.artifacts, 'request-deep-link.png'), fullPage: true });
  // A malformed id in a link is no page: no API call, no redirect.
  await deskPage.goto(`${stepUpServer.url}/#/requests/${encodeURIComponent('../users')}`);
  await deskPage.getByRole('heading', { name: 'No such page' }).waitFor({ timeout: 5000 });
  await deskPage.goto(`${stepUpServer.url}/#/requests/${linkedId}`);
  await facts.getByText('e2e-deep-link-4720').waitFor({ timeout: 5000 });
  // The login is now older than 2 s: hoistd refuses the approval until the
  // password is typed again, and the console asks for it.
  await deskPage.waitForTimeout(3500); // hoistd counts whole seconds: past 2 s whatever the rounding
  await deskPage.getByRole('button', { name: /^Approve \d/ }).click();
  const confirm = deskPage.getByRole('dialog', { name: 'Confirm your password' });
  await confirm.waitFor({ timeout: 5000 });
  assert.equal((await stepUpServer.call('GET', `/api/v1/requests/${linkedId}`, { headers: admin2 })).json.state, 'pending',
    'approved before the password was confirmed');
  await confirm.getByLabel('Password').fill('not-the-password');
  await confirm.getByRole('button', { name: 'Confirm and continue' }).click();
  await confirm.getByText('Wrong password.').waitFor({ timeout: 5000 });
  await deskPage.screenshot({ path: join(args.artifacts, 'step-up.png'), fullPage: true });
  assert.equal((await stepUpServer.call('GET', `/api/v1/requests/${linkedId}`, { headers: admin2 })).json.state, 'pending');
  await confirm.getByLabel('Password').fill(ADMIN_PASSWORD);
  await confirm.getByRole('button', { name: 'Confirm and continue' }).click();
  await confirm.waitFor({ state: 'detached', timeout: 5000 });
  const linkedState = async () => (await stepUpServer.call('GET', `/api/v1/requests/${linkedId}`, { headers: admin2 })).json;
  for (let i = 0; i < 50 && (await linkedState()).state === 'pending'; ++i) await deskPage.waitForTimeout(100);
  const decided = await linkedState();
  assert.equal(decided.state, 'approved', JSON.stringify(decided));
  assert.equal(decided.review.reviewer, ADMIN);
  await deskPage.locator('tr.audit-row', { hasText: 'approved dave’s request' }).waitFor({ timeout: 5000 });
  const logins = (await stepUpServer.call('GET', `/api/v1/audit?target=${ADMIN}`, { headers: admin2 })).json.events;
  assert.ok(logins.some((e) => e.action === 'user.login' && e.details.step_up === true), JSON.stringify(logins));
  assert.ok(logins.some((e) => e.action === 'user.login_failed' && e.details.step_up === true), JSON.stringify(logins));
  // Giving up leaves a request as it was.
  const second2 = await stepUpServer.call('POST', '/api/v1/agent/requests', {
    headers: { authorization: `Bearer ${agent2.json.credential}` },
    body: { kind: 'command', user: 'dave', groups: ['staff'], justification: 'e2e-step-up-cancel', duration_s: 900,
      command: { path: '/usr/bin/dpkg', argv: ['dpkg', '-l'], trusted_path: true } },
  });
  await deskPage.goto(`${stepUpServer.url}/#/requests/${second2.json.request.id}`);
  await deskPage.waitForTimeout(3500); // hoistd counts whole seconds: past 2 s whatever the rounding
  await deskPage.getByRole('button', { name: 'Deny…' }).click();
  const denyBox = deskPage.getByRole('dialog', { name: "Deny dave's request" });
  await denyBox.getByRole('button', { name: 'Deny', exact: true }).click();
  await confirm.waitFor({ timeout: 5000 });
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await confirm.waitFor({ state: 'detached', timeout: 5000 });
  await deskPage.getByText(/^Not done: your password was not confirmed/).waitFor({ timeout: 5000 });
  assert.equal((await stepUpServer.call('GET', `/api/v1/requests/${second2.json.request.id}`, { headers: admin2 })).json.state, 'pending');
  // The refusals the test provoked (403) and nothing else reach the browser's console.
  const unexpected = deskErrors.filter((t) => !/status of 403/.test(t));
  assert.deepEqual(unexpected, [], 'errors in the desk browser console');
  await desk.close();

  for (const e of consoleErrors) {
    if (/status of 401/.test(e.text) && expected401.has(e.url)) continue;
    browserErrors.push(`console: ${e.text} (${e.url})`);
  }
  assert.deepEqual(browserErrors, [], 'errors in the browser console');
  console.log(`console e2e: ${steps.length} steps passed; screenshots in ${args.artifacts}`);
} catch (e) {
  console.error(`console e2e failed at "${steps.at(-1)}": ${e.stack ?? e}`);
  if (page) await page.screenshot({ path: join(args.artifacts, 'failure.png'), fullPage: true }).catch(() => {});
  if (deskPage) await deskPage.screenshot({ path: join(args.artifacts, 'failure-desk.png'), fullPage: true }).catch(() => {});
  if (browserErrors.length) console.error(`browser errors:\n${browserErrors.join('\n')}`);
  console.error(`--- hoistd's log ---\n${server.log().slice(-4000)}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  await server.stop();
  if (stepUpServer) await stepUpServer.stop();
}
