/**
 * `npm run bench:overlay -- --nodes N [--churn-median-min M] [--loss P] [--seed S] [--records R]
 *  [--lookups L] [--measure-min D] [--crash-fraction C] [--malicious F --attack drop|misroute|forge|eclipse]
 *  [--disjoint D] --json`
 * Runs the deterministic overlay simulation and prints one JSON line of figures and conditions.
 * `--malicious F` makes that share of the nodes hostile (src/sim/hostile.ts says what each attack
 * does); `--disjoint D` runs every lookup over D disjoint paths (default: the overlay's default).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, minute } from '../src/overlay/constants.js';
import { ATTACKS, type Attack } from '../src/sim/hostile.js';
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
    malicious: { type: 'string', default: '0' },
    attack: { type: 'string', default: 'drop' },
    disjoint: { type: 'string', default: String(DEFAULT_CONFIG.disjointPaths) },
    json: { type: 'boolean', default: false },
  },
});

const fail = (message: string): never => {
  process.stderr.write(`bench:overlay: ${message}\n`);
  process.exit(2);
};
const nodes = Number(values.nodes);
const malicious = Number(values.malicious);
if (!(malicious >= 0 && malicious < 1)) fail(`--malicious must be a share in [0, 1), not ${values.malicious}`);
if (!(ATTACKS as readonly string[]).includes(values.attack)) fail(`--attack must be one of ${ATTACKS.join(', ')}, not ${values.attack}`);
const disjoint = Number(values.disjoint);
if (!Number.isInteger(disjoint) || disjoint < 1) fail(`--disjoint must be a whole number >= 1, not ${values.disjoint}`);
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
  malicious,
  attack: values.attack as Attack,
  config: { disjointPaths: disjoint },
};
for (const [name, value] of Object.entries(options)) {
  if (typeof value === 'number' && !Number.isFinite(value)) fail(`--${name} is not a number`);
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
