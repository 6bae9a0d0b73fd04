// test/live/hijack.test.ts: a kadsip node patched to lie, for the hijack test (issue 11). It is
// `kadsip start` (dist/cli/main.js) with one change: its answer to a FIND_VALUE for the AoR
// LIAR_AOR puts forged bindings in front of what it really holds, without asking its record
// policy: LIAR_CONTACTS (comma separated), the first carrying the genuine binding's proof moved
// onto another contact (a signature over other bytes), the others no proof at all. So it serves
// them as a hostile storing peer would; the fetcher's record policy must discard them.
import { OP_HANDLERS } from '../../../dist/overlay/handlers.js';
import { resourceId } from '../../../dist/overlay/peer-id.js';

const target = resourceId(process.env.LIAR_AOR);
const forged = (process.env.LIAR_CONTACTS ?? '').split(',').filter(Boolean);
const honest = OP_HANDLERS.FIND_VALUE;
OP_HANDLERS.FIND_VALUE = (node, envelope, respond, now) => {
  if (envelope.request.key !== target) return honest(node, envelope, respond, now);
  const real = node.ctx.store.get(target, now);
  const proof = real.find((b) => b.proof !== undefined)?.proof;
  const lies = forged.map((value, i) => ({ value, ttlMs: 3_600_000, ...(i === 0 && proof !== undefined ? { proof } : {}) }));
  respond({ kind: 'value', bindings: [...lies, ...real] });
};
await import('../../../dist/cli/main.js');
