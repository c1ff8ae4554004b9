import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { silentLogger } from '@render-signal/observability';
import { ConfigConflictError, ConfigValidationError, createConfigStore, type ConfigStore } from './config-store';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/helpers/test-redis';

const schemas = {
  flags: z.object({ enabled: z.boolean(), label: z.string().min(1, 'label is required') }),
  limits: z.object({ perHour: z.number().int().min(0).max(100) }),
};
type Schemas = typeof schemas;

describe('config store', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('cfg');
  const connections: Redis[] = [];
  const stores: Array<ConfigStore<Schemas>> = [];
  const connect = () => {
    const r = new Redis(url, { maxRetriesPerRequest: null });
    connections.push(r);
    return r;
  };
  async function makeStore(defaults = { flags: () => ({ enabled: true, label: 'env' }), limits: () => ({ perHour: 0 }) }) {
    const store = createConfigStore({ redis: connect(), subscriber: connect(), prefix, schemas, defaults, logger: silentLogger });
    await store.start();
    stores.push(store);
    return store;
  }
  let a: ConfigStore<Schemas>;
  let b: ConfigStore<Schemas>;
  beforeAll(async () => {
    a = await makeStore();
    b = await makeStore();
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await deleteKeys(url, prefix);
    for (const c of connections) c.disconnect();
  });

  it('serves env defaults until something is stored', async () => {
    expect(await a.get('flags')).toEqual({ enabled: true, label: 'env', _updated_at: null, _revision: 0 });
  });

  it('stores a validated document with a revision and timestamp', async () => {
    const saved = await a.put('flags', { enabled: false, label: 'ops' });
    expect(saved).toMatchObject({ enabled: false, label: 'ops', _revision: 1 });
    expect(typeof saved._updated_at).toBe('string');
    expect(await a.raw('flags')).toMatchObject({ enabled: false, label: 'ops', _revision: 1 });
  });

  it('lets another process see a change within 1 s without restart', async () => {
    await b.get('flags'); // warm b's cache
    await a.put('flags', { enabled: true, label: 'changed-live' });
    const started = Date.now();
    while ((await b.get('flags')).label !== 'changed-live') {
      if (Date.now() - started > 1_000) throw new Error('change not seen within 1 s');
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  it('refuses a write based on a stale revision with a conflict', async () => {
    const current = await a.get('flags');
    await b.put('flags', { enabled: true, label: 'b wins' }, { expectedRevision: current._revision });
    await expect(a.put('flags', { enabled: false, label: 'a is late' }, { expectedRevision: current._revision })).rejects.toBeInstanceOf(
      ConfigConflictError,
    );
    expect((await b.get('flags')).label).toBe('b wins');
  });

  it('refuses an invalid document whole, with field messages', async () => {
    const before = await a.raw('flags');
    await expect(a.put('flags', { enabled: 'yes', label: '' })).rejects.toBeInstanceOf(ConfigValidationError);
    try {
      await a.put('flags', { enabled: true, label: '' });
    } catch (error) {
      expect((error as ConfigValidationError).issues).toEqual([{ path: 'label', message: 'label is required' }]);
    }
    expect(await a.raw('flags')).toEqual(before);
  });

  it('imports several documents all or nothing', async () => {
    const before = { flags: await a.raw('flags'), limits: await a.raw('limits') };
    await expect(a.putMany({ flags: { enabled: true, label: 'imported' }, limits: { perHour: 1000 } })).rejects.toBeInstanceOf(
      ConfigValidationError,
    );
    expect({ flags: await a.raw('flags'), limits: await a.raw('limits') }).toEqual(before);
    await a.putMany({ flags: { enabled: true, label: 'imported' }, limits: { perHour: 10 } });
    expect((await a.snapshot(['flags', 'limits'])).limits.perHour).toBe(10);
    // Another process sees both documents change (pub/sub invalidation, well within 1 s).
    const deadline = Date.now() + 1_000;
    let snap = await b.snapshot(['flags', 'limits']);
    while ((snap.flags.label !== 'imported' || snap.limits.perHour !== 10) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      snap = await b.snapshot(['flags', 'limits']);
    }
    expect(snap.flags.label).toBe('imported');
    expect(snap.limits.perHour).toBe(10);
  });

  it('falls back to defaults when the stored document no longer validates', async () => {
    const raw = connect();
    await raw.set(`${prefix}:config:limits`, JSON.stringify({ perHour: -5, _revision: 7 }));
    const fresh = await makeStore();
    expect(await fresh.get('limits')).toEqual({ perHour: 0, _updated_at: null, _revision: 7 });
  });
});
