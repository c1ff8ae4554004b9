import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { operatorRequest, startWorld, type World } from '../../../../test/helpers/world';

/** The operator API's bad input for destination health: unknown target ids, and the live alert channels' validation. */
describe('destination health API: bad input', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ workers: false, env: { ALLOW_PRIVATE_NETWORK: 'false' } });
  });
  afterAll(async () => {
    await world.close();
  });

  it.each([
    ['GET', '/api/targets/0123456789abcdef'],
    ['GET', '/api/targets/not-an-id'],
    ['POST', '/api/targets/0123456789abcdef/pause'],
    ['POST', '/api/targets/0123456789abcdef/resume'],
    ['POST', '/api/targets/0123456789abcdef/release'],
    ['POST', '/api/targets/0123456789abcdef/discard'],
  ] as const)('%s %s → 404 target_not_found', async (method, path) => {
    const answer = await operatorRequest(world, method, path);
    expect(answer).toMatchObject({ status: 404, json: { success: false, code: 'target_not_found' } });
  });

  it('lists no target before any delivery', async () => {
    expect(await operatorRequest(world, 'GET', '/api/targets')).toMatchObject({ status: 200, json: { targets: [] } });
  });

  it.each([
    ['not http(s)', { alert_webhook_url: 'ftp://hooks.example.net/x' }, 'alert_webhook_url doit être une URL HTTPS valide'],
    [
      'plain http without ALLOW_PRIVATE_NETWORK',
      { alert_webhook_url: 'http://93.184.215.14/hook' },
      'alert_webhook_url doit être une URL HTTPS valide',
    ],
    ['a private address without ALLOW_PRIVATE_NETWORK', { alert_webhook_url: 'https://10.0.0.8/hook' }, 'alert_webhook_url'],
    ['loopback', { alert_webhook_url: 'https://127.0.0.1:8443/hook' }, 'alert_webhook_url'],
    ['a bad email address', { alert_email_to: 'ops@example.com, nope' }, 'alert_email_to : adresse invalide « nope »'],
  ])('refuses an alert channel that is %s, with a clear message', async (_name, body, message) => {
    const answer = await operatorRequest(world, 'POST', '/api/webhooks/config', body);
    expect(answer.status).toBe(400);
    expect(String(answer.json.message)).toContain(message);
  });

  it('saves the alert channels live; the URL is shown masked', async () => {
    const answer = await operatorRequest(world, 'POST', '/api/webhooks/config', {
      alert_webhook_url: 'https://93.184.215.14/services/T000/B000/secret-token',
      alert_email_to: 'ops@example.com,  astreinte@example.com',
    });
    expect(answer.status).toBe(200);
    const config = answer.json.config as Record<string, unknown>;
    expect(config.alert_email_to).toBe('ops@example.com, astreinte@example.com');
    expect(String(config.alert_webhook_url)).not.toContain('secret-token');
    const stored = await world.api.settings.get('webhook_config');
    expect(stored.alert_webhook_url).toBe('https://93.184.215.14/services/T000/B000/secret-token');
  });
});
