/** Reading what SIPp wrote, for the benchmarks that drive it (bench:sip, bench:flood). */
import { existsSync, readFileSync } from 'node:fs';

/** The last line of a SIPp -trace_stat CSV as numbers (cumulative counters end in "(C)"). */
export function readStat(file: string): Record<string, number> {
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return {};
  const head = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  const out: Record<string, number> = {};
  head.forEach((name, i) => {
    const v = Number(last[i]);
    if (name !== '' && Number.isFinite(v)) out[name] = v;
  });
  return out;
}
