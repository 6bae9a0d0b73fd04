// test/live/hijack.test.ts: a kadsip node patched to lie, for the hijack test (issue 11). It is
// `kadsip start` (dist/cli/main.js) with one change: whenever its record store is read for the AoR
// LIAR_AOR, it adds forged bindings in front of what it really holds: LIAR_CONTACTS (comma
// separated), the first carrying the genuine binding's proof moved onto another contact (a
// signature over other bytes), the others no proof at all. So its FIND_VALUE answers serve them
// as a hostile storing peer would; the fetcher's record policy must discard them.
import { RecordStore } from '../../../dist/overlay/record-store.js';
import { resourceId } from '../../../dist/overlay/peer-id.js';

const target = resourceId(process.env.LIAR_AOR);
const forged = (process.env.LIAR_CONTACTS ?? '').split(',').filter(Boolean);
const get = RecordStore.prototype.get;
RecordStore.prototype.get = function (key, now) {
  const real = get.call(this, key, now);
  if (key !== target) return real;
  const proof = real.find((b) => b.proof !== undefined)?.proof;
  const lies = forged.map((value, i) => ({ value, ttlMs: 3_600_000, ...(i === 0 && proof !== undefined ? { proof } : {}) }));
  return [...lies, ...real];
};
await import('../../../dist/cli/main.js');
