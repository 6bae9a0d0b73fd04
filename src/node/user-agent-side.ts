/**
 * Requests that are not peer-protocol requests: what phones and other SIP elements send. Until the
 * registrar and proxy of issue 4 take this place, the node answers them as an element that knows
 * no user: RFC 3261 8.2 checks first (405/416/420/400 with the precise code), OPTIONS 200 with
 * Allow (phones and SIPp use it as a keep-alive), anything else 404 Not Found.
 */
import type { Logger } from 'pino';
import { checkRequestSemantics, createResponse, getCallId, type SipRequest } from '../sip/message/index.js';
import type { ServerTransaction } from '../sip/transaction/index.js';

const ALLOW = 'REGISTER, OPTIONS';
const KNOWN_METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE'];

export function serveUserAgentRequest(request: SipRequest, txn: ServerTransaction, log: Logger): void {
  if (request.method === 'ACK') return; // never answered (RFC 3261 17.2.3); a stray ACK is absorbed
  const problem = checkRequestSemantics(request, { supportedExtensions: ['dht'], implementedMethods: KNOWN_METHODS });
  if (problem) {
    const headers: [string, string][] = [];
    if (problem.status === 501) headers.push(['Allow', ALLOW]);
    if (problem.status === 420 && problem.unsupported) headers.push(['Unsupported', problem.unsupported.join(', ')]);
    log.info({ callId: callIdOf(request), method: request.method, status: problem.status, reason: problem.reason }, 'request refused');
    respond(txn, request, problem.status, problem.reason, headers);
    return;
  }
  if (request.method === 'OPTIONS') {
    respond(txn, request, 200, 'OK', [['Allow', ALLOW], ['Supported', 'dht']]);
    return;
  }
  respond(txn, request, 404, 'Not Found', []);
}

function respond(txn: ServerTransaction, request: SipRequest, status: number, reason: string, headers: [string, string][]): void {
  txn.respond(createResponse(request, status, { reason, headers }));
}

function callIdOf(request: SipRequest): string | undefined {
  try {
    return getCallId(request);
  } catch {
    return undefined;
  }
}
