import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureDashboardBuilt, launchChromium, ROOT, collectPageErrors, logInWithPassword } from '../helpers/browser';
import { operatorRequest, sampleEmail, startWorld, TEST_DASHBOARD_PASSWORD, waitUntil, type World } from '../helpers/world';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

/**
 * The operator console in headless Chromium against a real API + workers + Redis: the overview's charts drawn
 * with data and its problems in words, search → journey → re-deliver → the new attempt, the deep link, the
 * exact payload copied, and the preferences form. With DOCS_SCREENSHOTS=1 the overview and a journey are
 * also saved as docs/dashboard-*.png (the screenshots in docs/dashboard.md).
 */

const SCREENSHOTS = join(tmpdir(), 'render-signal-screenshots');
const DOCS_SCREENSHOTS = process.env.DOCS_SCREENSHOTS === '1';
const PASSWORD = TEST_DASHBOARD_PASSWORD;

/** Runs in the page: does leaving it ask for confirmation (a beforeunload listener prevented the default)? */
const BEFORE_UNLOAD_PREVENTED = `(() => {
  const event = new Event('beforeunload', { cancelable: true });
  window.dispatchEvent(event);
  return event.defaultPrevented;
})()`;

/** Pixels of a chart's canvas painted in a series colour (the line drawn from the data). */
async function paintedPixels(page: Page, testid: string, rgb: [number, number, number]): Promise<number> {
  return page.getByTestId(testid).evaluate((el, colour) => {
    const canvas = el.querySelector('canvas');
    if (!canvas) return -1;
    const ctx = canvas.getContext('2d');
    if (!ctx) return -1;
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (
        Math.abs(data[i]! - colour[0]) < 30 &&
        Math.abs(data[i + 1]! - colour[1]) < 30 &&
        Math.abs(data[i + 2]! - colour[2]) < 30 &&
        data[i + 3]! > 100
      )
        count += 1;
    }
    return count;
  }, rgb);
}

