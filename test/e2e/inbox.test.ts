/**
 * The operator inbox end to end in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * a real `parley start` process on a real nats-server, its webhooks delivered to the simulated platform.
 * An operator signs in, a crisis message ingested over HTTP appears in the queue live (no reload), the
 * operator opens it with the keyboard and replies; the reply reaches the platform exactly once and the
 * conversation is automated again. A viewer sees but cannot resolve (buttons disabled, the server answers
 * 403 naming the role); two operators resolving one escalation at once: one wins, the other sees 409.
 * Screenshots of the queue and the conversation view are saved to test/e2e/screenshots/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import t from 'tap';
import { STREAMS } from '../../src/contracts/names.js';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import type { SimPlatform } from '../../src/sim/sim-platform.js';
import { executionRecord, startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, FIXTURE_RULES, ROOT, spawnCli, streamCount, tempDir, waitFor } from '../helpers/parley.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test/e2e/screenshots');
const PARTITIONS = 4;
const TENANT_TOKEN = 'e2e-token-acme';
const TOKENS = { alice: 'e2e-alice-token', bob: 'e2e-bob-token', vera: 'e2e-vera-token' };

if (!existsSync(CHROMIUM))
  throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)`);
// The page's script and styles are the bundled ones (dist/inbox), as npm start serves them.
execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
mkdirSync(SHOTS, { recursive: true });

/** Deliveries the simulated platform accepted for one conversation (duplicates are re-deliveries). */
function sendsTo(sim: SimPlatform, conversation: string) {
  return sim
    .sends()
    .filter((s) => (JSON.parse(s.body) as { conversation?: string }).conversation === conversation)
    .map((s) => ({ ...s, parsed: JSON.parse(s.body) as Record<string, unknown> }));
}

const nats = await startTestNats(t, { partitions: PARTITIONS });
const sim = await startSim(t);
const dir = tempDir(t, 'parley-e2e-');
const configFile = join(dir, 'parley.yaml');
writeFileSync(
  configFile,
  JSON.stringify({
    nats: { url: nats.url },
    dataDir: join(dir, 'data'),
    partitions: PARTITIONS,
    rules: FIXTURE_RULES,
    http: { host: '127.0.0.1', port: 0 },
    runtime: { leaseTtlMs: 3000 },
    log: { level: 'info', format: 'json' },
    tenants: {
      acme: {
        auth: { tokens: [TENANT_TOKEN] },
        channels: { webhook: { url: `${sim.url}/hooks/acme`, secret: 'e2e-webhook-secret-1234' } },
      },
    },
    operators: [
      { name: 'alice', token: TOKENS.alice, roles: ['reviewer', 'operator'] },
      { name: 'bob', token: TOKENS.bob, roles: ['reviewer'] },
      { name: 'vera', token: TOKENS.vera, roles: ['viewer'] },
    ],
  }),
);
const parley = spawnCli(t, ['start'], { PARLEY_CONFIG: configFile });
const listening = await parley.waitForLine(/"ingest API listening"/);
const base = (JSON.parse(listening) as { url: string }).url;
const h = await connect(t, nats.url);

const browser: Browser = await chromium.launch({ executablePath: CHROMIUM });
t.teardown(() => browser.close());

let n = 0;
async function ingest(conversation: string, text: string): Promise<void> {
  n++;
  const res = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TENANT_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      id: `e2e-${conversation}-${n}`,
      type: 'message.received',
      conversation,
      occurredAt: new Date().toISOString(),
      attributes: { text },
    }),
  });
  if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
}

