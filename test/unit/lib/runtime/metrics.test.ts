import { createEmfMetrics, MetricUnit } from '../../../../lib/runtime';

const NOW = 1_772_366_400_000;

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const metrics = createEmfMetrics({
    namespace: 'WixTokenService',
    serviceName: 'refresh',
    now: () => NOW,
    write: (line) => {
      expect(line.endsWith('\n')).toBe(true);
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  return { metrics, lines };
}

describe('createEmfMetrics', () => {
  it('publishes the stored metrics as one Embedded Metric Format line, with service as the first dimension, as Powertools does', () => {
    const { metrics, lines } = capture();

    metrics.addDimension('mode', 'sweep');
    metrics.addMetric('Examined', MetricUnit.Count, 3);
    metrics.addMetric('Failed', MetricUnit.Count, 0);
    metrics.publishStoredMetrics();

    expect(lines).toEqual([
      {
        _aws: {
          Timestamp: NOW,
          CloudWatchMetrics: [
            {
              Namespace: 'WixTokenService',
              Dimensions: [['service', 'mode']],
              Metrics: [
                { Name: 'Examined', Unit: 'Count' },
                { Name: 'Failed', Unit: 'Count' },
              ],
            },
          ],
        },
        service: 'refresh',
        mode: 'sweep',
        Examined: 3,
        Failed: 0,
      },
    ]);
  });

  it('forgets the metrics and the added dimensions once published, and publishes nothing when nothing was added', () => {
    const { metrics, lines } = capture();
    metrics.addDimension('mode', 'sweep');
    metrics.addMetric('Examined', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();

    metrics.publishStoredMetrics();
    metrics.addMetric('Examined', MetricUnit.Count, 2);
    metrics.publishStoredMetrics();

    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ service: 'refresh', Examined: 2 });
    expect(lines[1]).not.toHaveProperty('mode');
    expect((lines[1]?.['_aws'] as { CloudWatchMetrics: Array<{ Dimensions: string[][] }> }).CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
  });

  it('keeps every value of a metric added more than once, as an array', () => {
    const { metrics, lines } = capture();

    metrics.addMetric('Refreshed', MetricUnit.Count, 1);
    metrics.addMetric('Refreshed', MetricUnit.Count, 4);
    metrics.publishStoredMetrics();

    expect(lines[0]?.['Refreshed']).toEqual([1, 4]);
  });

  it('splits more than 100 metrics over several lines, EMF\u2019s limit per line', () => {
    const { metrics, lines } = capture();

    for (let i = 0; i < 150; i++) metrics.addMetric(`M${i}`, MetricUnit.Count, i);
    metrics.publishStoredMetrics();

    const counts = lines.map((line) => (line['_aws'] as { CloudWatchMetrics: Array<{ Metrics: unknown[] }> }).CloudWatchMetrics[0]?.Metrics.length);
    expect(counts).toEqual([100, 50]);
    expect(lines[1]).toMatchObject({ service: 'refresh', M149: 149 });
  });
});
