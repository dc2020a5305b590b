// The real hoistd for the console's browser tests: started on a private
// data directory and a free loopback port with the console's files, talked
// to over real HTTPS pinned to the CA file its ready file names. Node's
// own https module; nothing leaves loopback.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';

export const ADMIN = 'admin';
export const ADMIN_PASSWORD = 'console-e2e-admin-password-1';

// `config`: the text of its hoistd.toml (empty by default).
export async function startHoistd({ hoistd, consoleDir, config: configText = '' }) {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-console-e2e-'));
  const config = join(dir, 'hoistd.toml');
  writeFileSync(config, configText);
  const ready = join(dir, 'ready.json');
  const log = openSync(join(dir, 'hoistd.log'), 'a');
  const child = spawn(
    hoistd,
    ['--config', config, '--data-dir', join(dir, 'data'), '--port', '0', '--ready-file', ready,
     '--admin-user', ADMIN, '--console-dir', consoleDir],
    { env: { ...process.env, HOIST_ADMIN_PASSWORD: ADMIN_PASSWORD }, stdio: ['ignore', log, log] },
  );
  let exited = null;
  child.on('exit', (code, signal) => { exited = code ?? signal; });
  const deadline = Date.now() + 20000;
  while (!existsSync(ready) || readFileSync(ready, 'utf8').trim() === '') {
    if (exited !== null) throw new Error(`hoistd exited (${exited}) before it was ready:\n${readFileSync(join(dir, 'hoistd.log'), 'utf8')}`);
    if (Date.now() > deadline) throw new Error('hoistd was not ready after 20 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const info = JSON.parse(readFileSync(ready, 'utf8'));
  const ca = readFileSync(info.ca_file);
  const server = {
    dir,
    url: info.url,
    // hoistd's CA (a receiver on hoistd itself verifies with it)
    caFile: info.ca_file,
    log: () => readFileSync(join(dir, 'hoistd.log'), 'utf8'),
    // One HTTPS call: {status, headers, body, json}.
    call(method, path, { body, headers = {} } = {}) {
      return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
        const req = https.request(new URL(path, info.url), {
          method, ca, headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...headers },
        }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => { text += c; });
          res.on('end', () => {
            let json = null;
            try { json = JSON.parse(text); } catch { /* not JSON */ }
            resolve({ status: res.statusCode, headers: res.headers, body: text, json });
          });
        });
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
      });
    },
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM');
        const until = Date.now() + 10000;
        while (exited === null && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        if (exited === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

// An API token for a user (admin: the first admin), as a Bearer header.
export async function tokenFor(server, user, password) {
  const login = await server.call('POST', '/api/v1/login', { body: { user, password } });
  if (login.status !== 200) throw new Error(`login ${user}: ${login.status} ${login.body}`);
  const cookie = login.headers['set-cookie'][0].split(';')[0];
  const token = await server.call('POST', '/api/v1/tokens', {
    body: { label: 'console-e2e' },
    headers: { cookie, 'x-csrf-token': login.json.csrf_token },
  });
  if (token.status !== 201) throw new Error(`token for ${user}: ${token.status} ${token.body}`);
  return { authorization: `Bearer ${token.json.token}` };
}
