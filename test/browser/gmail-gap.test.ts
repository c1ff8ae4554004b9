import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { createMailboxStore, type MailboxStore } from '@render-signal/gmail';
import { ensureDashboardBuilt, launchChromium, logInWithPassword } from '../helpers/browser';
import { startWorld, TEST_DASHBOARD_PASSWORD, waitUntil, type World } from '../helpers/world';

/**
 * The overview names the mail a Gmail resync could not read, per mailbox, and the operator
 * acknowledges it there once checked by hand (POST /api/gmail/mailboxes/:mailbox/acknowledge-truncation).
 */
describe('Gmail resync gap on the overview, in a real browser', () => {
  let world: World;
  let browser: Browser;
  let page: Page;
  let mailboxes: MailboxStore;
  const pageErrors: string[] = [];
  const address = 'ops.gap@example.org';

  beforeAll(async () => {
    ensureDashboardBuilt();
    world = await startWorld({ workers: false });
    mailboxes = createMailboxStore({ redis: world.workerRedis, prefix: world.prefix });
    await mailboxes.connect({ address, auth: 'service_account', historyId: '100', watchExpiresAt: Date.now() + 86_400_000 });
    const day = Date.parse('2026-11-02T08:00:00Z');
    await mailboxes.recordResyncGap(address, {
      first_at: day,
      last_at: day,
      from: day - 86_400_000,
      to: day - 3_600_000,
      at_least: 17,
      reasons: ['max_messages'],
    });
    browser = await launchChromium();
    page = await (await browser.newContext({ baseURL: world.apiUrl })).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  it('shows the gap with its count and the Gmail limits, and acknowledges it', async () => {
    await page.goto('/login');
    await logInWithPassword(page, TEST_DASHBOARD_PASSWORD);
    const gap = page.locator(`[data-testid="gmail-gaps"] li[data-mailbox="${address}"]`);
    await gap.waitFor();
    const text = await gap.innerText();
    expect(text).toContain('au moins 17 e-mail(s)');
    expect(text).toContain('GMAIL_RESYNC_MAX_MESSAGES');
    expect(text).toMatch(/archivé ou supprimé/);
    // /health's problem in words names the (masked) mailbox and the action.
    await page.locator('[data-code="gmail_resync_truncated"]').getByText('o***@example.org', { exact: false }).waitFor();

    await gap.getByRole('button', { name: 'Vérifié à la main — acquitter' }).click();
    await gap.waitFor({ state: 'detached' });
    await waitUntil(async () => (await mailboxes.get(address))?.resyncGap === undefined, 5_000, 'gap acknowledged');
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
