/**
 * `http_request_duration_seconds` is counted by `TalliedHistogram` (no label hashing per request):
 * its export must read exactly as prom-client's own `Histogram` given the same observations, in
 * the text format and in `getMetricsAsJSON`, so dashboards and scrapers see no difference.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { TalliedHistogram } from '../../src/http/plugins/tallied-histogram.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
const LABELS = ['method', 'route', 'status_code'] as const;
type Label = (typeof LABELS)[number];

function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const config = { name: 'http_request_duration_seconds', help: 'HTTP request duration in seconds, by route pattern and status', labelNames: LABELS, buckets: BUCKETS };
  return {
    theirs, ours,
    reference: new Histogram<Label>({ ...config, labelNames: [...LABELS], registers: [theirs] }),
    tallied: new TalliedHistogram<Label>({ ...config, registers: [ours] }),
  };
}

test('exports what prom-client\'s Histogram exports for the same observations (text and JSON)', async () => {
  const { theirs, ours, reference, tallied } = both();
  const series: Record<Label, string>[] = [
    { method: 'GET', route: '/api/find/:collection/:id', status_code: '200' },
    { method: 'POST', route: '/api/query', status_code: '400' },
    { method: 'GET', route: 'unmatched', status_code: '404' },
  ];
  // Bounds themselves, values between them, zero, and past the last bound.
  const values = [0, 0.0004, 0.0005, 0.0007, 0.003, 0.01, 0.3, 1, 2.6, 10, 11, 120];
  series.forEach((labels, s) => {
    const kept = tallied.series(labels);
    for (const [i, value] of values.entries()) {
      if ((i + s) % 3 === 2) continue;
      reference.observe(labels, value);
      kept.observe(value);
    }
  });
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());

  theirs.resetMetrics();
  ours.resetMetrics();
  assert.equal(await ours.metrics(), await theirs.metrics(), 'after a reset: no series');
  tallied.series(series[0]!).observe(0.002);
  reference.observe(series[0]!, 0.002);
  assert.equal(await ours.metrics(), await theirs.metrics(), 'a series kept across a reset counts again');
});

test('a series is made once per label set, whatever the order the labels were given in', () => {
  const { tallied } = both();
  const a = tallied.series({ method: 'GET', route: '/x', status_code: '200' });
  const b = tallied.series({ status_code: '200', route: '/x', method: 'GET' });
  assert.equal(a, b);
  assert.notEqual(a, tallied.series({ method: 'GET', route: '/x', status_code: '500' }));
});
