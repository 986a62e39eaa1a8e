/**
 * The functions' structured logger: one JSON object per line, in the shape Powertools' Logger
 * writes (`level`, `message`, `timestamp`, `service`, `xray_trace_id`, then the attributes).
 *
 * Written here rather than taken from `@aws-lambda-powertools/logger`, which costs each function
 * about 2 ms to load and build and 1 ms more for its first line (bench/bundles, README): a third
 * of everything the functions add to the SDK's own cold start. The service logs plain attribute
 * objects at three levels and needs none of Powertools' context injection, sampling or buffering.
 */

/** Log levels, in Powertools' names and order. */
export const LogLevel = { DEBUG: 8, INFO: 12, WARN: 16, ERROR: 20, CRITICAL: 24, SILENT: 28 } as const;
export type LogLevel = keyof typeof LogLevel;

/** The logging the use cases need; attributes never carry a token, code, secret or state. */
export interface ServiceLogger {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/** What {@link createJsonLogger} needs. */
export interface JsonLoggerOptions {
  /** The `service` field of every line. */
  serviceName: string;
  /**
   * Read once: the level is AWS_LAMBDA_LOG_LEVEL (Lambda's advanced logging controls; FATAL is
   * CRITICAL) when set, else POWERTOOLS_LOG_LEVEL or LOG_LEVEL, else INFO. `_X_AMZN_TRACE_ID` is
   * read per line, as Lambda sets it per invocation.
   */
  env?: Record<string, string | undefined>;
  now?: () => number;
  /** Where a line goes: INFO to stdout, WARN and ERROR to stderr, as Powertools' console methods do. */
  write?: (stream: 'stdout' | 'stderr', line: string) => void;
}

const writeToProcess = (stream: 'stdout' | 'stderr', line: string): void => {
  // Looked up per line: building process.stdout is part of what a line costs, not the cold start.
  process[stream].write(line);
};

/** A {@link ServiceLogger} that writes JSON lines. */
export function createJsonLogger(options: JsonLoggerOptions): ServiceLogger {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const write = options.write ?? writeToProcess;
  const threshold = LogLevel[levelFrom(env)];

  const logger = (level: 'INFO' | 'WARN' | 'ERROR') => {
    if (LogLevel[level] < threshold) return () => undefined;
    const stream = level === 'INFO' ? 'stdout' : 'stderr';
    return (message: string, attributes?: Record<string, unknown>) => {
      const traceId = /Root=([^;]+)/.exec(env['_X_AMZN_TRACE_ID'] ?? '')?.[1];
      const line = { level, message, timestamp: new Date(now()).toISOString(), service: options.serviceName, ...(traceId ? { xray_trace_id: traceId } : {}), ...attributes };
      write(stream, `${JSON.stringify(line, replacer())}\n`);
    };
  };
  return { info: logger('INFO'), warn: logger('WARN'), error: logger('ERROR') };
}

function levelFrom(env: Record<string, string | undefined>): LogLevel {
  const lambda = env['AWS_LAMBDA_LOG_LEVEL']?.toUpperCase();
  const candidates = [lambda === 'FATAL' ? 'CRITICAL' : lambda, env['POWERTOOLS_LOG_LEVEL']?.toUpperCase(), env['LOG_LEVEL']?.toUpperCase()];
  for (const candidate of candidates) {
    if (candidate !== undefined && Object.hasOwn(LogLevel, candidate)) return candidate as LogLevel;
  }
  return 'INFO';
}

/** Errors as their name, code and message (never a stack or a body), bigints as strings, cycles dropped. */
function replacer(): (this: unknown, key: string, value: unknown) => unknown {
  const ancestors: unknown[] = [];
  return function (this: unknown, _key, value) {
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
    }
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'object' && value !== null) {
      while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop();
      if (ancestors.includes(value)) return undefined;
      ancestors.push(value);
    }
    return value;
  };
}
