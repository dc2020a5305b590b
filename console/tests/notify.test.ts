import { describe, expect, it } from 'vitest';
import {
  CHANNEL_KINDS,
  KIND_FIELDS,
  createBody,
  deliveriesUrl,
  deliveryFiltersFromQuery,
  deliverySummary,
  destinationText,
  emptyForm,
  eventPatternProblem,
  failureText,
  fieldsOf,
  filtersText,
  findLastDelivery,
  formFromChannel,
  mergeDeliveries,
  generateWebhookSecret,
  httpsUrlProblem,
  isEmailAddress,
  isWebhookSecret,
  patchBody,
  secretSpec,
  secretText,
  shownFields,
  smtpUrlProblem,
  testOutcome,
  unknownConfig,
  validateForm,
  type Channel,
  type ChannelForm,
  type Delivery,
} from '../src/lib/notify';

const NOW = Date.parse('2026-03-02T10:00:00Z');

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}
function zeros(n: number, fill = 0): string {
  return b64(new Uint8Array(n).fill(fill));
}
const SECRET = `whsec_${zeros(32, 7)}`;

function channel(over: Partial<Channel> = {}): Channel {
  return {
    id: 'ch-0123456789abcdef',
    kind: 'webhook',
    name: 'SOC',
    enabled: true,
    events: ['request.*'],
    config: { url: 'https://soc.example.com/hook', ca_file: null, timeout_s: 10 },
    secret: { set: true, previous_valid_until: null },
    version: 3,
    created_by: 'admin',
    created_at: '2026-03-01T10:00:00Z',
    updated_at: '2026-03-01T10:00:00Z',
    ...over,
  };
}

function delivery(over: Partial<Delivery> = {}): Delivery {
  return {
    id: 12,
    channel: 'ch-0123456789abcdef',
    audit_seq: 40,
    event: { id: 'evt_40_00', seq: 40, kind: 'notify.channel_tested', target: 'ch-0123456789abcdef', time: '2026-03-02T09:59:00Z' },
    state: 'pending',
    attempts: 0,
    next_attempt_at: '2026-03-02T09:59:00Z',
    last_error: null,
    last_status: null,
    created_at: '2026-03-02T09:59:00Z',
    finished_at: null,
    ...over,
  };
}

function webhookForm(over: Partial<ChannelForm> = {}): ChannelForm {
  const f = emptyForm('webhook');
  return { ...f, name: 'SOC', config: { ...f.config, url: 'https://soc.example.com/hook' }, secret: SECRET, ...over };
}

describe('webhook secrets', () => {
  it('generates whsec_ and the base64 of 32 random bytes from the source it is given', () => {
    const asked: number[] = [];
    const s = generateWebhookSecret((n) => {
      asked.push(n);
      return Uint8Array.from({ length: n }, (_, i) => i);
    });
    expect(asked).toEqual([32]);
    expect(s).toBe(`whsec_${b64(Uint8Array.from({ length: 32 }, (_, i) => i))}`);
    expect(isWebhookSecret(s)).toBe(true);
  });

  it('uses crypto.getRandomValues by default: two secrets differ and decode to 32 bytes', () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).not.toBe(b);
    expect(atob(a.slice('whsec_'.length))).toHaveLength(32);
  });

  it('refuses a random source that gives the wrong length', () => {
    expect(() => generateWebhookSecret(() => new Uint8Array(16))).toThrow(/bug/);
  });

  it.each([
    [SECRET, true],
    [`whsec_${zeros(24)}`, true],
    [`whsec_${zeros(64)}`, true],
    [`whsec_${zeros(23)}`, false],
    [`whsec_${zeros(65)}`, false],
    [zeros(32), false],
    ['whsec_', false],
    [`whsec_${zeros(32).replace('=', '')}`, false],
    [`whsec_${'A'.repeat(42)}-_`, false],
  ])('%s is a webhook secret: %s', (s, ok) => {
    expect(isWebhookSecret(s)).toBe(ok);
  });
});

