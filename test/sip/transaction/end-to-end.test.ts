import { afterEach, describe, expect, it } from 'vitest';
import { loopbackSipEndpoint } from '../../helpers/sip-endpoint.js';
import { createRequest, createResponse, type SipResponse } from '../../../src/sip/message/index.js';
import { TransactionLayer, type ServerTransaction } from '../../../src/sip/transaction/index.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function node() {
  return loopbackSipEndpoint(cleanup);
}

function request(method: string, uri: string) {
  return createRequest({ method, uri, from: '<sip:alice@example.com>', to: '<sip:bob@example.com>' });
}

/** Sends and collects every response up to the final one. */
function exchange(layer: TransactionLayer, req: ReturnType<typeof request>, to: Parameters<TransactionLayer['sendRequest']>[1]) {
  const responses: SipResponse[] = [];
  return new Promise<SipResponse[]>((resolve, reject) => {
    layer.sendRequest(req, to, {
      onResponse: (r) => {
        responses.push(r);
        if (r.status >= 200) resolve(responses);
      },
      onTimeout: () => reject(new Error('timeout')),
      onTransportError: reject,
    });
  });
}

describe('TransactionLayer over two SipTransports on loopback (real clock)', () => {
  it('OPTIONS over UDP: request and 200', async () => {
    const a = await node();
    const b = await node();
    b.layer.onRequest((req, txn) => txn.respond(createResponse(req, 200)));
    const responses = await exchange(a.layer, request('OPTIONS', 'sip:bob@127.0.0.1'), b.transport.local('udp'));
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(b.transport.stats.udpIn).toBe(1);
    expect(a.transport.stats.udpIn).toBe(1);
  });

  it('INVITE over TCP: 180 then 486, the layer ACKs over the same connection', async () => {
    const a = await node();
    const b = await node();
    let serverTxn: ServerTransaction | undefined;
    b.layer.onRequest((req, txn) => {
      serverTxn = txn;
      txn.respond(createResponse(req, 180, { toTag: 'uas' }));
      txn.respond(createResponse(req, 486, { toTag: 'uas' }));
    });
    const responses = await exchange(a.layer, request('INVITE', 'sip:bob@127.0.0.1'), b.transport.local('tcp'));
    expect(responses.map((r) => r.status)).toEqual([180, 486]);
    expect(serverTxn!.source.protocol).toBe('tcp');
    // The ACK arrives and ends the server transaction (Timer I = 0 over TCP).
    const end = Date.now() + 2000;
    while (serverTxn!.state !== 'terminated' && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(serverTxn!.state).toBe('terminated');
    expect(a.transport.stats.tcpConnections).toBe(1);
    expect(b.layer.stats.serverTransactions).toBe(0);
    expect(a.layer.stats.clientTransactions).toBe(0);
  });
});
