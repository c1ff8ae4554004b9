import { describe, expect, it } from '@jest/globals';
import { createDeadLetterDigest } from '@render-signal/delivery';
import { useTestRedis } from '../../../../../test/helpers/test-redis';
import { deadLetterDigestJob } from './dead-letter-digest';

describe('alert.digest: the dead letters since the last digest, in one alert', () => {
  const { redis, prefix } = useTestRedis('digest');

  it('counts per target and reason, sends one alert, then nothing until new dead letters', async () => {
    const digest = createDeadLetterDigest({ redis, prefix });
    const sent: Array<{ data: unknown; jobId: string }> = [];
    const alerts = {
      add: async (_name: 'send', data: unknown, opts?: { jobId?: string }) => sent.push({ data, jobId: opts?.jobId ?? '' }),
    };
    for (let i = 0; i < 3; i += 1) await digest.count('https://hook.eu2.make.com/***', 'target_paused_too_long');
    await digest.count('https://other.example.com/***', 'upstream_client_error');
    expect(await deadLetterDigestJob({ digest, alerts: alerts as never, now: () => 1_000 })).toEqual({ dead_letters: 4 });
    expect(sent).toEqual([
      {
        jobId: 'digest.1000',
        data: {
          event: 'dead_letters.digest',
          at: 1_000,
          digest: [
            { target: 'https://hook.eu2.make.com/***', reason: 'target_paused_too_long', count: 3 },
            { target: 'https://other.example.com/***', reason: 'upstream_client_error', count: 1 },
          ],
        },
      },
    ]);
    expect(await deadLetterDigestJob({ digest, alerts: alerts as never, now: () => 2_000 })).toEqual({ dead_letters: 0 });
    expect(sent).toHaveLength(1);
  });
});
