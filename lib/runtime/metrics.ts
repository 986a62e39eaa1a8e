/**
 * CloudWatch metrics as Embedded Metric Format lines on stdout, which Lambda's log pipeline turns
 * into metrics: the lines Powertools' Metrics writes (`service` as the first dimension), for what
 * `refresh` publishes once per run.
 *
 * Written here rather than taken from `@aws-lambda-powertools/metrics`, which costs `refresh`
 * about 2 ms of its cold start to load and build (bench/bundles, README) for the three calls it
 * makes.
 *
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */

import { systemClock, type Clock } from './clock';

/** CloudWatch namespace of the service's metrics (alarms and the dashboard read it). */
export const METRICS_NAMESPACE = 'WixTokenService';

/** The units the service publishes in. */
export const MetricUnit = { Count: 'Count' } as const;
export type MetricUnit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** What {@link createEmfMetrics} needs. */
export interface EmfMetricsOptions {
  namespace: string;
  /** The `service` dimension of every metric. */
  serviceName: string;
  now?: Clock['now'];
  /** Where a line goes; default stdout. */
  write?: (line: string) => void;
}

/** Metrics stored until {@link EmfMetrics.publishStoredMetrics} writes them, with the dimensions added since the last publish. */
export interface EmfMetrics {
  addDimension(name: string, value: string): void;
  addMetric(name: string, unit: MetricUnit, value: number): void;
  /** Writes what is stored (nothing when no metric was added) and forgets it and the added dimensions. */
  publishStoredMetrics(): void;
}

/** EMF allows at most this many metrics in one line. */
const MAX_METRICS_PER_LINE = 100;

export function createEmfMetrics(options: EmfMetricsOptions): EmfMetrics {
  const now = options.now ?? systemClock.now;
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  let dimensions: Record<string, string> = {};
  let stored = new Map<string, { unit: MetricUnit; values: number[] }>();

  return {
    addDimension(name, value) {
      dimensions[name] = value;
    },
    addMetric(name, unit, value) {
      const metric = stored.get(name);
      if (metric === undefined) stored.set(name, { unit, values: [value] });
      else metric.values.push(value);
    },
    publishStoredMetrics() {
      const all = [...stored];
      const dimensionValues = { service: options.serviceName, ...dimensions };
      const dimensionSet = Object.keys(dimensionValues);
      stored = new Map();
      dimensions = {};
      for (let start = 0; start < all.length; start += MAX_METRICS_PER_LINE) {
        const metrics = all.slice(start, start + MAX_METRICS_PER_LINE);
        const line = {
          _aws: {
            Timestamp: now(),
            CloudWatchMetrics: [
              { Namespace: options.namespace, Dimensions: [dimensionSet], Metrics: metrics.map(([name, { unit }]) => ({ Name: name, Unit: unit })) },
            ],
          },
          ...dimensionValues,
          ...Object.fromEntries(metrics.map(([name, { values }]) => [name, values.length === 1 ? values[0] : values])),
        };
        write(`${JSON.stringify(line)}\n`);
      }
    },
  };
}
