/**
 * The functions' structured logger: one JSON object per line, in the shape Powertools' Logger
 * writes (`level`, `message`, `timestamp`, `service`, `xray_trace_id`, then the attributes).
 *
 * Written here rather than taken from `@aws-lambda-powertools/logger`, which costs each function
 * about 2 ms to load and build and 1 ms more for its first line (bench/bundles, README): a third
 * of everything the functions add to the SDK's own cold start. The service logs plain attribute
 * objects at three levels and needs none of Powertools' context injection, sampling or buffering.
 */

import { systemClock, type Clock } from './clock';
import { writeSync } from 'node:fs';

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
  now?: Clock['now'];
  /** Where a line goes: INFO to stdout, WARN and ERROR to stderr, as Powertools' console methods do. */
  write?: (stream: 'stdout' | 'stderr', line: string) => void;
}

const FD = { stdout: 1, stderr: 2 } as const;

/**
 * A line straight to the process's file descriptor, as process.stdout.write does on Linux for a
 * file or a pipe (synchronously), without building process.stdout and its stream machinery: that
 * and the first write through it cost a function's first invoke about 1.5 ms (bench/bundles).
 * Should the descriptor refuse (a non-blocking pipe that is full: EAGAIN), what is left goes
 * through process.stdout / process.stderr, which queue it.
 */
const writeToProcess = (stream: 'stdout' | 'stderr', line: string): void => {
  const bytes = Buffer.from(line);
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(FD[stream], bytes, written);
  } catch {
    process[stream].write(bytes.subarray(written));
  }
};

/** A {@link ServiceLogger} that writes JSON lines. */
export function createJsonLogger(options: JsonLoggerOptions): ServiceLogger {
  const env = options.env ?? process.env;
  const now = options.now ?? systemClock.now;
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
