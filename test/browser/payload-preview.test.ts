import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { ensureDashboardBuilt, launchChromium, collectPageErrors, logInWithPassword } from '../helpers/browser';
import { sampleEmail, startWorld, type World } from '../helpers/world';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

const PASSWORD = 'browser-test-password';

/**
 * « Aperçu » of a payload template in headless Chromium, against a real API + workers + Redis: pick an email
 * received, type a template, see the body and its size; a syntax error shows its position; the rule is saved
 * with its template and the next matching email is delivered with that body.
 */
describe('payload preview in a real browser', () => {
  let sink: WebhookSink;
  let world: World;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    ensureDashboardBuilt();
    sink = await startWebhookSink();
    world = await startWorld({ env: { WEBHOOK_URL: sink.url, TRIGGER_PAGE_PASSWORD: PASSWORD } });
    browser = await launchChromium();
    page = await (await browser.newContext({ baseURL: world.apiUrl })).newPage();
    collectPageErrors(page, consoleErrors);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await world?.close();
    await sink?.close();
  });

  it('picks a received email, shows the body of a typed template, and the position of a syntax error', async () => {
    // An email received earlier: it is offered in the preview.
    expect((await world.post(sampleEmail({ subject: 'Votre facture 2026', sender: 'Compta <compta@client.fr>' }))).status).toBe(200);
    await sink.waitFor(1);

    await page.goto('/login?next=%2Fdashboard');
    await logInWithPassword(page, PASSWORD);
    await page.getByRole('tab', { name: 'Règles de routage' }).click();
    await page.getByRole('button', { name: '+ Ajouter une règle' }).click();
    const rule = page.getByTestId('rule').last();
    await rule.getByLabel('Nom').fill('Factures');
    await rule.getByLabel('Opérateur').selectOption('regex');
    await rule.getByLabel('Valeur').fill('facture\\s+(?<numero>\\d{4})');
    await rule.getByTestId('rule-webhook-url').fill(`http://127.0.0.1:${sink.port}/factures`);
    await rule.getByLabel('Format du payload').selectOption('template');
    await rule.getByTestId('preview-toggle').click();
    await expect(rule.getByTestId('preview-email').locator('option').first().textContent()).resolves.toContain('Votre facture 2026');

    await rule.getByTestId('payload-template').fill('{ "numero": extracted.numero, "client": sender_email, "cle": idempotency_key }');
    await rule.getByTestId('preview-body').filter({ hasText: '"numero": "2026"' }).waitFor();
    const shown = JSON.parse((await rule.getByTestId('preview-body').textContent()) ?? '{}') as Record<string, unknown>;
    expect(shown).toMatchObject({ numero: '2026', client: 'compta@client.fr', cle: expect.stringMatching(/^msg_/) });
    await expect(rule.getByTestId('preview-bytes').textContent()).resolves.toMatch(/Taille : \d+ octets/);

    // A syntax error: its position, in French, and the field marked.
    await rule.getByTestId('payload-template').fill('{ "numero": extracted.numero, }');
    await rule
      .getByTestId('preview-error')
      .filter({ hasText: /Erreur à la position \d+/ })
      .waitFor();
    await expect(rule.getByTestId('payload-template').getAttribute('aria-invalid')).resolves.toBe('true');

    // Saving it refuses the template the same way, next to the field.
    await page.getByTestId('save-rules').click();
    await rule
      .getByText(/Erreur de syntaxe à la position/)
      .first()
      .waitFor();

    // Fixed and saved: the next matching email reaches the rule's target with exactly that body.
    await rule.getByTestId('payload-template').fill('{ "numero": extracted.numero, "cle": idempotency_key }');
    await rule.getByTestId('preview-body').filter({ hasText: '"numero": "2026"' }).waitFor();
    await rule.getByLabel(/Arrêter le traitement/).check();
    await page.getByTestId('save-rules').click();
    await page
      .getByText(/Règles mises à jour\./)
      .first()
      .waitFor();
    expect((await world.post(sampleEmail({ subject: 'Encore une facture 2027' }))).status).toBe(200);
    await sink.waitFor(2);
    const hook = sink.received.find((r) => r.path === '/factures')!;
    expect(hook.json).toEqual({ numero: '2027', cle: hook.headers['webhook-id'] });
    expect(consoleErrors).toEqual([]);
  }, 90_000);

  it('previews the default target in the webhook settings on a pasted email', async () => {
    await page.getByRole('tab', { name: 'Webhooks' }).click();
    const editor = page.getByTestId('default-payload');
    await editor.getByLabel('Format du payload').selectOption('flat');
    await editor.getByTestId('preview-toggle').click();
    await editor.getByTestId('preview-email').selectOption('__pasted__');
    await editor
      .getByTestId('preview-pasted')
      .fill(
        JSON.stringify({ subject: 'Collé', sender: 'Bob <bob@x.fr>', date: '2026-12-07', body: 'https://www.dropbox.com/scl/fo/z/a.zip' }),
      );
    await editor.getByTestId('preview-body').filter({ hasText: '"subject": "Collé"' }).waitFor();
    const shown = JSON.parse((await editor.getByTestId('preview-body').textContent()) ?? '{}') as Record<string, unknown>;
    expect(shown).toMatchObject({ subject: 'Collé', sender_name: 'Bob', link_1: 'https://www.dropbox.com/scl/fo/z/a.zip' });

    // Saved: the default target now receives flat bodies.
    await page.locator('form', { has: editor }).getByRole('button', { name: 'Enregistrer', exact: true }).click();
    await page.getByText('Configuration mise à jour avec succès.').first().waitFor();
    const before = sink.received.length;
    expect((await world.post(sampleEmail({ subject: 'Pour la cible par défaut' }))).status).toBe(200);
    await sink.waitFor(before + 1);
    const flat = sink.received.at(-1)!;
    expect(flat.json).toMatchObject({ subject: 'Pour la cible par défaut', idempotency_key: flat.headers['webhook-id'] });
    expect(flat.json).not.toHaveProperty('email_content');
    expect(consoleErrors).toEqual([]);
  }, 60_000);
});