describe('operator console in a real browser', () => {
  let sink: WebhookSink;
  let world: World;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];
  let emailId = '';
  const word = `Chrysanthème${Date.now()}`;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    ensureDashboardBuilt();
    sink = await startWebhookSink();
    world = await startWorld({
      env: { WEBHOOK_URL: `${sink.url}`, DELIVERY_RETRY_SCHEDULE: '200ms,5s', DELIVERY_RETRY_JITTER: '0' },
    });
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: world.apiUrl, viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: world.apiUrl });
    page = await context.newPage();
    collectPageErrors(page, consoleErrors);
    page.on('dialog', (dialog) => void dialog.accept());

    // A rule for invoices (also sent to the default target): the journey shows why it did not match.
    const rules = await operatorRequest(world, 'POST', '/api/routing_rules', {
      rules: [
        {
          id: 'factures',
          name: 'Factures',
          conditions: [{ field: 'subject', operator: 'contains', value: 'facture', case_sensitive: false }],
          actions: { webhook_url: `${sink.url.replace(/\/hook$/, '')}/factures`, priority: 'high', stop_processing: false },
        },
      ],
    });
    expect(rules.status).toBe(200);
    // Some traffic: one email whose target answers 500 then 200, an invoice to two targets, one more, one filtered (no link).
    sink.script.push({ status: 500, body: '{"error":"temporarily down"}' });
    const posted = await world.post(sampleEmail({ subject: `Livraison ${word} lot 7`, sender: 'Studio Lumière <studio@example.org>' }));
    emailId = String(posted.json.email_id);
    await sink.waitFor(1);
    await world.post(sampleEmail({ subject: 'Facture novembre' }));
    await world.post(sampleEmail({ subject: 'Photos du shooting' }));
    await world.post(sampleEmail({ subject: 'Sans lien', body: '<p>Bonjour, rien à télécharger.</p>' }));
    await sink.waitFor(4);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await world?.close();
    await sink?.close();
  });

  it('logs in on the overview: problems in words, activity, queue depths, and charts drawn with data', async () => {
    await page.goto('/login');
    await logInWithPassword(page, PASSWORD);
    await page.getByRole('heading', { name: 'Vue d’ensemble' }).waitFor();
    await expect(page.getByRole('tab', { name: 'Vue d’ensemble' }).getAttribute('aria-selected')).resolves.toBe('true');
    // The first 500 left nothing in the dead-letter set; the workers are live: all clear.
    await page.getByTestId('overview-problems').getByText('Tout fonctionne').waitFor();
    await expect(page.getByTestId('last-received').textContent()).resolves.not.toBe('—');
    await expect(page.getByTestId('last-delivered').textContent()).resolves.not.toBe('—');
    await page.getByTestId('overview-queues').locator('tr[data-queue="delivery"]').waitFor();
    for (const id of ['chart-24h-counts', 'chart-24h-latency', 'chart-7d-counts', 'chart-7d-latency'])
      await page.getByTestId(id).locator('canvas').waitFor();
    await expect(page.getByTestId('chart-24h-counts').getAttribute('data-points')).resolves.toBe('24');
    await expect(page.getByTestId('chart-7d-counts').getAttribute('data-points')).resolves.toBe('168');
    // The received (blue) / delivered (green, drawn over it when equal) lines and the p50 points (violet) are painted.
    const countLines = async () =>
      (await paintedPixels(page, 'chart-24h-counts', [37, 99, 235])) + (await paintedPixels(page, 'chart-24h-counts', [22, 163, 74]));
    await waitUntil(async () => (await countLines()) > 20, 10_000, 'the received and delivered lines');
    await waitUntil(async () => (await paintedPixels(page, 'chart-24h-latency', [124, 58, 237])) > 5, 10_000, 'the latency line');
    await waitUntil(
      async () => /4 reçus, 4 livrés, 0 échecs, 1 ignorés\/filtrés/.test((await page.getByTestId('totals-24h').textContent()) ?? ''),
      15_000,
      'the 24 h totals',
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'console-overview.png'), fullPage: true });
    if (DOCS_SCREENSHOTS) await page.screenshot({ path: join(ROOT, 'docs/dashboard-overview.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it('shows a problem in words when sending is disabled, and refreshes itself', async () => {
    const { settings } = world.api;
    const config = await settings.get('webhook_config');
    await settings.put('webhook_config', { ...config, webhook_sending_enabled: false });
    // No reload: the overview polls every 5 s.
    await page.getByTestId('overview-problems').locator('[data-code="sending_disabled"]').waitFor({ timeout: 15_000 });
    await expect(page.getByTestId('overview-problems').textContent()).resolves.toContain('L’envoi des webhooks est désactivé');
    await settings.put('webhook_config', { ...(await settings.get('webhook_config')), webhook_sending_enabled: true });
    await page.getByTestId('overview-problems').getByText('Tout fonctionne').waitFor({ timeout: 15_000 });
  }, 40_000);

  it('searches by a word of the subject, opens the journey, re-delivers, and sees the new attempt', async () => {
    await page.getByRole('tab', { name: 'E-mails' }).click();
    await page.getByTestId('email-query').fill(word.toLowerCase());
    await page.getByRole('button', { name: 'Rechercher' }).click();
    const row = page.getByTestId('email-rows').locator(`tr[data-email-id="${emailId}"]`);
    await row.waitFor();
    await expect(page.getByTestId('email-rows').locator('tr[data-email-id]').count()).resolves.toBe(1);
    await expect(row.textContent()).resolves.toContain('Livré');
    await row.click();
    await page.waitForURL(new RegExp(`#emails/${emailId}$`));

    const journey = page.getByTestId('journey');
    await journey.getByRole('heading', { name: /Parcours de l’e-mail/ }).waitFor();
    await expect(journey.textContent()).resolves.toContain('Apps Script (HTTP)');
    await expect(journey.textContent()).resolves.toContain('Studio Lumière <studio@example.org>');
    await expect(journey.textContent()).resolves.toContain('Pas de fenêtre horaire : envoyé');
    await expect(journey.textContent()).resolves.toContain(`http://127.0.0.1:${sink.port}/***`);
    const attempts = journey.getByTestId('attempt');
    await expect(attempts.count()).resolves.toBe(2);
    await expect(attempts.nth(0).textContent()).resolves.toMatch(/500.*upstream_server_error.*temporarily down/);
    await expect(attempts.nth(1).textContent()).resolves.toContain('200');

    // The exact payload that was signed and sent, copied to the clipboard.
    await journey.getByRole('button', { name: 'Copier le payload signé' }).click();
    await page.getByText('Payload copié.').waitFor();
    const first = sink.received.find((r) => r.body.includes(word))!;
    await expect(page.evaluate('navigator.clipboard.readText()')).resolves.toBe(first.body);
    await expect(journey.getByTestId('journey-rules').textContent()).resolves.toContain('subject contient « facture » → faux');

    const before = sink.received.length;
    await journey.getByRole('button', { name: 'Renvoyer à toutes les cibles' }).click();
    await page.getByText('Renvoi programmé.').waitFor();
    await sink.waitFor(before + 1);
    expect(sink.received.at(-1)!.headers['webhook-id']).toBe(first.headers['webhook-id']);
    await waitUntil(async () => (await attempts.count()) === 3, 15_000, 'the re-delivery in the journey');
    await expect(attempts.nth(2).textContent()).resolves.toContain('(renvoi)');
    await journey.getByText('Payload exact (corps signé et envoyé)').click();
    await page.screenshot({ path: join(SCREENSHOTS, 'console-journey.png'), fullPage: true });
    if (DOCS_SCREENSHOTS) await page.screenshot({ path: join(ROOT, 'docs/dashboard-journey.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it('opens a journey from a deep link and from the delivery log', async () => {
    await page.goto(`/dashboard/#emails/${emailId}`);
    await page
      .getByTestId('journey')
      .getByRole('heading', { name: /Parcours de l’e-mail/ })
      .waitFor();
    await expect(page.getByRole('tab', { name: 'E-mails' }).getAttribute('aria-selected')).resolves.toBe('true');
    await page.getByRole('link', { name: '← Retour à la liste' }).click();
    await page.getByTestId('email-rows').locator('tr[data-email-id]').first().waitFor();

    await page.getByRole('tab', { name: 'Journal des envois' }).click();
    const link = page.getByTestId('log-rows').getByRole('link', { name: 'Voir le parcours' }).first();
    await link.click();
    await page.waitForURL(/#emails\//);
    await page
      .getByTestId('journey')
      .getByRole('heading', { name: /Parcours de l’e-mail/ })
      .waitFor();
  }, 30_000);

  it('labels the preferences in French with units, shows the retry schedule in effect, and warns about unsaved changes', async () => {
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Préférences de traitement' }).waitFor();
    await page.getByLabel('Nombre de réessais (réessais)').waitFor();
    await page.getByLabel('Délai d’attente de la réponse (secondes)').waitFor();
    await expect(page.getByTestId('retry-schedule').textContent()).resolves.toContain('En vigueur : 3 tentative(s) au plus');
    // The per-detector lists are editable although the stored document has none.
    const recadrage = page.getByLabel('Mots-clés exclus — détecteur recadrage');
    await recadrage.fill('annulé\nbrouillon');
    await page.getByTestId('prefs-unsaved').waitFor();
    const warned = await page.evaluate(BEFORE_UNLOAD_PREVENTED);
    expect(warned).toBe(true);
    await page.getByLabel('Nombre de réessais (réessais)').fill('1');
    await page.getByRole('button', { name: 'Enregistrer les préférences' }).click();
    await page.getByText('Préférences mises à jour.').first().waitFor();
    await expect(page.getByTestId('prefs-unsaved').isHidden()).resolves.toBe(true);
    await expect(page.getByTestId('retry-schedule').textContent()).resolves.toContain('En vigueur : 2 tentative(s) au plus');
    const stored = await world.api.settings.get('processing_prefs');
    expect(stored.exclude_keywords_recadrage).toEqual(['annulé', 'brouillon']);
    expect(stored.retry_count).toBe(1);
    const stillWarned = await page.evaluate(BEFORE_UNLOAD_PREVENTED);
    expect(stillWarned).toBe(false);
    await page.screenshot({ path: join(SCREENSHOTS, 'console-preferences.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  }, 40_000);
});