describe('checks', () => {
  it.each([
    ['https://soc.example.com/hook', undefined],
    ['https://127.0.0.1:9/hook?x=1', undefined],
    ['https://[::1]:8443/', undefined],
    ['http://soc.example.com/hook', 'Only https:// is allowed'],
    ['https://user:pw@soc.example.com/', 'No user name or password in the URL'],
    ['https://soc.example.com/#frag', 'No fragment (#…) in the URL'],
    ['https://soc.example.com/a b', 'A URL is printable ASCII without blanks'],
    ['soc.example.com/hook', 'Not a URL: write https://HOST[:PORT]/PATH'],
    [`https://x.example/${'a'.repeat(2048)}`, 'At most 2048 characters'],
  ])('https URL %s -> %s', (url, problem) => {
    expect(httpsUrlProblem(url)).toBe(problem);
  });

  it.each([
    ['smtp://mail.example.com:587', true],
    ['smtps://mail.example.com:465', true],
    ['smtp://127.0.0.1:2525/', true],
    ['smtp://[::1]:25', true],
    ['smtp://mail.example.com', true],
    ['http://mail.example.com:25', false],
    ['smtp://mail.example.com:0', false],
    ['smtp://mail.example.com:70000', false],
    ['smtp://user@mail.example.com:25', false],
    ['smtp://mail.example.com:25/path', false],
  ])('SMTP URL %s usable: %s', (url, ok) => {
    expect(smtpUrlProblem(url) === undefined).toBe(ok);
  });

  it.each([
    ['help-desk@example.com', true],
    ['a.b+c@mail.example.co.uk', true],
    ['Help Desk <help@example.com>', false],
    ['help@example.com\r\nBcc: x@evil.example', false],
    ['help@', false],
    ['@example.com', false],
    ['a@b@example.com', false],
    ['a,b@example.com', false],
  ])('address %j: %s', (a, ok) => {
    expect(isEmailAddress(a)).toBe(ok);
  });

  it.each([
    ['C0123456789', true],
    ['G01ABCDEF', true],
    ['D024BE91L', true],
    ['U0123456789', false], // a user, not a channel: hoistd refuses it too
    ['W0123', false],
    ['C', false],
    ['c0123456789', false],
    ['#general', false],
    [`C${'A'.repeat(31)}`, true],
    [`C${'A'.repeat(32)}`, false],
  ])('Slack channel id %s usable: %s', (id, ok) => {
    const field = fieldsOf('slack').find((f) => f.key === 'channel');
    expect(field?.check?.(id) === undefined).toBe(ok);
  });

  it.each([
    ['*', undefined],
    ['request.*', undefined],
    ['request.created', undefined],
    ['notify.*', undefined],
    ['endpoint.anything_new', undefined],
    ['request.create', '“request.create” is not an audit kind (a prefix ends in .*)'],
    ['nothing.*', '“nothing.*” names no audit kind'],
    ['Request.*', '“Request.*” has characters an audit kind does not have'],
    ['.request', '“.request” has characters an audit kind does not have'],
    ['request*', '“request*” has characters an audit kind does not have'],
  ])('event pattern %s -> %s', (p, problem) => {
    expect(eventPatternProblem(p)).toBe(problem);
  });
});

