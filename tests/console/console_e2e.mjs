// The web console end to end: Debian's Chromium, driven by playwright-core,
// against the real hoistd serving the built console over HTTPS on loopback.
// A technician logs in; a request an agent submits appears in the queue
// without a reload; one click approves it; the audit row appears and the
// CSV export downloads; the grant is revoked; an offline code is made; an
// auditor sees the queue but cannot approve. A screenshot of each view is
// kept in the artifacts directory, and any error in the browser's console
// fails the test.
//
//   node tests/console/console_e2e.mjs --hoistd PATH --console DIR --artifacts DIR
import { mkdirSync } from 'node:fs';
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
`;

const steps = [];
function step(name) {
  steps.push(name);
  console.log(`- ${name}`);
}

const server = await startHoistd({ hoistd: args.hoistd, consoleDir: args.console });
let browser;
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
  const submit = (ticket, argv = ['/usr/bin/apt-get', 'install', 'nginx']) => server.call('POST', '/api/v1/agent/requests', {
    headers: agent,
    body: {
      kind: 'command', user: 'alice', groups: ['alice', 'staff'], justification: ticket, duration_s: 1800,
      command: { path: argv[0], argv: [argv[0].split('/').pop(), ...argv.slice(1)], trusted_path: true },
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
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') browserErrors.push(`console: ${m.text()}`); });
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

  for (const [view, name] of [['#/endpoints', 'endpoints'], ['#/policies', 'policies'], ['#/users', 'users']]) {
    await page.goto(`${server.url}/${view}`);
    await page.waitForLoadState('networkidle');
    await shot(name);
  }
  await page.setViewportSize({ width: 375, height: 800 });
  await page.goto(`${server.url}/#/queue`);
  await shot('queue-phone');
  await page.setViewportSize({ width: 1280, height: 900 });

  step('an auditor sees the queue but cannot approve');
  await page.getByRole('button', { name: /log out|sign out/i }).click();
  // dpkg: apt-get on this host is now allowed outright by the rule added above.
  const second = await submit('e2e-ticket-4712', ['/usr/bin/dpkg', '--configure', '-a']);
  assert.equal(second.status, 201, second.body);
  await login(AUDITOR, AUDITOR_PASSWORD);
  const pending = page.locator('article, li, tr', { hasText: 'e2e-ticket-4712' }).first();
  await pending.waitFor({ timeout: 5000 });
  assert.equal(await pending.getByRole('button', { name: /approve/i }).count(), 0, 'an auditor is offered approve');
  await shot('queue-auditor');
  const auditorApi = await tokenFor(server, AUDITOR, AUDITOR_PASSWORD);
  const refused = await server.call('POST', `/api/v1/requests/${second.json.request.id}/approve`, {
    body: {}, headers: auditorApi,
  });
  assert.equal(refused.status, 403, refused.body);

  assert.deepEqual(browserErrors, [], 'errors in the browser console');
  console.log(`console e2e: ${steps.length} steps passed; screenshots in ${args.artifacts}`);
} catch (e) {
  console.error(`console e2e failed at "${steps.at(-1)}": ${e.stack ?? e}`);
  if (browserErrors.length) console.error(`browser errors:\n${browserErrors.join('\n')}`);
  console.error(`--- hoistd's log ---\n${server.log().slice(-4000)}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  await server.stop();
}
