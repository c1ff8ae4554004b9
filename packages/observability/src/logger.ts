import winston from 'winston';
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

const maskFormat = winston.format((info) => {
  const masked = maskFields({ ...info }) as Record<string, unknown>;
  for (const key of Object.keys(masked)) (info as Record<string, unknown>)[key] = masked[key];
  return info;
});

function wrap(base: winston.Logger): Logger {
  const log = (level: string) => (event: string, fields: Record<string, unknown> = {}) => {
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

export function createLogger(options: LoggerOptions): Logger {
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  const base = winston.createLogger({
    level: options.level,
    defaultMeta: { service: options.service },
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      maskFormat(),
      winston.format.timestamp(),
      winston.format.json(),
    ),
    transports: [transport],
  });
  return wrap(base);
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
