/**
 * `npm run bench:overlay -- --nodes N [--churn-median-min M] [--loss P] [--seed S] [--records R]
 *  [--lookups L] [--measure-min D] [--crash-fraction C] --json`
 * Runs the deterministic overlay simulation and prints one JSON line of figures and conditions.
 */
import { parseArgs } from 'node:util';
import { minute } from '../src/overlay/constants.js';
import { Simulation } from '../src/sim/simulation.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    'churn-median-min': { type: 'string' },
    loss: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    records: { type: 'string' },
    lookups: { type: 'string', default: '5000' },
    'measure-min': { type: 'string' },
    'crash-fraction': { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});

const nodes = Number(values.nodes);
const churn = values['churn-median-min'] === undefined ? undefined : Number(values['churn-median-min']);
const options = {
  nodes,
  seed: Number(values.seed),
  loss: Number(values.loss),
  churnMedianMin: churn,
  crashFraction: Number(values['crash-fraction']),
  records: values.records === undefined ? nodes : Number(values.records),
  lookups: Number(values.lookups),
  // With churn, measure over an hour so that most of the population is replaced at least once.
  measureMs: (values['measure-min'] === undefined ? (churn === undefined ? 10 : 60) : Number(values['measure-min'])) * minute,
};
for (const [name, value] of Object.entries(options)) {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    process.stderr.write(`bench:overlay: --${name} is not a number\n`);
    process.exit(2);
  }
}

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const wallStart = performance.now();
const sim = new Simulation(options);
const phase = (name: string): void => {
  process.stderr.write(`bench:overlay: ${name} done at ${((performance.now() - wallStart) / 1000).toFixed(1)} s wall, ${sim.queue.processed} events\n`);
};
await sim.build();
phase('build');
gc?.();
const heapBytesPerNode = Math.round((process.memoryUsage().heapUsed - heapBefore) / nodes);
await sim.publishRecords();
phase('publish');
await sim.measure();
phase('measure');
const report = sim.report();
const wallS = Math.round((performance.now() - wallStart) / 100) / 10;

const line = {
  bench: 'overlay',
  ...report,
  heap_bytes_per_node: heapBytesPerNode,
  heap_measured_with_gc: gc !== undefined,
  wall_s: wallS,
  conditions: {
    k: 20,
    alpha: 3,
    crash_fraction: options.crashFraction,
    records: options.records,
    measure_min: options.measureMs / minute,
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
  },
};
process.stdout.write(JSON.stringify(line) + (values.json ? '\n' : '\n'));