describe('the channel form', () => {
  it('has fields for every kind, and a new form takes their defaults', () => {
    for (const kind of CHANNEL_KINDS) {
      const f = emptyForm(kind);
      expect(f.kind).toBe(kind);
      expect(f.events).toBe('request.*');
      expect(f.secret).toBe('');
      expect(Object.keys(f.config).sort()).toEqual(KIND_FIELDS[kind].map((x) => x.key).sort());
      expect(f.config.timeout_s).toBe('10');
    }
    expect(emptyForm('slack').config.mode).toBe('webhook');
  });

  it('creates a webhook with exactly the fields hoistd takes', () => {
    const body = createBody(webhookForm({ name: '  SOC  ', events: 'request.*, grant.revoked', config: { url: ' https://soc.example.com/hook ', ca_file: '', timeout_s: '15' } }));
    expect(body).toEqual({
      kind: 'webhook',
      name: 'SOC',
      events: ['request.*', 'grant.revoked'],
      enabled: true,
      config: { url: 'https://soc.example.com/hook', timeout_s: 15 },
      secret: SECRET,
    });
  });

  it('sends filters only when the admin set some', () => {
    expect(createBody(webhookForm())).not.toHaveProperty('filters');
    expect(createBody(webhookForm({ labels: 'lab kiosks', rules: '' })).filters).toEqual({ labels: ['lab', 'kiosks'], rules: [] });
  });

  it('maps each kind to its config', () => {
    const slack = emptyForm('slack');
    expect(createBody({ ...slack, name: 'ops', config: { ...slack.config, channel: 'C012', api_url: 'https://x.example/api' }, secret: ' https://hooks.slack.com/services/T/B/x ' })).toEqual({
      kind: 'slack',
      name: 'ops',
      events: ['request.*'],
      enabled: true,
      // webhook mode: the bot's fields are not offered, so not sent
      config: { mode: 'webhook', timeout_s: 10 },
      secret: 'https://hooks.slack.com/services/T/B/x',
    });
    const bot = { ...slack, name: 'ops', config: { ...slack.config, mode: 'bot', channel: 'C0123456789' }, secret: 'xoxb-1-2-abc' };
    expect(createBody(bot).config).toEqual({ mode: 'bot', channel: 'C0123456789', timeout_s: 10 });
    const email = emptyForm('email');
    const mail = {
      ...email,
      name: 'help desk',
      config: { ...email.config, smtp_url: 'smtp://mail.example.com:587', from: 'hoist@example.com', to: 'a@example.com, b@example.com', requester_template: '{user}@example.com' },
      secret: ' pass word ',
    };
    expect(validateForm(mail, { creating: true })).toEqual({});
    expect(createBody(mail)).toEqual({
      kind: 'email',
      name: 'help desk',
      events: ['request.*'],
      enabled: true,
      config: { smtp_url: 'smtp://mail.example.com:587', from: 'hoist@example.com', to: ['a@example.com', 'b@example.com'], requester_template: '{user}@example.com', timeout_s: 10 },
      // a password is sent as typed
      secret: ' pass word ',
    });
    // no password: no secret at all
    expect(createBody({ ...mail, secret: '' })).not.toHaveProperty('secret');
  });

  it('says what is wrong, by field', () => {
    expect(validateForm(webhookForm(), { creating: true })).toEqual({});
    const e = validateForm(
      webhookForm({ name: ' ', events: 'request.*, nope', labels: 'Lab', rules: 'a rule!', config: { url: 'http://x', ca_file: 'relative.pem', timeout_s: '0' }, secret: 'hunter2' }),
      { creating: true },
    );
    expect(Object.keys(e).sort()).toEqual(['config.ca_file', 'config.timeout_s', 'config.url', 'events', 'labels', 'name', 'rules', 'secret']);
    expect(e['config.url']).toBe('Only https:// is allowed');
    expect(e.events).toBe('“nope” is not an audit kind (a prefix ends in .*)');
    expect(validateForm(webhookForm({ events: '' }), { creating: true }).events).toMatch(/At least one/);
    expect(validateForm(webhookForm({ kind: 'pager' }), { creating: true }).kind).toMatch(/webhook, slack, teams, email/);
  });

  it('needs a secret to create, but not to edit', () => {
    expect(validateForm(webhookForm({ secret: '' }), { creating: true }).secret).toBe('Signing secret is needed');
    expect(validateForm(webhookForm({ secret: '' }), { creating: false })).toEqual({});
    const email = { ...emptyForm('email'), name: 'm', config: { ...emptyForm('email').config, smtp_url: 'smtps://m.example:465', from: 'h@example.com', to: 'a@example.com' } };
    expect(validateForm(email, { creating: true })).toEqual({});
  });

  it('checks the secret the kind and mode want', () => {
    const slack = { ...emptyForm('slack'), name: 's' };
    expect(validateForm({ ...slack, secret: 'xoxb-1' }, { creating: true }).secret).toBe('Not a URL: write https://HOST[:PORT]/PATH');
    expect(validateForm({ ...slack, secret: 'http://hooks.slack.com/x' }, { creating: true }).secret).toBe('Only https:// is allowed');
    const bot = { ...slack, config: { ...slack.config, mode: 'bot', channel: 'C1234' } };
    expect(validateForm({ ...bot, secret: 'https://hooks.slack.com/x' }, { creating: true }).secret).toBe('A Slack bot token starts with xoxb-');
    expect(validateForm({ ...bot, secret: 'xoxb-123-abc' }, { creating: true })).toEqual({});
    expect(validateForm({ ...bot, config: { ...bot.config, channel: '' }, secret: 'xoxb-1' }, { creating: true })['config.channel']).toBe('Slack channel id is needed');
    expect(validateForm({ ...bot, config: { ...bot.config, channel: '#ops' }, secret: 'xoxb-1' }, { creating: true })['config.channel']).toMatch(/capital letters/);
    const teams = { ...emptyForm('teams'), name: 't' };
    expect(validateForm(teams, { creating: true }).secret).toBe('Workflows webhook URL is needed');
    expect(validateForm({ ...teams, secret: 'https://prod.example.logic.azure.com/workflows/1' }, { creating: true })).toEqual({});
    expect(secretSpec('webhook', {}).generate).toBe(true);
    expect(secretSpec('email', {}).required).toBe(false);
  });

  it('checks email settings', () => {
    const email = emptyForm('email');
    const e = validateForm(
      { ...email, name: 'm', config: { ...email.config, smtp_url: 'smtp://m', from: 'Hoist <h@example.com>', to: 'a@example.com nope', requester_template: 'admin@example.com' } },
      { creating: true },
    );
    expect(e['config.from']).toMatch(/hoist@example.com/);
    expect(e['config.to']).toBe('“nope” is not an address such as help-desk@example.com');
    expect(e['config.requester_template']).toMatch(/\{user\}/);
    expect(e['config.smtp_url']).toBeUndefined();
    expect(validateForm({ ...email, name: 'm' }, { creating: true })['config.to']).toBe('To is needed');
  });

  it('offers the Slack bot fields only in bot mode', () => {
    expect(shownFields('slack', { mode: 'webhook' }).map((f) => f.key)).toEqual(['mode', 'ca_file', 'timeout_s']);
    expect(shownFields('slack', { mode: 'bot' }).map((f) => f.key)).toEqual(['mode', 'channel', 'api_url', 'ca_file', 'timeout_s']);
    expect(shownFields('pager', {})).toEqual([]);
  });
});

