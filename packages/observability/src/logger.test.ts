import { afterEach, beforeEach, jest } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger, LOG_WINDOW_MS } from './logger';

/** A stream that records each write call separately (the batching is about how many writes happen). */
function recordingStream() {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writes.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { stream, writes };
}

// The window is a timer: fake time makes "within" and "after" exact, whatever the machine's load.
const advance = (ms: number) => jest.advanceTimersByTime(ms);
const afterWindow = () => advance(LOG_WINDOW_MS);

describe('createLogger: one write per 10 ms window', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('writes the lines logged within the window together, in order, after it', () => {
    const { stream, writes } = recordingStream();
    const logger = createLogger({ level: 'info', service: 'test', stream });
    logger.info('email.routed', { email_id: 'e-1' });
    logger.child({ email_id: 'e-2' }).info('delivery.succeeded', { status: 200 });
    advance(LOG_WINDOW_MS - 1);
    logger.warn('delivery.failed', { email_id: 'e-3' });
    expect(writes).toHaveLength(0);
    advance(1);
    expect(writes).toHaveLength(1);
    const lines = writes[0]!.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((line) => (JSON.parse(line) as { event: string; email_id: string }).email_id)).toEqual([
      'e-1',
      'e-2',
      'e-3',
    ]);
  });

  it('starts a new write for lines logged after the window', () => {
    const { stream, writes } = recordingStream();
    const logger = createLogger({ level: 'info', service: 'test', stream });
    logger.info('first');
    afterWindow();
    logger.info('second');
    afterWindow();
    expect(writes.map((w) => (JSON.parse(w) as { event: string }).event)).toEqual(['first', 'second']);
  });

  it('writes at once when 64 KiB are pending, without waiting for the window', () => {
    const { stream, writes } = recordingStream();
    const logger = createLogger({ level: 'info', service: 'test', stream });
    const filler = 'x'.repeat(1_000);
    for (let i = 0; i < 70; i++) logger.info('big', { filler, i });
    expect(writes).toHaveLength(1);
    expect(writes[0]!.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(55);
    logger.flush();
    expect(writes.join('').split('\n').filter(Boolean)).toHaveLength(70);
  });

  it('flush() writes what is pending at once (before process.exit), and nothing twice', () => {
    const { stream, writes } = recordingStream();
    const logger = createLogger({ level: 'info', service: 'test', stream });
    logger.info('api.stopped');
    logger.flush();
    expect(writes).toHaveLength(1);
    expect(JSON.parse(writes[0]!)).toMatchObject({ event: 'api.stopped', service: 'test' });
    afterWindow();
    logger.flush();
    expect(writes).toHaveLength(1);
  });

  it('drops lines below the level without writing anything', () => {
    const { stream, writes } = recordingStream();
    const logger = createLogger({ level: 'warn', service: 'test', stream });
    logger.info('hidden');
    logger.debug('hidden.too');
    afterWindow();
    expect(writes).toHaveLength(0);
  });
});
