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

/** How long a line may wait for others before they go out in one write. */
export const LOG_WINDOW_MS = 10;
/** Pending bytes that are written at once, whatever the window. */
const LOG_WINDOW_BYTES = 64 * 1024;

/**
 * Lines logged within LOG_WINDOW_MS go out in one write: a write to a pipe is a system call that also wakes
 * the reader (a log shipper), and at 500 emails/s a process logs a line every 2 ms (a write per turn cost
 * the API and the worker a system call per email). A line waits at most 10 ms; `flush()` writes the rest at
 * once (at exit, so a crash that exits loses nothing; only a SIGKILL can cut the last 10 ms).
 */
class WindowBatchedTransport extends TransportStream {
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly stream: NodeJS.WritableStream) {
    super();
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    const line = `${String(info[MESSAGE])}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= LOG_WINDOW_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(this.flush, LOG_WINDOW_MS);
      // Never what keeps a process alive: the exit flush writes what is left.
      this.timer.unref();
    }
    callback();
  }

  readonly flush = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
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
  const transport = new WindowBatchedTransport(options.stream ?? process.stdout);
  // The process's own logger: lines of the last window reach stdout even when the process exits mid-window
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