describe('editing a channel', () => {
  it('reads a channel into the form, never a secret', () => {
    const f = formFromChannel(channel({ filters: { labels: ['lab'], rules: ['installs', 'x'] } }));
    expect(f).toMatchObject({ kind: 'webhook', name: 'SOC', events: 'request.*', labels: 'lab', rules: 'installs, x', secret: '' });
    expect(f.config).toEqual({ url: 'https://soc.example.com/hook', ca_file: '', timeout_s: '10' });
    const mail = formFromChannel(channel({ kind: 'email', config: { smtp_url: 'smtp://m:25', from: 'h@example.com', to: ['a@example.com', 'b@example.com'] } }));
    expect(mail.config.to).toBe('a@example.com, b@example.com');
    expect(mail.config.timeout_s).toBe('10');
  });

  it('sends nothing when nothing changed', () => {
    const c = channel();
    expect(patchBody(c, formFromChannel(c))).toBeNull();
  });

  it('sends only what changed, with the version', () => {
    const c = channel();
    const f = formFromChannel(c);
    expect(patchBody(c, { ...f, enabled: false })).toEqual({ enabled: false, version: 3 });
    expect(patchBody(c, { ...f, name: 'SOC 2', events: 'request.*,grant.*' })).toEqual({ name: 'SOC 2', events: ['request.*', 'grant.*'], version: 3 });
    expect(patchBody(c, { ...f, config: { ...f.config, timeout_s: '20' } })).toEqual({ config: { timeout_s: 20 }, version: 3 });
    // an emptied optional field is cleared
    const withCa = channel({ config: { url: 'https://soc.example.com/hook', ca_file: '/etc/ca.pem', timeout_s: 10 } });
    expect(patchBody(withCa, { ...formFromChannel(withCa), config: { ...formFromChannel(withCa).config, ca_file: '' } })).toEqual({ config: { ca_file: null }, version: 3 });
  });

  it('does not send a field back because it reads differently', () => {
    // hoistd left out the timeout: the form shows its default
    const slack = channel({ kind: 'slack', config: { mode: 'bot', channel: 'C1' } });
    expect(patchBody(slack, { ...formFromChannel(slack), name: 'ops' })).toEqual({ name: 'ops', version: 3 });
    // a bot moved to an incoming webhook: what only a bot has is cleared (null)
    const toWebhook = formFromChannel(slack);
    expect(patchBody(slack, { ...toWebhook, config: { ...toWebhook.config, mode: 'webhook' } })).toEqual({
      config: { channel: null, mode: 'webhook' },
      version: 3,
    });
    // the same recipients, written another way
    const mail = channel({ kind: 'email', config: { smtp_url: 'smtp://m:25', from: 'h@example.com', to: ['a@example.com', 'b@example.com'], timeout_s: 10 } });
    const f = formFromChannel(mail);
    expect(patchBody(mail, { ...f, config: { ...f.config, to: 'a@example.com b@example.com' } })).toBeNull();
    expect(patchBody(mail, { ...f, config: { ...f.config, to: 'b@example.com' } })).toEqual({ config: { to: ['b@example.com'] }, version: 3 });
  });

  it('rotates a webhook secret with how long the old one still signs', () => {
    const c = channel();
    const f = formFromChannel(c);
    expect(f.keepOldSecretS).toBe(86400);
    expect(patchBody(c, { ...f, secret: ` ${SECRET} ` })).toEqual({ secret: SECRET, previous_secret_valid_for_s: 86400, version: 3 });
    expect(patchBody(c, { ...f, secret: SECRET, keepOldSecretS: 0 })).toEqual({ secret: SECRET, previous_secret_valid_for_s: 0, version: 3 });
    // nothing to keep when there was no secret; other kinds do not sign
    expect(patchBody(channel({ secret: { set: false, previous_valid_until: null } }), { ...f, secret: SECRET })).toEqual({ secret: SECRET, version: 3 });
    const teams = channel({ kind: 'teams', config: { timeout_s: 10 } });
    expect(patchBody(teams, { ...formFromChannel(teams), secret: 'https://t.example/w' })).toEqual({ secret: 'https://t.example/w', version: 3 });
  });

  it('changes and clears filters', () => {
    const c = channel({ filters: { labels: ['lab'], rules: [] } });
    const f = formFromChannel(c);
    expect(patchBody(c, f)).toBeNull();
    expect(patchBody(c, { ...f, labels: '' })).toEqual({ filters: { labels: [], rules: [] }, version: 3 });
    expect(patchBody(channel(), { ...formFromChannel(channel()), rules: 'installs' })).toEqual({ filters: { labels: [], rules: ['installs'] }, version: 3 });
  });

  it('shows fields it does not know read-only and never sends them', () => {
    const c = channel({ kind: 'slack', config: { mode: 'bot', channel: 'C1', timeout_s: 10, thread: true, retries: { max: 3 }, icons: ['a', 'b'] } });
    expect(unknownConfig(c)).toEqual([
      { key: 'icons', value: 'a, b' },
      { key: 'retries', value: '{"max":3}' },
      { key: 'thread', value: 'true' },
    ]);
    const f = formFromChannel(c);
    expect(Object.keys(f.config)).not.toContain('thread');
    expect(patchBody(c, { ...f, name: 'x' })).toEqual({ name: 'x', version: 3 });
    // a kind this console does not know: every field is read-only
    expect(unknownConfig(channel({ kind: 'pager', config: { url: 'u' } }))).toEqual([{ key: 'url', value: 'u' }]);
  });
});

