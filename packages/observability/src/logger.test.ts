import { Writable } from 'node:stream';
import { createLogger } from './logger';

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

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('createLogger: one write per event-loop turn', () => {
  it('writes the lines logged during one turn together, in order, after the turn', async () => {
    const { stream, writes } = recordingStream();
    const logger = createLogger({ level: 'info', service: 'test', stream });
    logger.info('email.routed', { email_id: 'e-1' });
    logger.child({ email_id: 'e-2' }).info('delivery.succeeded', { status: 200 });
    logger.warn('delivery.failed', { email_id: 'e-3' });
    expect(writes).toHaveLength(0);
    await nextTurn();
    expect(writes).toHaveLength(1);
    const lines = writes[0]!.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((line) => (JSON.parse(line) as { event: string; email_id: string }).email_id)).toEqual([
      'e-1',
      'e-2',
      'e-3',
    ]);
  });

  it('starts a new write for lines logged in a later turn', async () => {
    const { stream, writes } = recordingStream();
    const logger = createLogger({ level: 'info', service: 'test', stream });
    logger.info('first');
    await nextTurn();
    logger.info('second');
    await nextTurn();
    expect(writes.map((w) => (JSON.parse(w) as { event: string }).event)).toEqual(['first', 'second']);
  });

  it('flush() writes what is pending at once (before process.exit), and nothing twice', async () => {
    const { stream, writes } = recordingStream();
    const logger = createLogger({ level: 'info', service: 'test', stream });
    logger.info('api.stopped');
    logger.flush();
    expect(writes).toHaveLength(1);
    expect(JSON.parse(writes[0]!)).toMatchObject({ event: 'api.stopped', service: 'test' });
    await nextTurn();
    logger.flush();
    expect(writes).toHaveLength(1);
  });

  it('drops lines below the level without writing anything', async () => {
    const { stream, writes } = recordingStream();
    const logger = createLogger({ level: 'warn', service: 'test', stream });
    logger.info('hidden');
    logger.debug('hidden.too');
    await nextTurn();
    expect(writes).toHaveLength(0);
  });
});
