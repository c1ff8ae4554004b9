import winston from 'winston';
import { MESSAGE } from 'triple-beam';
import TransportStream from 'winston-transport';
import { maskFields } from './mask';

/**
 * Structured JSON logs: one line per event, `event` names what happened (`ingress.accepted`,
 * `delivery.failed`), and every line of an email's story carries its `email_id`.
 */
export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  debug(event: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines all carry these fields (e.g. `{ email_id }`). */
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level: string;
  service: string;
  /** Where lines go; defaults to stdout. Tests pass an in-memory stream. */
  stream?: NodeJS.WritableStream;
}

/** `flush()` writes the pending lines now (a logger writing to stdout also does it when the process exits). */
export interface RootLogger extends Logger {
  flush(): void;
}

/**
 * Lines logged during one event-loop turn go out in one write, after the turn's I/O callbacks: a write to
 * a pipe is a system call that also wakes the reader (a log shipper), and a busy worker logs several lines
 * per turn. A line waits at most one turn; `flush()` writes the rest at once (before exit).
 */
class TurnBatchedTransport extends TransportStream {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly stream: NodeJS.WritableStream) {
    super();
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    this.pending.push(`${String(info[MESSAGE])}\n`);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    callback();
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.stream.write(text);
  };
}

/**
 * The line: fields masked (a bounded-depth copy, so no secret and no cycle reaches the output), a
 * timestamp, then native JSON.stringify — several times cheaper than logform's json() (a sorting,
 * cycle-safe stringify with a replacer), which matters at hundreds of lines a second.
 */
const jsonLine = winston.format((info) => {
  const { level, message, ...fields } = info as Record<string | symbol, unknown>;
  const line = {
    level,
    message: maskFields(message),
    ...(maskFields(fields) as Record<string, unknown>),
    timestamp: new Date().toISOString(),
  };
  (info as Record<symbol, unknown>)[MESSAGE] = JSON.stringify(line);
  return info;
});

function wrap(base: winston.Logger): Logger {
  const log =
    (level: string) =>
    (event: string, fields: Record<string, unknown> = {}) => {
      const { message, ...rest } = fields;
      base.log({ level, message: typeof message === 'string' ? message : event, event, ...rest });
    };
  return {
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    debug: log('debug'),
    child: (fields) => wrap(base.child(fields)),
  };
}

export function createLogger(options: LoggerOptions): RootLogger {
  const transport = new TurnBatchedTransport(options.stream ?? process.stdout);
  // The process's own logger: lines of the last turn reach stdout even when the process exits mid-turn
  // (process.exit, an uncaught error). A write to a pipe or file at exit is synchronous.
  if (!options.stream) {
    process.once('exit', transport.flush);
    // A closed stdout (the log reader went away: EPIPE) loses lines; it must not crash the process.
    process.stdout.on('error', () => {});
  }
  const base = winston.createLogger({
    level: options.level,
    defaultMeta: { service: options.service },
    format: winston.format.combine(winston.format.errors({ stack: true }), jsonLine()),
    transports: [transport],
  });
  return { ...wrap(base), flush: transport.flush };
}

/** A logger that drops everything (unit tests that do not assert on logs). */
export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  debug: () => {},
  child: () => silentLogger,
};

/** A short, safe description of an unknown thrown value. */
export function describeError(error: unknown): { error: string; error_name?: string } {
  if (error instanceof Error) return { error: error.message, error_name: error.name };
  return { error: String(error) };
}