describe('reading channels', () => {
  it('says where a channel sends, never a secret', () => {
    expect(destinationText(channel())).toBe('https://soc.example.com/hook');
    expect(destinationText(channel({ kind: 'slack', config: { mode: 'bot', channel: 'C1' } }))).toBe('bot token, to channel C1');
    expect(destinationText(channel({ kind: 'slack', config: { mode: 'webhook' } }))).toBe('incoming webhook');
    expect(destinationText(channel({ kind: 'email', config: { smtp_url: 'smtp://m:25', to: ['a@x.example'], requester_template: '{user}@x.example' } }))).toBe(
      'a@x.example via smtp://m:25, and the requester ({user}@x.example)',
    );
  });

  it('reads filters and the secret', () => {
    expect(filtersText(undefined)).toBe('every endpoint and rule');
    expect(filtersText({ labels: ['lab'], rules: ['a', 'b'] })).toBe('only endpoints labelled lab; rules a, b');
    expect(secretText(channel(), NOW)).toBe('set');
    expect(secretText(channel({ secret: { set: false, previous_valid_until: null } }), NOW)).toBe('none');
    expect(secretText(channel({ secret: { set: true, previous_valid_until: '2026-03-03T10:00:00Z' } }), NOW)).toMatch(/^set; the previous one also signs until 2026-03-0/);
    expect(secretText(channel({ secret: { set: true, previous_valid_until: '2026-03-01T10:00:00Z' } }), NOW)).toBe('set');
  });
});

