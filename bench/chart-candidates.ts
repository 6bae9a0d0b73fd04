/**
 * `node --import tsx bench/chart-candidates.ts < lines.jsonl > docs/figures/candidates.svg`
 * Draws bench:candidates output as an SVG: candidates per discovery (bars, left axis) and share of
 * discoveries with at least one candidate (dots, right axis), for each (nodes, f), with the
 * draft's Pastry estimate (38 at f = 10 %, 7 at f = 2 %) for comparison. No chart library: an
 * SVG of bars is a few lines, and GitHub and browsers render it as is.
 */
import { readFileSync } from 'node:fs';

interface Row { nodes: number; f: number; success_ratio: number; candidates_mean: number; load_spread: number; carrier?: string; probe?: number }

const rows: Row[] = readFileSync(0, 'utf8').split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Row)
  .sort((a, b) => a.nodes - b.nodes || b.f - a.f || (a.carrier ?? '').localeCompare(b.carrier ?? ''));
if (rows.length === 0) {
  process.stderr.write('chart-candidates: no bench:candidates lines on stdin\n');
  process.exit(2);
}
const pastry: Record<string, number> = { '0.1': 38, '0.02': 7 };
const W = Math.max(720, 130 * rows.length + 120), H = 380, left = 60, right = 60, top = 40, bottom = 90;
const plotW = W - left - right, plotH = H - top - bottom;
const maxC = Math.max(40, ...rows.map((r) => r.candidates_mean)) * 1.1;
const slot = plotW / rows.length;
const y = (v: number): number => top + plotH - (v / maxC) * plotH;
const ys = (v: number): number => top + plotH - v * plotH;
const parts: string[] = [];
parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">STUN/TURN candidate discovery piggybacked on lookups (Kademlia, k = 20)</text>`);
for (let v = 0; v <= maxC; v += 10) {
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
}
for (const v of [0, 0.5, 0.9, 1]) parts.push(`<text x="${W - right + 6}" y="${ys(v) + 4}">${Math.round(v * 100)} %</text>`);
parts.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">candidates per discovery (bars)</text>`);
parts.push(`<text transform="translate(${W - 12} ${top + plotH / 2}) rotate(90)" text-anchor="middle">discoveries with a candidate (dots)</text>`);
rows.forEach((r, i) => {
  const x = left + i * slot + slot * 0.2;
  const w = slot * 0.6;
  parts.push(`<rect x="${x}" y="${y(r.candidates_mean)}" width="${w}" height="${top + plotH - y(r.candidates_mean)}" fill="${r.nodes >= 10000 ? '#3b6ea5' : '#8fb3d9'}"/>`);
  parts.push(`<text x="${x + w / 2}" y="${y(r.candidates_mean) - 4}" text-anchor="middle">${r.candidates_mean.toFixed(1)}</text>`);
  const p = pastry[String(r.f)];
  if (p !== undefined) parts.push(`<line x1="${x}" x2="${x + w}" y1="${y(p)}" y2="${y(p)}" stroke="#c0392b" stroke-dasharray="4 3"/>`);
  parts.push(`<circle cx="${x + w / 2}" cy="${ys(r.success_ratio)}" r="5" fill="#e67e22"/>`);
  parts.push(`<text x="${x + w / 2}" y="${top + plotH + 18}" text-anchor="middle">f = ${r.f * 100} %</text>`);
  parts.push(`<text x="${x + w / 2}" y="${top + plotH + 34}" text-anchor="middle">${r.nodes.toLocaleString('en')} nodes</text>`);
  parts.push(`<text x="${x + w / 2}" y="${top + plotH + 50}" text-anchor="middle">${(r.carrier ?? 'find_value').toUpperCase()}</text>`);
  const probed = r.probe === undefined ? '' : r.probe > 0 ? `, probe ${r.probe}` : ', no probe';
  parts.push(`<text x="${x + w / 2}" y="${top + plotH + 66}" text-anchor="middle" fill="#555">spread ${r.load_spread.toFixed(1)}x${probed}</text>`);
});
parts.push(`<line x1="${left}" x2="${left + 24}" y1="${H - 8}" y2="${H - 8}" stroke="#c0392b" stroke-dasharray="4 3"/><text x="${left + 30}" y="${H - 4}">draft-jiang's Pastry estimate</text>`);
parts.push('</svg>');
process.stdout.write(parts.join('\n') + '\n');
