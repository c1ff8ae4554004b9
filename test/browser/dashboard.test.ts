import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureDashboardBuilt, launchChromium, collectPageErrors, logInWithPassword } from '../helpers/browser';
import { sampleEmail, startWorld, waitUntil, type World } from '../helpers/world';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

/**
 * The operator dashboard in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core),
 * against a real API + workers + Redis, with a real loopback webhook sink.
 * Screenshots of each page go to <tmp>/render-signal-screenshots (CI artifacts, not committed).
 */

const SCREENSHOTS = join(tmpdir(), 'render-signal-screenshots');
const PASSWORD = 'browser-test-password';

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

describe('operator dashboard in a real browser', () => {
  let sink: WebhookSink;
  let world: World;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    ensureDashboardBuilt();
    sink = await startWebhookSink();
    world = await startWorld({ env: { WEBHOOK_URL: sink.url, TRIGGER_PAGE_PASSWORD: PASSWORD } });
    // Debian's chromium (npm test installs it when missing); CI elsewhere may point CHROMIUM_PATH at another build.
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: world.apiUrl });
    page = await context.newPage();
    collectPageErrors(page, consoleErrors);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await world?.close();
    await sink?.close();
  });

  it('logs in with the password and lands on the dashboard', async () => {
    await page.goto('/dashboard');
    await expect(page.waitForURL(/\/login\?next=%2Fdashboard/)).resolves.toBeUndefined();
    await shot(page, '01-login');
    await page.getByLabel('Mot de passe').fill('wrong password');
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByText('Identifiants invalides.').waitFor();
    await logInWithPassword(page, PASSWORD);
    await page.getByText('Connecté : admin').waitFor();
    // The overview is the first tab; the rules are one click away.
    await page.getByRole('heading', { name: 'Vue d’ensemble' }).waitFor();
    await page.getByRole('tab', { name: 'Règles de routage' }).click();
    await page.getByRole('heading', { name: 'Règles de routage' }).waitFor();
    await shot(page, '02-rules-empty');
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it('creates a rule in the builder, shows inline validation, dry-runs it, and the next email goes to its target', async () => {
    const ruleTarget = `http://127.0.0.1:${sink.port}/rule-facture`;
    await page.getByRole('button', { name: '+ Ajouter une règle' }).click();
    const rule = page.getByTestId('rule').last();
    await rule.getByLabel('Nom').fill('Factures');
    await rule.getByLabel('Champ').selectOption('subject');
    await rule.getByLabel('Opérateur').selectOption('contains');
    await rule.getByLabel('Valeur').fill('Facture');
    // First save without a URL: the API's 400 is shown inline next to the field.
    await page.getByTestId('save-rules').click();
    await rule.getByText('webhook_url est requis pour chaque règle.').first().waitFor();
    await expect(rule.getByTestId('rule-webhook-url').getAttribute('aria-invalid')).resolves.toBe('true');
    await shot(page, '03-rules-validation');

    await page.getByTestId('rule').last().getByTestId('rule-webhook-url').fill(ruleTarget);
    await page
      .getByTestId('rule')
      .last()
      .getByLabel(/Arrêter le traitement/)
      .check();
    await page.getByTestId('save-rules').click();
    await page
      .getByText(/Règles mises à jour\./)
      .first()
      .waitFor();

    // Saved: a reload shows it (URL masked, as every stored URL).
    await page.reload();
    await page.getByTestId('rule').first().waitFor();
    await expect(page.getByTestId('rule-name').first().inputValue()).resolves.toBe('Factures');
    await expect(page.getByTestId('rule-webhook-url').first().inputValue()).resolves.toBe(`http://127.0.0.1:${sink.port}/***`);

    // Dry run on a pasted email: the rule matches and the exact payload is shown, nothing is sent.
    await page.getByTestId('test-subject').fill('Facture mars 2026');
    await page.getByTestId('test-sender').fill('Compta <compta@example.org>');
    await page.getByTestId('test-body').fill('Voici https://www.dropbox.com/scl/fo/abc123/facture.pdf?dl=0');
    await page.getByRole('button', { name: 'Tester les règles' }).click();
    await page.getByText('Règle(s) appliquée(s) : Factures').waitFor();
    const payload = JSON.parse((await page.getByTestId('test-payload').first().textContent()) ?? '{}') as Record<string, unknown>;
    expect(payload.subject).toBe('Facture mars 2026');
    expect(payload.routing_rule).toMatchObject({ name: 'Factures' });
    await shot(page, '04-rules-saved-and-tested');
    expect(sink.requests).toHaveLength(0);

    // Applied: an email posted now reaches the rule's target only (stop_processing suppresses the default).
    const res = await world.post(sampleEmail({ subject: `Facture ${Date.now()}` }));
    expect(res.status).toBe(200);
    await sink.waitFor(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.received.map((r) => r.path)).toEqual(['/rule-facture']);
    expect(consoleErrors).toEqual([]);
  }, 90_000);

  it('shows the webhook settings and the delivery log with its link to Bull Board', async () => {
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await page.getByTestId('effective-target').waitFor();
    await expect(page.getByTestId('effective-target').textContent()).resolves.toBe(`http://127.0.0.1:${sink.port}/***`);
    await page.getByRole('heading', { name: 'Préférences de traitement' }).waitFor();
    await shot(page, '05-webhooks');

    await page.getByRole('tab', { name: 'Journal des envois' }).click();
    await page.getByTestId('log-rows').locator('tr.log-success').first().waitFor({ timeout: 10_000 });
    const row = page.getByTestId('log-rows').locator('tr.log-success').first();
    await expect(row.textContent()).resolves.toContain(`http://127.0.0.1:${sink.port}/***`);
    await expect(row.getByRole('link', { name: 'Voir le job' }).getAttribute('href')).resolves.toMatch(
      /^\/admin\/queues\/queue\/delivery\//,
    );
    await page.getByLabel('Statut').selectOption('error');
    await page.getByText('Aucun envoi sur la période.').waitFor();
    await page.getByLabel('Statut').selectOption('');
    await shot(page, '06-delivery-log');
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it('generates a magic link that logs a fresh browser in once, then is refused', async () => {
    await page.getByRole('tab', { name: 'Outils' }).click();
    await page.getByRole('button', { name: 'Générer un lien' }).click();
    const link = await page.getByTestId('magic-link-output').inputValue();
    expect(link).toMatch(new RegExp(`^${world.apiUrl}/login/magic/`));
    await shot(page, '07-tools');

    const fresh = await browser.newContext();
    const freshPage = await fresh.newPage();
    await freshPage.goto(link);
    await freshPage.waitForURL(/\/dashboard/);
    await freshPage.getByText('Connecté : admin').waitFor();
    await fresh.close();

    const again = await browser.newContext();
    const againPage = await again.newPage();
    const response = await againPage.goto(link);
    expect(response?.status()).toBe(410);
    await againPage.getByText('Lien déjà utilisé.').waitFor();
    await shot(againPage, '08-magic-link-reused');
    // No session was created: the dashboard still sends this browser to /login.
    await againPage.goto(`${world.apiUrl}/dashboard`);
    await againPage.waitForURL(/\/login/);
    await again.close();
  }, 60_000);

  it('opens Bull Board, retries a dead-lettered delivery and sees it delivered', async () => {
    sink.defaultResponse = { status: 503, body: 'down' };
    const before = sink.received.length;
    await world.post(sampleEmail({ subject: `Relance ${Date.now()}` }));
    const queue = world.deliveryProducer.queue;
    await waitUntil(async () => (await queue.getFailedCount()) === 1, 20_000, 'a dead-lettered delivery');
    sink.defaultResponse = { status: 200, body: '{"success":true}', headers: { 'content-type': 'application/json' } };

    await page.goto('/admin/queues/queue/delivery?status=failed');
    await page.waitForLoadState('networkidle');
    await shot(page, '09-bull-board-failed');
    // The job card's retry is an icon button (no text), unlike the queue-wide "Retry all".
    const retry = page
      .locator('button:has(svg.lucide-refresh-cw)')
      .filter({ hasNotText: /retry all/i })
      .first();
    await retry.waitFor({ timeout: 15_000 });
    await page.getByText('Data', { exact: true }).first().click();
    await page.getByText(`http://127.0.0.1:${sink.port}/***`).first().waitFor();
    // The board shows job data through maskFields: no stored URL in clear.
    await expect(page.content()).resolves.not.toContain(`127.0.0.1:${sink.port}/hook`);
    await shot(page, '10-bull-board-masked-data');
    await retry.click();
    await page.getByText('Are you sure that you want to retry this job?').waitFor();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await sink.waitFor(before + 1, 15_000);
    expect(sink.received.at(-1)?.path).toBe('/hook');
    await waitUntil(async () => (await queue.getFailedCount()) === 0, 10_000, 'the failed set to empty');
    await page.goto('/admin/queues/queue/delivery?status=completed');
    await page.waitForLoadState('networkidle');
    await shot(page, '11-bull-board-completed');
  }, 90_000);

  async function loggedInPage(): Promise<{ ctx: BrowserContext; p: Page }> {
    const ctx = await browser.newContext({ baseURL: world.apiUrl });
    const p = await ctx.newPage();
    await p.goto('/login');
    await logInWithPassword(p, PASSWORD);
    await p.getByText('Connecté : admin').waitFor();
    return { ctx, p };
  }

  it('logs out with the top bar button (a same-origin POST); GET /logout only shows a button', async () => {
    const { ctx, p } = await loggedInPage();
    await p.goto('/logout');
    await p.getByText('Se déconnecter de Render Signal ?').waitFor();
    await shot(p, '12-logout-page');
    // Showing the page logged nobody out.
    await p.goto('/dashboard');
    await p.getByText('Connecté : admin').waitFor();
    await p.getByRole('button', { name: 'Déconnexion' }).click();
    await p.waitForURL(/\/login$/);
    await p.goto('/dashboard');
    await p.waitForURL(/\/login\?next=/);
    await ctx.close();
  }, 60_000);

  it('« Déconnecter toutes les sessions » ends every browser’s session', async () => {
    const a = await loggedInPage();
    const b = await loggedInPage();
    a.p.once('dialog', (dialog) => void dialog.accept());
    await a.p.getByRole('tab', { name: 'Outils' }).click();
    await a.p.getByTestId('revoke-all-sessions').click();
    await a.p.waitForURL(/\/login\?error=sessions_revoked/);
    await a.p.getByText('Toutes les sessions ont été fermées. Reconnectez-vous.').waitFor();
    await shot(a.p, '13-sessions-revoked');
    await b.p.goto('/dashboard');
    await b.p.waitForURL(/\/login\?next=/);
    await Promise.all([a.ctx.close(), b.ctx.close()]);
  }, 60_000);
});
