/**
 * The contact-routing rule: where a request for a registered phone goes, to the Contact it
 * registered or back over the flow its REGISTER came in on.
 *
 * RFC 3261 section 10 and 16.5 say the registered Contact: a phone may register from one socket
 * and listen on another, and a third party may register a Contact on the phone's behalf (10.2).
 * Behind NAT the Contact is unreachable (a private address, or a port the NAT never mapped) and
 * only the flow the REGISTER arrived on leads back to the phone (RFC 3581 symmetric response
 * routing; RFC 5626 makes that flow explicit). So, as Kamailio's nathelper (nat_uac_test) and
 * OpenSIPS decide it, the flow is used when NAT is detected or the phone asked for it, and the
 * Contact otherwise:
 *  1. the phone asked for outbound flow routing: `;ob` in the Contact URI or a reg-id
 *     (RFC 5626 sections 4.2, 5.3);
 *  2. it registered over a connection (TCP, TLS) that is still open: requests reuse it (RFC 5626
 *     section 5.3, RFC 3261 18.2.2's connection reuse);
 *  3. the Contact's host is not the IP address the REGISTER came from (a private address behind
 *     a NAT, or a host name that cannot be compared);
 * otherwise the Contact itself, at its port (default 5060) and transport (default UDP).
 */
import { getUriParam, type Uri } from '../sip/message/index.js';
import { normalizeHost, type Endpoint } from '../sip/transport/index.js';
import type { RegistrarBinding } from './binding-store.js';

/** Whether the transport still holds an open connection to this source (TCP); false for UDP. */
export type FlowOpen = (source: Endpoint) => boolean;

/** True when requests for this binding must go back over the flow it registered on (rules 1-3 above). */
export function needsFlowRouting(binding: RegistrarBinding, flowOpen: FlowOpen = () => false): boolean {
  const uri = binding.contactUri;
  if (uri.kind !== 'sip') return true;
  if (binding.regId !== undefined || getUriParam(uri, 'ob') !== undefined) return true;
  if (binding.source.protocol !== 'udp' && flowOpen(binding.source)) return true;
  return normalizeHost(uri.host) !== normalizeHost(binding.source.host);
}

/**
 * The Contact URI as a destination: its host, port and transport; UDP at 5060 by default, TLS at
 * 5061 for a sips: Contact or `;transport=tls` (RFC 3261 26.2, RFC 5630); null for a non-SIP URI.
 */
export function contactEndpoint(uri: Uri): Endpoint | null {
  if (uri.kind !== 'sip') return null;
  const transport = getUriParam(uri, 'transport');
  const t = typeof transport === 'string' ? transport.toLowerCase() : undefined;
  const sips = uri.scheme.toLowerCase() === 'sips';
  const protocol = sips || t === 'tls' ? 'tls' : t === 'tcp' ? 'tcp' : 'udp';
  return { protocol, host: normalizeHost(uri.host), port: uri.port ?? (protocol === 'tls' ? 5061 : 5060) };
}

/** Where a request for this binding is sent: the flow it registered on, or its Contact. */
export function bindingDestination(binding: RegistrarBinding, flowOpen: FlowOpen = () => false): Endpoint {
  if (needsFlowRouting(binding, flowOpen)) return binding.source;
  return contactEndpoint(binding.contactUri) ?? binding.source;
}