describe('deliveries', () => {
  it('builds the log query with hoistd’s names only', () => {
    expect(deliveriesUrl({})).toBe('/api/v1/notify/deliveries');
    expect(deliveriesUrl({ channel: 'ch-ab', state: 'dead' }, { after: 40, limit: 5000 })).toBe('/api/v1/notify/deliveries?channel=ch-ab&state=dead&after=40&limit=1000');
    expect(deliveriesUrl({}, { after: 0, limit: 1 })).toBe('/api/v1/notify/deliveries?after=0&limit=1');
    expect(deliveriesUrl({}, { after: null })).toBe('/api/v1/notify/deliveries');
  });

  it('keeps only well-formed filters from the route', () => {
    expect(deliveryFiltersFromQuery({ channel: 'ch-0123abcd', state: 'dead', x: '1' })).toEqual({ channel: 'ch-0123abcd', state: 'dead' });
    expect(deliveryFiltersFromQuery({ channel: '../users', state: 'gone' })).toEqual({});
  });

  it('summarises each state', () => {
    expect(deliverySummary(delivery(), NOW)).toEqual({ badge: 'pending', label: 'queued', text: 'not sent yet; next attempt now' });
    expect(
      deliverySummary(delivery({ attempts: 2, last_error: 'connect: Connection refused', next_attempt_at: '2026-03-02T10:00:30Z' }), NOW),
    ).toEqual({ badge: 'pending', label: 'retrying', text: 'attempt 2 failed: connect: Connection refused; next attempt in 30s' });
    expect(deliverySummary(delivery({ state: 'dead', attempts: 1, last_status: 404, last_error: 'not\nfound', finished_at: '2026-03-02T09:59:01Z' }), NOW)).toEqual({
      badge: 'denied',
      label: 'dead',
      text: 'given up after 1 attempt: HTTP 404: not found',
    });
    const ok = deliverySummary(delivery({ state: 'delivered', attempts: 3, last_status: 200, finished_at: '2026-03-02T09:59:05Z' }), NOW);
    expect(ok.badge).toBe('approved');
    expect(ok.text).toMatch(/^delivered 2026-03-02 \d\d:59:05 after 3 attempts$/);
  });

  it('shows a receiver’s words as plain, visible, short text', () => {
    expect(failureText({ last_status: null, last_error: null })).toBe('no answer recorded');
    expect(failureText({ last_status: 503, last_error: null })).toBe('HTTP 503');
    expect(failureText({ last_status: 404, last_error: 'HTTP 404: {"error":1}: the receiver refused it (not retried)' })).toBe(
      'HTTP 404: {"error":1}: the receiver refused it (not retried)',
    );
    const long = failureText({ last_status: 400, last_error: `<b>bad</b>\u202e${'x'.repeat(500)}` });
    expect(long.startsWith('HTTP 400: <b>bad</b>\\u{202E}x')).toBe(true);
    expect(Array.from(long.slice('HTTP 400: '.length))).toHaveLength(200);
    expect(long.endsWith('…')).toBe(true);
  });

  it('follows a test until its first attempt is known', () => {
    expect(testOutcome(delivery(), NOW)).toEqual({ done: false, ok: false, text: 'Queued as delivery 12; waiting for the first attempt…' });
    const failed = testOutcome(delivery({ attempts: 1, last_error: 'connection refused', next_attempt_at: '2026-03-02T10:00:05Z' }), NOW);
    expect(failed).toMatchObject({ done: true, ok: false });
    expect(failed.text).toBe('Attempt 1 failed: connection refused. hoistd tries again (next attempt in 5s); the delivery log follows it.');
    expect(testOutcome(delivery({ state: 'delivered', attempts: 1, last_status: 204 }), NOW)).toMatchObject({ done: true, ok: true, text: 'Delivered (HTTP 204): the receiver took the test message.' });
    expect(testOutcome(delivery({ state: 'dead', attempts: 1, last_status: 401 }), NOW).text).toMatch(/^Refused: HTTP 401\. It is kept as a dead letter/);
    // the receiver's own punctuation ends the sentence
    expect(testOutcome(delivery({ attempts: 1, last_error: 'is hoistd running there?', next_attempt_at: null }), NOW).text).toBe(
      'Attempt 1 failed: is hoistd running there? hoistd tries again (later); the delivery log follows it.',
    );
  });
});

