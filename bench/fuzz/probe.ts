/**
 * The fuzzer's liveness probe: a phone-style OPTIONS to the node (no dht option tag), over UDP from
 * a fresh socket (retransmitted every 500 ms, RFC 3261 Timer E) or on a fresh TCP connection. The
 * node answers an OPTIONS to itself (RFC 3261 section 11); a 503 (overload, RFC 3261 21.5.4) means
 * alive but busy, so the probe asks again until its time is up.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';

export interface ProbeResult {
  /** The final status, or null when none came in time. */
  readonly status: number | null;
  readonly ms: number;
}

const rand = (): string => randomBytes(6).toString('hex');

function options(transport: 'UDP' | 'TCP', host: string, nodePort: number, port: number): string {
  return [
    `OPTIONS sip:${host}:${nodePort} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${host}:${port};branch=z9hG4bK-probe-${rand()};rport`,
    'Max-Forwards: 70',
    `To: <sip:${host}:${nodePort}>`,
    `From: "probe" <sip:probe@${host}>;tag=${rand()}`,
    `Call-ID: probe-${rand()}@${host}`,
    'CSeq: 1 OPTIONS',
    `Contact: <sip:probe@${host}:${port}>`,
    'Accept: application/sdp',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Final status of a response in `text`, if one starts it. */
function finalStatus(text: string): number | null {
  const m = /^SIP\/2\.0 (\d{3})/.exec(text);
  const status = m ? Number(m[1]) : null;
  return status !== null && status >= 200 ? status : null;
}

export function probeUdp(host: string, nodePort: number, timeoutMs: number): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let retransmit: NodeJS.Timeout | undefined;
    const finish = (status: number | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(retransmit);
      s.close();
      resolve({ status, ms: performance.now() - t0 });
    };
    timer = setTimeout(() => finish(null), timeoutMs);
    s.on('error', () => finish(null));
    s.bind(0, host, () => {
      let req = options('UDP', host, nodePort, s.address().port);
      s.on('message', (m) => {
        const status = finalStatus(m.toString('latin1'));
        if (status === 503) req = options('UDP', host, nodePort, s.address().port); // a new transaction
        else if (status !== null) finish(status);
      });
      const send = (): void => s.send(req, nodePort, host);
      send();
      retransmit = setInterval(send, 500);
    });
  });
}

export function probeTcp(host: string, nodePort: number, timeoutMs: number): Promise<ProbeResult> {
  const t0 = performance.now();
  const attempt = (left: number): Promise<number | null | 'again'> =>
    new Promise((resolve) => {
      let done = false;
      let buf = '';
      const sock = connect(nodePort, host);
      const finish = (v: number | null | 'again'): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        resolve(v);
      };
      const timer = setTimeout(() => finish(null), left);
      sock.on('error', () => finish('again'));
      sock.on('connect', () => sock.write(options('TCP', host, nodePort, sock.localPort ?? 0)));
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (const part of buf.split('\r\n\r\n')) {
          const status = finalStatus(part.replace(/^(\r\n)+/, ''));
          if (status !== null) finish(status === 503 ? 'again' : status);
        }
      });
    });
  return (async () => {
    for (;;) {
      const left = timeoutMs - (performance.now() - t0);
      if (left <= 0) return { status: null, ms: performance.now() - t0 };
      const r = await attempt(left);
      if (r !== 'again') return { status: r, ms: performance.now() - t0 };
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
}
