import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { targetIdOf } from '@render-signal/delivery';
import { ensureDashboardBuilt, launchChromium, logInWithPassword } from '../helpers/browser';
import { sampleEmail, startWorld, TEST_DASHBOARD_PASSWORD, waitUntil, type World } from '../helpers/world';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

/**
 * The « Cibles » view in headless Chromium against a real API + workers + Redis: a target is listed with its
 * state and success rate; Pause holds the next emails (count shown), Abandonner (confirmation stating the count)
 * dead-letters them, Reprendre releases what came after; the overview names the paused target.
 */
describe('« Cibles » view: pause, discard, resume in a real browser', () => {
  let sink: WebhookSink;
  let world: World;
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    ensureDashboardBuilt();
    sink = await startWebhookSink();
    world = await startWorld({ env: { WEBHOOK_URL: sink.url } });
    browser = await launchChromium();
    const context = await browser.newContext({ baseURL: world.apiUrl, viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    // One delivery: the workers know the target (its record appears within a second).
    await world.post(sampleEmail());
    await sink.waitFor(1);
    await waitUntil(
      async () => (await world.workerRedis.exists(`${world.prefix}:target:${targetIdOf(sink.url)}`)) === 1,
      10_000,
      'target record',
    );
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await world?.close();
    await sink?.close();
  });

  it('pauses, shows the held emails, discards them after a confirmation with the count, resumes', async () => {
    const id = targetIdOf(sink.url);
    await page.goto('/login');
    await logInWithPassword(page, TEST_DASHBOARD_PASSWORD);
    await page.getByRole('tab', { name: 'Cibles' }).click();
    const row = page.locator(`tr[data-target-id="${id}"]`);
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('Saine');
    await expect(row.textContent()).resolves.toContain('100 % (1)');
    expect(await row.textContent()).not.toContain('/hook');

    await row.getByRole('button', { name: 'Pause' }).click();
    await page.locator(`tr[data-target-id="${id}"][data-state="paused"]`).waitFor();
    expect(dialogs.at(-1)).toContain('Mettre');
    for (let i = 0; i < 2; i += 1) await world.post(sampleEmail());
    await waitUntil(async () => (await row.getByTestId('target-held').textContent()) === '2', 15_000, 'two held, shown');
    await expect(row.textContent()).resolves.toContain('En pause (opérateur)');
    // The overview names the paused target.
    await page.getByRole('tab', { name: 'Vue d’ensemble' }).click();
    await page
      .getByTestId('overview-problems')
      .getByText(/est en pause \(opérateur\)/)
      .waitFor();
    await page.getByRole('tab', { name: 'Cibles' }).click();

    await row.getByRole('button', { name: 'Abandonner les envois retenus' }).click();
    expect(dialogs.at(-1)).toContain('Abandonner les 2 envoi(s) retenu(s)');
    await page.locator('#toast').getByText('2 envoi(s) retenu(s) abandonné(s)').waitFor();
    await waitUntil(async () => (await world.deliveryProducer.queue.getFailedCount()) === 2, 15_000, 'two dead letters');
    const failed = await world.deliveryProducer.queue.getFailed();
    expect(failed.map((j) => j.failedReason)).toEqual(['discarded_by_operator', 'discarded_by_operator']);

    await world.post(sampleEmail());
    await waitUntil(async () => (await row.getByTestId('target-held').textContent()) === '1', 15_000, 'one held');
    await row.getByRole('button', { name: 'Reprendre' }).click();
    await sink.waitFor(2, 15_000);
    await waitUntil(async () => (await row.getAttribute('data-state')) === 'healthy', 15_000, 'healthy again');
    expect(sink.received).toHaveLength(2);
    expect(consoleErrors).toEqual([]);
  }, 90_000);
});
