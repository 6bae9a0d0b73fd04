// test/live/hijack.test.ts: the hijack's requests made by hand (issue 11), from an address where no
// node runs, to one member of a closed overlay, printing one JSON line per answer:
// {"case", "status", "warning"}. Arguments: CA-CERT CERT KEY BIND-IP:PORT TO-IP:PORT AOR
// VICTIM-CONTACT OWN-CONTACT (OVERLAY is the CA's). Cases:
//   unenrolled-join    JOIN without any certificate (a foreign peer)
//   unenrolled-store   STORE without any certificate
//   unproven-remove    REMOVE of the victim's binding, authenticated but without a removal proof
//   signed-remove      REMOVE of the victim's binding with a removal proof signed by CERT's key
//   signed-store       STORE of AOR -> OWN-CONTACT signed by CERT's key
//   future-dated       the same, signed with a clock an hour ahead
//   other-bytes        the same, with CERT's signature of another contact
//   truncated          the same, its signature cut to 48 bytes
import { createSocket } from 'node:dgram';
import { encodeRequest } from '../../../dist/dsip/index.js';
import { readWarningText } from '../../../dist/dsip/headers.js';
import { peerIdFromAddress, resourceId } from '../../../dist/overlay/peer-id.js';
import { parseMessage, serializeMessage } from '../../../dist/sip/message/index.js';
import { BindingSigner } from '../../../dist/trust/binding-signer.js';
import { CertificateCache } from '../../../dist/trust/certificate-cache.js';
import { loadTrustMaterial } from '../../../dist/trust/material.js';
import { PeerAuth } from '../../../dist/trust/peer-auth.js';

const [caCert, cert, keyFile, bind, to, aor, victimContact, ownContact] = process.argv.slice(2);
const material = loadTrustMaterial({ caCert, cert, key: keyFile });
const overlay = material.anchor.overlay;
const [bindIp, bindPort] = [bind.slice(0, bind.lastIndexOf(':')), Number(bind.slice(bind.lastIndexOf(':') + 1))];
const [toIp, toPort] = [to.slice(0, to.lastIndexOf(':')), Number(to.slice(to.lastIndexOf(':') + 1))];
const self = { id: peerIdFromAddress(bindIp, bindPort), address: bind };
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const auth = new PeerAuth({ cache: new CertificateCache({ anchor: material.anchor }), own: material.own, key: material.key, overlay, self, log: silent });
const signer = new BindingSigner({ kind: 'sig', key: material.key, fingerprint: material.own.fingerprint });
const key = resourceId(aor);

const sock = createSocket('udp4');
await new Promise((resolve) => sock.bind(bindPort, bindIp, resolve));
let n = 0;

function send(name, request, enrolled) {
  const sip = encodeRequest({ from: self, mode: 'iterative', hops: 0, request }, { overlay, self, to: { address: to }, cseq: ++n });
  const branch = `z9hG4bKhijack${n}`;
  sip.headers.prepend('Via', `SIP/2.0/UDP ${bind};branch=${branch};rport`);
  if (enrolled) auth.decorateRequest(sip, { address: to }, true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => done({ case: name, status: null }), 5000);
    const onMessage = (bytes) => {
      const parsed = parseMessage(bytes);
      if (!parsed.ok || parsed.message.kind !== 'response' || parsed.message.status < 200) return;
      if (!(parsed.message.headers.get('via') ?? '').includes(branch)) return;
      done({ case: name, status: parsed.message.status, warning: readWarningText(parsed.message) ?? null });
    };
    function done(line) {
      clearTimeout(timer);
      sock.off('message', onMessage);
      process.stdout.write(`${JSON.stringify(line)}\n`);
      resolve();
    }
    sock.on('message', onMessage);
    sock.send(serializeMessage(sip), toPort, toIp);
  });
}

const hour = 3_600_000;
await send('unenrolled-join', { op: 'JOIN' }, false);
await send('unenrolled-store', { op: 'STORE', key, bindings: [{ value: ownContact, ttlMs: hour }] }, false);
await send('unproven-remove', { op: 'REMOVE', key, removals: [{ value: victimContact, ttlMs: 0 }] }, true);
await send('signed-remove', { op: 'REMOVE', key, removals: [{ value: victimContact, ttlMs: 0, proof: signer.removal(aor, victimContact) }] }, true);
await send('signed-store', { op: 'STORE', key, bindings: [{ value: ownContact, ttlMs: hour, proof: signer.publication(aor, ownContact, hour) }] }, true);
const ahead = new BindingSigner({ kind: 'sig', key: material.key, fingerprint: material.own.fingerprint }, () => Date.now() + hour);
await send('future-dated', { op: 'STORE', key, bindings: [{ value: ownContact, ttlMs: hour, proof: ahead.publication(aor, ownContact, hour) }] }, true);
await send('other-bytes', { op: 'STORE', key, bindings: [{ value: ownContact, ttlMs: hour, proof: signer.publication(aor, `${ownContact};other`, hour) }] }, true);
const cut = signer.publication(aor, ownContact, hour).replace(/sig=([A-Za-z0-9_-]+)$/, (_m, sig) => `sig=${sig.slice(0, 64)}`);
await send('truncated', { op: 'STORE', key, bindings: [{ value: ownContact, ttlMs: hour, proof: cut }] }, true);
sock.close();
