import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { ensureDashboardBuilt, launchChromium, collectPageErrors, logInWithPassword } from '../helpers/browser';
import { operatorRequest, sampleEmail, startWorld, TEST_DASHBOARD_PASSWORD, waitUntil, type World } from '../helpers/world';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

/**
 * Bulk replay in headless Chromium against a real API + workers + Redis: the E-mails tab's « Renvoyer les N
 * e-mails de ce filtre », the preview (count per target, payload, pace), a refusal in French, start, the
 * progress bar, « Annuler », and the « Renvois » list.
 */

describe('bulk replay in the dashboard', () => {
  let sink: WebhookSink;
  let world: World;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const word = `Coupure${Date.now()}`;
  const EMAILS = 6;

  beforeAll(async () => {
    ensureDashboardBuilt();
    sink = await startWebhookSink();
    sink.defaultResponse = { status: 500, body: 'down' };
    world = await startWorld({ env: { WEBHOOK_URL: sink.url, DELIVERY_RETRY_SCHEDULE: '50ms', DELIVERY_RETRY_JITTER: '0' } });
    for (let i = 0; i < EMAILS; i++) await world.post(sampleEmail({ subject: `${word} lot ${i}` }));
    await waitUntil(
      async () => (await operatorRequest(world, 'POST', '/api/replays', { filter: { query: word }, dry_run: true })).json.count === EMAILS,
      20_000,
      'dead letters in the journeys',
    );
    sink.defaultResponse = { status: 200, body: '{"success":true}', headers: { 'content-type': 'application/json' } };
    browser = await launchChromium();
    page = await (await browser.newContext({ baseURL: world.apiUrl, viewport: { width: 1280, height: 900 } })).newPage();
    collectPageErrors(page, consoleErrors);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await world?.close();
    await sink?.close();
  });

  it('previews the filter, refuses a bad pace in French, starts, shows progress, cancels, and lists the replay', async () => {
    await page.goto('/login');
    await logInWithPassword(page, TEST_DASHBOARD_PASSWORD);
    await page.getByRole('tab', { name: 'E-mails' }).click();
    await page.getByTestId('email-query').fill(word.toLowerCase());
    await page.getByRole('button', { name: 'Rechercher' }).click();
    const open = page.getByTestId('replay-open');
    await page.getByRole('button', { name: `Renvoyer les ${EMAILS} e-mails de ce filtre` }).waitFor();
    await open.click();

    const preview = page.getByTestId('replay-preview');
    await preview.getByTestId('replay-count').getByText(`${EMAILS} envoi(s) de ${EMAILS} e-mail(s) seront renvoyés.`).waitFor();
    await expect(preview.getByTestId('replay-per-target').textContent()).resolves.toContain(`http://127.0.0.1:${sink.port}/***`);
    await expect(preview.getByTestId('replay-notes').textContent()).resolves.toContain('Les parcours sont conservés 7 jours');

    await preview.getByTestId('replay-rate').fill('0');
    await preview.getByRole('button', { name: 'Mettre à jour l’aperçu' }).click();
    await preview.getByTestId('replay-error').getByText('Le rythme doit être supérieur à 0 envoi par seconde.').waitFor();
    await expect(preview.getByTestId('replay-start').isDisabled()).resolves.toBe(true);

    await preview.getByTestId('replay-rate').fill('1');
    await preview.getByTestId('replay-payload').selectOption('original');
    await preview.getByRole('button', { name: 'Mettre à jour l’aperçu' }).click();
    await waitUntil(async () => !(await preview.getByTestId('replay-start').isDisabled()), 5_000, 'start enabled');
    await preview.getByTestId('replay-start').click();

    const progress = page.getByTestId('replay-progress');
    await progress.waitFor();
    await expect(progress.getAttribute('data-state')).resolves.toBe('running');
    // At 1/s: wait until the bar has moved (two delivered), then cancel.
    await waitUntil(async () => Number(await progress.getByTestId('replay-progress-bar').getAttribute('value')) >= 2, 10_000, 'progress');
    await expect(progress.getByTestId('replay-progress-text').textContent()).resolves.toMatch(/En cours — \d\/6 envoyé\(s\)/);
    await progress.getByRole('button', { name: 'Annuler' }).click();
    await waitUntil(async () => (await progress.getAttribute('data-state')) === 'cancelled', 3_000, 'cancelled');
    await expect(progress.getByTestId('replay-progress-text').textContent()).resolves.toContain('Annulé');
    const delivered = sink.received.length;
    expect(delivered).toBeLessThan(EMAILS);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sink.received.length).toBe(delivered);

    const id = await progress.getAttribute('data-replay-id');
    const row = page.getByTestId('replay-rows').locator(`tr[data-replay-id="${id}"]`);
    await row.waitFor();
    await expect(row.getAttribute('data-state')).resolves.toBe('cancelled');
    await expect(row.textContent()).resolves.toContain('Annulé');
    // A replayed email's journey says so, with who started the replay.
    const replayedEmail = String((sink.received[0]!.json as { email_id?: string }).email_id);
    await page.goto(`/dashboard/#emails/${encodeURIComponent(replayedEmail)}`);
    const line = page.getByTestId('journey').locator(`li[data-replay-id="${id}"]`);
    await line.waitFor({ state: 'attached' });
    await expect(line.textContent()).resolves.toMatch(new RegExp(`renvoyé \\(renvoi groupé ${id}\\) par admin \\(password\\)`));
    expect(consoleErrors).toEqual([]);
  }, 90_000);
});
