import { afterEach, describe, expect, it } from 'vitest';
import { loopbackSipEndpoint } from '../helpers/sip-endpoint.js';
import { createRequest, createResponse, getTopVia, type SipMessage, type SipRequest, type SipResponse } from '../../src/sip/message/index.js';
import type { Endpoint } from '../../src/sip/transport/index.js';
import { StatefulProxy, type ProxyTarget } from '../../src/proxy/index.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function node() {
  return loopbackSipEndpoint(cleanup);
}

function until<T>(what: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = what();
      if (v !== undefined) return resolve(v);
      if (Date.now() > end) return reject(new Error('timed out waiting'));
      setTimeout(tick, 5);
    };
    tick();
  });
}

describe('StatefulProxy end to end: UAC socket → proxy → UAS socket on 127.0.0.1 (real clock)', () => {
  it('INVITE/180/200, ACK and BYE by the recorded route, MESSAGE over TCP', async () => {
    const uac = await node();
    const px = await node();
    const uas = await node();
    const uasAddr = uas.transport.local('udp');
    const proxyAddr = px.transport.local('udp');
    const proxy = new StatefulProxy({
      transactions: px.layer,
      self: [
        { host: '127.0.0.1', port: proxyAddr.port, protocol: 'udp' },
        { host: '127.0.0.1', port: proxyAddr.port, protocol: 'tcp' },
      ],
      resolver: {
        resolve: (req: SipRequest): Promise<ProxyTarget[]> =>
          Promise.resolve([{ uri: `sip:bob@127.0.0.1:${uasAddr.port}`, destination: req.method === 'MESSAGE' ? uas.transport.local('tcp') : uasAddr }]),
      },
    });
    cleanup.push(() => proxy.close());
    px.layer.onRequest(proxy.handleRequest);
    px.layer.onStray(proxy.handleStray);

    const atUas: SipRequest[] = [];
    const straysAtUas: SipMessage[] = [];
    uas.layer.onRequest((req, txn) => {
      atUas.push(req);
      const rr = req.headers.getAll('record-route').map((v): [string, string] => ['Record-Route', v]);
      const contact: [string, string] = ['Contact', `<sip:bob@127.0.0.1:${uasAddr.port}>`];
      if (req.method === 'INVITE') txn.respond(createResponse(req, 180, { toTag: 'uas', headers: [...rr, contact] }));
      txn.respond(createResponse(req, 200, { toTag: 'uas', headers: req.method === 'INVITE' ? [...rr, contact] : [] }));
    });
    uas.layer.onStray((m) => straysAtUas.push(m));

    const responses: SipResponse[] = [];
    const invite = createRequest({ method: 'INVITE', uri: 'sip:bob@example.com', from: '<sip:alice@example.com>', to: '<sip:bob@example.com>', callId: 'e2e-1' });
    uac.layer.sendRequest(invite, proxyAddr, { onResponse: (r) => responses.push(r), onTimeout: () => {} });
    const ok = await until(() => responses.find((r) => r.status === 200));
    expect(responses.filter((r) => r.status > 100).map((r) => r.status)).toEqual([180, 200]);
    expect(ok.headers.getAll('via')).toHaveLength(1);
    const route = ok.headers.getAll('record-route');
    expect(route).toEqual([`<sip:127.0.0.1:${proxyAddr.port};lr>`]);
    const inv = atUas[0]!;
    expect(inv.headers.get('max-forwards')).toBe('69');
    expect(getTopVia(inv).port).toBe(proxyAddr.port);

    const inDialog = (method: string, cseq: number) =>
      createRequest({
        method,
        uri: `sip:bob@127.0.0.1:${uasAddr.port}`,
        from: invite.headers.get('from')!,
        to: ok.headers.get('to')!,
        callId: 'e2e-1',
        cseq,
        headers: route.map((v): [string, string] => ['Route', v]),
      });
    uac.layer.sendAck(inDialog('ACK', 1), proxyAddr);
    const ack = await until(() => straysAtUas.find((m) => m.kind === 'request' && m.method === 'ACK'));
    expect(ack.kind === 'request' && ack.headers.has('route')).toBe(false);

    const byeDone = new Promise<SipResponse>((resolve, reject) =>
      uac.layer.sendRequest(inDialog('BYE', 2), proxyAddr, { onResponse: (r) => r.status >= 200 && resolve(r), onTimeout: () => reject(new Error('BYE timeout')) }),
    );
    expect((await byeDone).status).toBe(200);

    const msgDone = new Promise<SipResponse>((resolve, reject) =>
      uac.layer.sendRequest(
        createRequest({ method: 'MESSAGE', uri: 'sip:bob@example.com', from: '<sip:alice@example.com>', to: '<sip:bob@example.com>', body: 'hi' }),
        px.transport.local('tcp'),
        { onResponse: (r) => r.status >= 200 && resolve(r), onTimeout: () => reject(new Error('MESSAGE timeout')) },
      ),
    );
    expect((await msgDone).status).toBe(200);
    const msg = atUas.find((r) => r.method === 'MESSAGE')!;
    expect(msg.body.toString()).toBe('hi');
    expect(getTopVia(msg).transport).toBe('TCP');
    await until(() => (proxy.stats.contexts === 0 ? true : undefined));
  });
});