describe('the log’s rows', () => {
  it('lists each delivery once, in id order, a re-driven one with the state read last', () => {
    const first = [delivery({ id: 1, state: 'delivered' }), delivery({ id: 2, state: 'dead' })];
    const more = [delivery({ id: 2, state: 'delivered' }), delivery({ id: 3 })];
    const redriven = delivery({ id: 2, state: 'pending', attempts: 0 });
    expect(mergeDeliveries(first, more, []).map((d) => [d.id, d.state])).toEqual([[1, 'delivered'], [2, 'dead'], [3, 'pending']]);
    expect(mergeDeliveries(first, more, [redriven]).map((d) => [d.id, d.state])).toEqual([[1, 'delivered'], [2, 'pending'], [3, 'pending']]);
    // filtered to dead letters, a re-driven one stays in view though the page no longer has it
    expect(mergeDeliveries([], [], [delivery({ id: 9, state: 'pending' })]).map((d) => d.id)).toEqual([9]);
  });
});

describe('the newest delivery of a channel', () => {
  // hoistd's answer to ?channel=C&after=A&limit=1, over these ids.
  function store(ids: number[]) {
    const sorted = [...ids].sort((a, b) => a - b);
    const calls: number[] = [];
    const firstAfter = (after: number) => {
      calls.push(after);
      const id = sorted.find((x) => x > after);
      return Promise.resolve(id === undefined ? null : delivery({ id }));
    };
    return { firstAfter, calls };
  }

  it('is null without deliveries', async () => {
    const s = store([]);
    expect(await findLastDelivery(s.firstAfter)).toBeNull();
    expect(s.calls).toEqual([0]);
  });

  it.each([[[1]], [[5]], [[1, 2, 3]], [[3, 9, 10, 11, 500, 501, 1000]], [[7, 8, 100000]], [Array.from({ length: 300 }, (_, i) => 3 * i + 2)]])(
    'finds the largest of %j',
    async (ids) => {
      const s = store(ids);
      expect((await findLastDelivery(s.firstAfter))?.id).toBe(Math.max(...ids));
    },
  );

  it('needs about 2·log2 calls, not one per delivery', async () => {
    const ids = Array.from({ length: 100000 }, (_, i) => i + 1);
    const s = store(ids);
    expect((await findLastDelivery(s.firstAfter))?.id).toBe(100000);
    expect(s.calls.length).toBeLessThanOrEqual(2 * 17 + 2);
  });

  it('starts from the newest seen before: two calls when nothing new came, and finds newer ones', async () => {
    const s = store([3, 9, 10]);
    expect((await findLastDelivery(s.firstAfter, 10))?.id).toBe(10);
    expect(s.calls).toEqual([9, 10]);
    const t = store([3, 9, 10, 40, 41]);
    expect((await findLastDelivery(t.firstAfter, 10))?.id).toBe(41);
    // a hint past everything there is (another channel's id) still finds the newest
    const u = store([3, 9]);
    expect((await findLastDelivery(u.firstAfter, 50))?.id).toBe(9);
  });
});
