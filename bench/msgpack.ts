/**
 * `npm run bench:msgpack`: what MessagePack costs the server per answer and per body, against JSON
 * in the same run. Encodes the answers a record route gives (one record; a 100-row find) with the
 * same encoder the server uses (`encodeMsgpack`, msgpackr) and with `JSON.stringify`; decodes bodies
 * through the server's whole msgpack path (the depth/key scan, then msgpackr, then the JSON-type
 * check is left out: it walks what JSON.parse also builds) and with `JSON.parse`.
 */
import { performance } from 'node:perf_hooks';
import { decodeMsgpack, encodeMsgpack, scanMsgpack } from '../src/http/plugins/msgpack.js';

const record = { id: 'b1a4c2e0-0000-4000-8000-000000000001', name: 'Ada Lovelace', age: 36, admin: true, score: 0.875, tags: ['math', 'engines'], address: { city: 'London', zip: 'W1' } };
const rows = Array.from({ length: 100 }, (_, i) => ({ ...record, id: `row-${i}`, age: 20 + (i % 50) }));

function timeIt(label: string, iterations: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(iterations, 2000); i++) fn();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  const micros = ((performance.now() - start) * 1000) / iterations;
  console.log(`${label.padEnd(44)} ${micros.toFixed(2).padStart(8)} µs/op`);
  return micros;
}

const cases: [string, unknown, number][] = [['one record', record, 200_000], ['100-row find answer', rows, 5_000]];
console.log(`node ${process.version}`);
for (const [name, value, n] of cases) {
  const json = JSON.stringify(value);
  const packed = encodeMsgpack(value);
  console.log(`\n${name}: JSON ${Buffer.byteLength(json)} B, msgpack ${packed.length} B`);
  const ej = timeIt('encode JSON.stringify', n, () => JSON.stringify(value));
  const em = timeIt('encode msgpackr (server encoder)', n, () => encodeMsgpack(value));
  const dj = timeIt('decode JSON.parse', n, () => JSON.parse(json));
  const dm = timeIt('decode scan + msgpackr (server parser)', n, () => { scanMsgpack(packed, 32); return decodeMsgpack(packed); });
  console.log(`ratios msgpack/JSON: encode ${(em / ej).toFixed(2)}x, decode ${(dm / dj).toFixed(2)}x`);
}
