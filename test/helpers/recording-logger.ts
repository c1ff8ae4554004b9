import { PassThrough } from 'node:stream';
import { createLogger, type Logger } from '@render-signal/observability';

/** A logger that keeps every JSON line it writes (the real format, masking included). */
export function recordingLogger(service = 'test'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { logger: createLogger({ level: 'info', service, stream }), lines };
}