async function signIn(
  token: string,
  viewport = { width: 1280, height: 800 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  t.teardown(() => {
    if (errors.length) t.fail(`script errors on the page: ${errors.join('; ')}`);
    return context.close();
  });
  await page.goto(`${base}/inbox`);
  await page.getByLabel('Operator token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Signed in, the queue loaded and the live feed connected.
  await page.waitForSelector('body[data-ready="true"][data-live="on"]');
  return { context, page };
}

async function openEscalation(page: Page, conversation: string): Promise<void> {
  await page.locator('#queue li', { hasText: `acme / ${conversation}` }).click();
  await page.waitForSelector(`#detail-title:has-text("acme / ${conversation}")`);
}

t.test('inbox - sign in; a crisis escalation appears live; reply reaches the platform once', async (t) => {
  const { context, page } = await signIn(TOKENS.alice);
  const [session] = (await context.cookies()).filter((c) => c.name === 'parley_inbox');
  t.ok(session, 'a session cookie');
  t.equal(session!.httpOnly, true, 'HttpOnly');
  t.equal(session!.sameSite, 'Strict', 'SameSite=Strict');
  t.equal(session!.path, '/inbox', 'scoped to /inbox');
  t.match(await page.locator('.who').textContent(), /alice/, 'the operator is named');

  await page.evaluate('window.notReloaded = true');
  await ingest('fan1', 'hello');
  await waitFor('the first automated reply', async () => sendsTo(sim, 'fan1').length === 1);
  await ingest('fan1', 'honestly I want to end my life');
  const item = page.locator('#queue li', { hasText: 'acme / fan1' });
  await item.waitFor({ timeout: 30_000 });
  t.equal(await page.evaluate('window.notReloaded'), true, 'the escalation appeared without a reload');
  t.match(await item.textContent(), /urgent.*crisis/s, 'urgent crisis in the queue');
  t.match(await item.textContent(), /end my life/, 'with its evidence snippet');
  await page.screenshot({ path: join(SHOTS, 'queue.png') });

  // Keyboard: focus the queue, Enter opens the selected escalation.
  await page.locator('#queue li[aria-selected="true"]').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail-title:has-text("acme / fan1")');
  const detail = page.locator('#detail');
  t.match(await detail.textContent(), /Evidence.*end my life/s, 'the evidence snippet');
  t.match(await detail.textContent(), /Decision trail/, 'the decision trail');
  t.match(await detail.textContent(), /messagesIn/, 'the profile');
  t.match(
    await page.locator('.trail tbody').textContent(),
    /echo/,
    'the trail names the rule that sent the first reply',
  );
  await page.screenshot({ path: join(SHOTS, 'conversation.png') });
  await page.locator('.trail').screenshot({ path: join(SHOTS, 'trail.png') });
  t.match(
    await page.locator('.trail tbody').textContent(),
    /crisis-lexicon: crisis/,
    'the trail shows the classifiers',
  );

  // r: the reply box, focused.
  await page.locator('#queue li[aria-selected="true"]').focus();
  await page.keyboard.press('r');
  await page.waitForFunction("document.activeElement && document.activeElement.id === 'reply-text'");
  await page.keyboard.type('We are here for you. Please call your local helpline.');
  await page.getByRole('button', { name: /Send reply/ }).click();
  await page.waitForSelector('#action-status.ok, #action-status.error');
  t.match(await page.locator('#action-status').textContent(), /Reply sent/, 'the page confirms the reply');

  const replies = await waitFor('the reply on the platform', async () => {
    const r = sendsTo(sim, 'fan1').filter((s) => s.parsed.rule === 'operator');
    return r.length > 0 ? r : undefined;
  });
  t.match(replies[0]!.parsed, { template: 'operator-reply', variables: { text: /local helpline/ } });
  // Exactly once: wait for the connector's execution record of that action (sent), then count deliveries.
  const record = await waitFor('the reply recorded as sent', async () => {
    const r = await executionRecord(h, replies[0]!.key!);
    return r?.status === 'sent' ? r : undefined;
  });
  t.ok(record, 'the connector recorded the reply as sent');
  const operatorSends = sendsTo(sim, 'fan1').filter((s) => s.parsed.rule === 'operator');
  t.equal(operatorSends.length, 1, 'the reply reached the platform exactly once');
  t.equal(operatorSends.filter((s) => s.duplicate).length, 0, 'no duplicate delivery');

  // Audited as the signed-in operator.
  const audit = await h.jsm.streams.getMessage(STREAMS.audit, {
    last_by_subj: 'audit.operator.acme.fan1',
  });
  t.match(decodeMsgpack(audit!.data), { action: 'escalation.resolve', outcome: 'reply', by: 'alice' });

  // Resumed: the next message gets the automated reply again.
  const before = sendsTo(sim, 'fan1').filter((s) => s.parsed.rule === 'echo').length;
  await ingest('fan1', 'thank you');
  await waitFor(
    'automation resumed',
    async () => sendsTo(sim, 'fan1').filter((s) => s.parsed.rule === 'echo').length === before + 1,
  );
  await page.waitForSelector('#queue li:has-text("acme / fan1")', { state: 'detached' });
  t.pass('the resolved escalation left the open queue');
});

t.test('inbox - a viewer sees but cannot resolve (disabled, and the server says 403)', async (t) => {
  await ingest('fan2', 'I want to end my life tonight');
  const { page } = await signIn(TOKENS.vera);
  await page.locator('#queue li', { hasText: 'acme / fan2' }).waitFor({ timeout: 30_000 });
  await openEscalation(page, 'fan2');
  for (const name of [/Resume/, /Close/, /Send reply/, /Add to DND/])
    t.equal(await page.getByRole('button', { name }).isDisabled(), true, `${name} is disabled`);
  t.match(await page.locator('#detail').textContent(), /needs the reviewer role/);
  const { csrf } = JSON.parse((await page.locator('meta[name="inbox-config"]').getAttribute('content'))!) as {
    csrf: string;
  };
  const id = (await page.locator('#queue li', { hasText: 'acme / fan2' }).getAttribute('data-id'))!;
  const resolve = (headers: Record<string, string>) =>
    page.request.post(`${base}/inbox/api/escalations/${id}/resolve`, {
      headers: { 'Content-Type': 'application/json', ...headers },
      data: JSON.stringify({ outcome: 'resume' }),
    });
  const answer = await resolve({ 'X-CSRF-Token': csrf });
  t.equal(answer.status(), 403);
  t.match(
    await answer.json(),
    { error: { code: 'MISSING_ROLE', message: /"reviewer" role/ } },
    '403 names the role',
  );
  const noCsrf = (await resolve({})).status();
  t.equal(noCsrf, 403, 'a POST without the CSRF token is refused');
});

t.test(
  'inbox - two operators resolve the same escalation at once: one wins, the other sees 409',
  async (t) => {
    const a = await signIn(TOKENS.alice);
    const b = await signIn(TOKENS.bob);
    for (const { page } of [a, b]) {
      await page.locator('#queue li', { hasText: 'acme / fan2' }).waitFor({ timeout: 30_000 });
      await openEscalation(page, 'fan2');
    }
    const resume = (page: Page) => page.getByRole('button', { name: /Resume/ }).click();
    await Promise.all([resume(a.page), resume(b.page)]);
    const outcomes = await Promise.all(
      [a.page, b.page].map(async (page) => {
        await page.waitForSelector('#action-status.ok, #action-status.error');
        return (await page.locator('#action-status').textContent()) ?? '';
      }),
    );
    t.equal(outcomes.filter((o) => /resumed/.test(o)).length, 1, `one wins: ${outcomes.join(' | ')}`);
    t.equal(outcomes.filter((o) => /Conflict \(409\)/.test(o)).length, 1, 'the other is told (409)');
    await waitFor(
      'one resolution applied',
      async () => (await streamCount(h, STREAMS.audit, 'audit.escalation-resolved.acme.fan2')) >= 1,
    );
    t.equal(
      await streamCount(h, STREAMS.audit, 'audit.operator.acme.fan2'),
      1,
      'one operator resolution audited',
    );
  },
);

t.test('inbox - keyboard: j/k move, Enter opens, e resumes; add to DND', async (t) => {
  await ingest('fan4', 'I want a refund now');
  await ingest('fan3', 'I know where you live');
  const { page } = await signIn(TOKENS.alice);
  await page.locator('#queue li', { hasText: 'acme / fan3' }).waitFor({ timeout: 30_000 });
  await page.locator('#queue li', { hasText: 'acme / fan4' }).waitFor({ timeout: 30_000 });
  const order = await page.locator('#queue li .who').allTextContents();
  t.same(order, ['acme / fan3', 'acme / fan4'], 'higher priority first (abuse high, then refund normal)');
  const focusedId = () => page.evaluate('document.activeElement && document.activeElement.dataset.id');
  await page.locator('#queue li[aria-selected="true"]').focus();
  t.match(await focusedId(), /fan3/);
  await page.keyboard.press('j');
  t.match(await focusedId(), /fan4/, 'j moves down');
  await page.keyboard.press('k');
  t.match(await focusedId(), /fan3/, 'k moves up');
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail-title:has-text("acme / fan4")');
  await page.keyboard.press('e');
  await page.waitForSelector('#action-status.ok, #action-status.error');
  t.match(await page.locator('#action-status').textContent(), /resumed/, 'e resumes the open escalation');

  await openEscalation(page, 'fan3');
  await page.getByRole('button', { name: 'Add to DND' }).click();
  await page.waitForSelector('#action-status.ok, #action-status.error');
  t.match(await page.locator('#action-status').textContent(), /do-not-disturb/);
  const consent = await h.kvm.open('parley-consent');
  const record = await waitFor('the fan on DND', async () => {
    const e = await consent.get('acme.fan3');
    return e?.length ? (JSON.parse(new TextDecoder().decode(e.value)) as Record<string, unknown>) : undefined;
  });
  t.match(record, { dnd: true, source: 'operator' }, 'DND set by the operator');
  const audit = await h.jsm.streams.getMessage(STREAMS.audit, { last_by_subj: 'audit.operator.acme.fan3' });
  t.match(decodeMsgpack(audit!.data), { action: 'consent.set', dnd: true, by: 'alice' });
});

t.test('inbox - phone width: one column, no horizontal scrolling; sign out ends the session', async (t) => {
  const { context, page } = await signIn(TOKENS.alice, { width: 390, height: 844 });
  await page.locator('#queue li', { hasText: 'acme / fan3' }).waitFor({ timeout: 30_000 });
  await openEscalation(page, 'fan3');
  const overflow = (await page.evaluate(
    'document.documentElement.scrollWidth - window.innerWidth',
  )) as number;
  t.ok(overflow <= 0, `no horizontal overflow at 390 px (${overflow})`);
  await page.screenshot({ path: join(SHOTS, 'phone.png'), fullPage: true });
  await page.keyboard.press('Escape'); // back to the queue, focus on the selected escalation
  const focused = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
  t.not(focused, 'none', 'focus is visible');
  // A live update of the open escalation (raised to urgent) re-renders it; the reply being typed survives.
  await page.getByLabel(/Reply to the fan/).fill('Hang on, I am reading this');
  await ingest('fan3', 'and honestly I want to end my life');
  await page.waitForSelector('#detail .summary .badge:has-text("urgent")', { timeout: 30_000 });
  t.pass('the open conversation updated live (raised to urgent)');
  t.equal(await page.getByLabel(/Reply to the fan/).inputValue(), 'Hang on, I am reading this', 'draft kept');
  t.equal(await page.evaluate('document.activeElement.id'), 'reply-text', 'focus kept');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Operator token').waitFor();
  const after = await context.request.get(`${base}/inbox/api/queue`);
  t.equal(after.status(), 401, 'signed out: the API refuses');
});
