/**
 * `npm run bench:candidates -- [--nodes 1000,10000] [--f 0.1,0.02,0.01] [--discoveries D] [--seed S]
 *   [--carrier find_value|find_node] [--probe N] [--window-s S] --json`
 * One JSON line per (nodes, f): draft-jiang 3.3.3's question answered by simulation for Kademlia.
 * --probe: candidates an asker queries for their current load before choosing (0: advertised
 * figures only); --window-s: the virtual time the discoveries are spread over.
 */
import { parseArgs } from 'node:util';
import { runCandidateExperiment } from '../src/sim/candidate-experiment.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000,10000' },
    f: { type: 'string', default: '0.1,0.02,0.01' },
    discoveries: { type: 'string', default: '5000' },
    wanted: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    carrier: { type: 'string', default: 'find_value' },
    probe: { type: 'string', default: '3' },
    'window-s': { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
  },
});
const list = (text: string): number[] => text.split(',').map(Number);
const nodesList = list(values.nodes);
const fList = list(values.f);
if (values.carrier !== 'find_value' && values.carrier !== 'find_node') {
  process.stderr.write('bench:candidates: --carrier is find_value or find_node\n');
  process.exit(2);
}
const carrier = values.carrier;
const probe = Number(values.probe);
const windowMs = Number(values['window-s']) * 1000;
const numbers = [...nodesList, ...fList, Number(values.discoveries), Number(values.seed), Number(values.wanted), probe, windowMs];
if (numbers.some((n) => !Number.isFinite(n))) {
  process.stderr.write('bench:candidates: every option takes numbers\n');
  process.exit(2);
}
for (const nodes of nodesList) {
  for (const f of fList) {
    const started = performance.now();
    const report = await runCandidateExperiment({ nodes, f, discoveries: Number(values.discoveries), seed: Number(values.seed), candidatesWanted: Number(values.wanted), carrier, probe, windowMs });
    const wall_s = Math.round((performance.now() - started) / 100) / 10;
    process.stdout.write(JSON.stringify({ bench: 'candidates', ...report, wall_s, conditions: { k: 20, alpha: 3, candidates_wanted: Number(values.wanted), node: process.version } }) + '\n');
  }
}
