/**
 * A NATed phone's media relayed through a TURN server the overlay told its node about (issue 5;
 * draft-jiang, PROTOCOL.md section 5), on the multi-host testbed (test/live/testbed.ts); nothing
 * leaves its namespaces:
 *
 *   host phone  203.0.113.20   SIPp caller :5090 (-rtp_echo on :6000)
 *   host pub    198.51.100.10  public peer :5060 (--stun :3478, --turn 198.51.100.10:3479),
 *               + .11          coturn on .10:3479, relaying from .11
 *   NAT  n1     198.51.100.1   'eim': iptables MASQUERADE, unsolicited inbound dropped
 *     priv      10.77.1.10     NATed node :5060, baresip :5070 (medianat=turn)
 *
 * The phone's routes lead to pub's two addresses only, and the NAT has none to the phone's /24
 * (pub does not forward): as on separate links, media between the phone and baresip can pass only
 * through coturn. The capture runs on the phone's eth0 (a TAP device held by the testbed's switch).
 * It checks that:
 *  (a) the NATed node learns the TURN server through the overlay: its /status lists the candidate
 *      the public peer offered on JOIN (stun= and turn=), and `kadsip candidates --turn` prints it;
 *  (b) baresip behind the NAT, configured with that TURN address read from /status (and coturn's
 *      static long-term user), registers at the NATed node and is called from the public side;
 *      its SDP answer, as the caller receives it, puts the audio on coturn's relay address
 *      (198.51.100.11, a relay port), not on its private or the NAT's address;
 *  (c) RTP really flows through the relay: a capture on the phone's interface sees RTP from the
 *      relay address and port in that SDP to the phone's media port, and the phone's echo going
 *      back there, and no media from anywhere else; coturn's log shows the allocation by the TURN
 *      user and the channel bound to the phone's media address; baresip sees the echo come back.
 * It is skipped (with the reason in its name) only where namespaces cannot be made at all (not
 * root, no netns support); a missing testbed tool, coturn, baresip, SIPp or tshark is a failure
 * with a message.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baresipModuleDir, plain, REPO, requireTool, run } from './live-helpers.js';
import { logLines, netnsUnavailable, registrationPublished, until, type NsProc } from './netns-helpers.js';
import { requireTestbed, Testbed, type Host } from './testbed.js';

const PUBLIC_PEER = '198.51.100.10';
const RELAY = '198.51.100.11';
const NAT_PUBLIC = '198.51.100.1';
const PHONE = '203.0.113.20';
const STUN = `${PUBLIC_PEER}:3478`;
const TURN = `${PUBLIC_PEER}:3479`;
const [RELAY_MIN, RELAY_MAX] = [49160, 49200];
const TURN_USER = 'kadsip';
const TURN_PASS = 'relay-me';
const TURN_REALM = 'kadsip';
const MEDIA_PORT = 6000;
const CALL_MS = 3000;
const DOMAIN = 'turn.example';
const UAC_XML = join(REPO, 'test', 'live', 'turn', 'uac.xml');

const cannotRun = netnsUnavailable();

/** The audio part of an SDP: the m=audio port and the connection address that applies to it. */
function audioOf(sdp: string): { port: number; address: string } | undefined {
  const lines = sdp.split(/\r?\n/);
  const m = lines.findIndex((l) => l.startsWith('m=audio '));
  if (m < 0) return undefined;
  const port = Number(lines[m]!.split(' ')[1]);
  const mediaC = lines.slice(m + 1).find((l, i, rest) => l.startsWith('c=') && !rest.slice(0, i).some((x) => x.startsWith('m=')));
  const sessionC = lines.slice(0, m).find((l) => l.startsWith('c='));
  const c = mediaC ?? sessionC;
  return c ? { port, address: c.split(' ')[2]! } : undefined;
}

describe.skipIf(cannotRun !== null)(`TURN relay for a phone behind a real NAT (coturn beside a --turn node, baresip)${cannotRun ? `: skipped, ${cannotRun}` : ''}`, () => {
  let tb: Testbed;
  let pub: Host;
  let priv: Host;
  let phoneHost: Host;
  let publicPeer: NsProc;
  let natedNode: NsProc;
  let coturn: NsProc;
  let work = '';
  let moduleDir = '';
  let turnFromStatus = '';

  beforeAll(async () => {
    requireTestbed();
    for (const [tool, pkg] of [['sipp', 'sip-tester'], ['baresip', 'baresip-core'], ['turnserver', 'coturn'], ['tshark', 'tshark']]) requireTool(tool!, pkg!);
    moduleDir = baresipModuleDir('turn.so');
    work = mkdtempSync(join(tmpdir(), 'kadsip-turn-'));

    tb = await Testbed.create();
    pub = await tb.addHost('pub', PUBLIC_PEER);
    // coturn relays from a second address of pub's, so that the relayed media is told apart.
    await tb.exec(pub, 'ip', 'addr', 'add', `${RELAY}/32`, 'dev', 'eth0');
    const nat = await tb.addNat('n1', 'eim', NAT_PUBLIC);
    priv = await tb.addPrivateHost(nat, 'priv');
    phoneHost = await tb.addHost('phone', PHONE);
    // The phone and the NAT have no path between them, as when they sat on links of their own:
    // the phone reaches pub's two addresses only, the NAT not the phone's /24. On the open link,
    // baresip's last RTCP packet (BYE + SDES, sent after the SIP BYE's 200, once it has freed its
    // TURN allocation) reaches the phone straight from the NAT's address, outside the relay.
    await tb.exec(phoneHost, 'ip', 'route', 'del', '198.51.100.0/24');
    for (const ip of [PUBLIC_PEER, RELAY]) await tb.exec(phoneHost, 'ip', 'route', 'add', `${ip}/32`, 'dev', 'eth0', 'src', PHONE);
    await tb.exec(nat, 'ip', 'route', 'del', '203.0.113.0/24');

    // coturn in the foreground, flags only: no config file, no TLS/DTLS, no CLI, one static
    // long-term user, its state (pid file, user database) in the test's temp folder.
    coturn = tb.spawn(pub, 'turnserver', [
      '-n', '--listening-ip', PUBLIC_PEER, '--listening-port', TURN.split(':')[1]!, '--relay-ip', RELAY,
      '--min-port', String(RELAY_MIN), '--max-port', String(RELAY_MAX),
      '--lt-cred-mech', '--user', `${TURN_USER}:${TURN_PASS}`, '--realm', TURN_REALM,
      '--no-tls', '--no-dtls', '--no-cli', '--no-tcp-relay',
      '--pidfile', join(work, 'turnserver.pid'), '--userdb', join(work, 'turndb'),
      '--log-file', 'stdout', '--simple-log', '--verbose',
    ]);
    await until('coturn to listen', 10_000, () => {
      if (coturn.child.exitCode !== null) throw new Error(`turnserver exited ${coturn.child.exitCode}: ${coturn.output()}`);
      return coturn.output().includes(`UDP listener opened on: ${TURN}`) ? true : undefined;
    });

    publicPeer = tb.startNode(pub, ['--transports', 'udp', '--stun', STUN, '--turn', TURN], { domain: DOMAIN });
    await tb.healthy(pub, publicPeer);
    natedNode = tb.startNode(priv, ['--transports', 'udp', '--bootstrap', `${PUBLIC_PEER}:5060`], { domain: DOMAIN });
    await tb.healthy(priv, natedNode);
  }, 60_000);

  afterAll(async () => {
    await tb?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 30_000);

  it('the NATed node learns the TURN server through the overlay (/status, `kadsip candidates`)', async () => {
    expect(logLines(natedNode).some((l) => l.msg === 'nat detected'), natedNode.output()).toBe(true);
    const status = await tb.status<{ behindNat: boolean; discoveredCandidates: Array<{ stun: string; turn?: string; role: string }> }>(priv);
    expect(status.behindNat).toBe(true);
    const withTurn = status.discoveredCandidates.find((c) => c.turn !== undefined);
    expect(withTurn, JSON.stringify(status)).toMatchObject({ stun: STUN, turn: TURN, role: 'peer' });
    turnFromStatus = withTurn!.turn!;
    const cli = await tb.kadsip(priv, ['candidates', '--http', '127.0.0.1:8080', '--turn'], 10_000);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toBe(`${TURN}\n`);
  });

  it('a call to baresip behind the NAT carries its audio through coturn', async () => {
    expect(turnFromStatus, 'the previous test read the TURN address from /status').not.toBe('');
    // baresip: the TURN server from the NATed node's /status, coturn's user; a 440 Hz tone as its
    // microphone (ausine wants 48 kHz stereo; baresip resamples to PCMU), nothing to play to.
    const dir = join(work, 'baresip');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'config'),
      [
        `sip_listen ${priv.ip}:5070`,
        `net_interface ${priv.ip}`,
        'audio_source ausine,440',
        'audio_player aubridge,nil',
        'audio_alert aubridge,nil',
        'ausrc_srate 48000',
        'ausrc_channels 2',
        `module_path ${moduleDir}`,
        'module g711.so',
        'module aubridge.so',
        'module ausine.so',
        'module turn.so',
        'module_app account.so',
        'module_app menu.so',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'accounts'),
      `<sip:alice@${DOMAIN}>;regint=60;answermode=auto;audio_codecs=PCMU;outbound="sip:${priv.ip}:5060";medianat=turn;stunserver="turn:${turnFromStatus}";stunuser=${TURN_USER};stunpass=${TURN_PASS}\n`,
    );
    const phone = tb.spawn(priv, 'baresip', ['-s', '-f', dir, '-t', '30']);
    await until('baresip to register at the NATed node', 10_000, async () => {
      if (phone.child.exitCode !== null) throw new Error(`baresip exited ${phone.child.exitCode}: ${plain(phone.output())}`);
      const s = await tb.status<{ registeredAors: number }>(priv);
      return s.registeredAors === 1 && registrationPublished(natedNode) ? true : undefined;
    });

    // Everything UDP on the phone's link (its eth0, the switch's TAP), from before the call until
    // after the hang-up.
    const pcap = join(work, 'phone.pcap');
    const capture = tb.spawn(phoneHost, 'tshark', ['-n', '-i', 'eth0', '-f', 'udp', '-w', pcap]);
    await until('tshark to capture', 10_000, () => (/Capturing on/.test(capture.output()) ? true : undefined));

    const messages = join(work, 'uac.msg');
    const uac = tb.sipp(
      phoneHost,
      UAC_XML,
      ['-p', '5090', '-s', 'alice', '-key', 'domain', DOMAIN, '-d', String(CALL_MS), '-rtp_echo', '-mi', PHONE, '-mp', String(MEDIA_PORT), '-trace_msg', '-message_file', messages, `${PUBLIC_PEER}:5060`],
      { timeoutS: 20 },
    );
    const uacCode = await uac.exit;
    await new Promise((r) => setTimeout(r, 300)); // the last echoes
    tb.signal(capture, 'SIGINT');
    await capture.exit;
    const explain = (): string =>
      `--- SIPp caller:\n${uac.output().slice(-2500)}\n--- baresip:\n${plain(phone.output()).slice(-5000)}\n--- coturn:\n${coturn.output().slice(-3000)}\n` +
      `--- public peer:\n${publicPeer.output().slice(-1500)}\n--- NATed node:\n${natedNode.output().slice(-1500)}`;
    expect(uacCode, explain()).toBe(0);

    // (b) The SDP answer as the caller got it: baresip's audio sits on coturn's relay address.
    const log = readFileSync(messages, 'utf8');
    const okBlock = log.split(/^-{10,}.*$/m).find((b) => /^SIP\/2\.0 200 /m.test(b) && /^CSeq: *1 INVITE/m.test(b));
    const sdp = okBlock?.slice(okBlock.search(/^v=0/m));
    expect(sdp, `no 200 with SDP in SIPp's message log:\n${log.slice(-3000)}`).toMatch(/^v=0/);
    const answer = audioOf(sdp!);
    expect(answer?.address, sdp).toBe(RELAY);
    const relayPort = answer!.port;
    expect(relayPort).toBeGreaterThanOrEqual(RELAY_MIN);
    expect(relayPort).toBeLessThanOrEqual(RELAY_MAX);

    // (c) What crossed the phone's link: RTP from the relay to the phone's media port, the echo
    // back, and no media from or to anywhere else.
    const dump = await run('tshark', ['-n', '-r', pcap, '-Y', 'udp', '-T', 'fields', '-E', 'separator=,', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'udp.dstport'], { timeoutMs: 20_000 });
    expect(dump.code, dump.stderr).toBe(0);
    const flows = new Map<string, number>();
    for (const line of dump.stdout.split('\n').filter(Boolean)) {
      const [src, sport, dst, dport] = line.split(',');
      const key = `${src}:${sport} -> ${dst}:${dport}`;
      flows.set(key, (flows.get(key) ?? 0) + 1);
    }
    const seen = [...flows].map(([k, n]) => `${k}: ${n}`).join('\n');
    const relayed = flows.get(`${RELAY}:${relayPort} -> ${PHONE}:${MEDIA_PORT}`) ?? 0;
    const echoed = flows.get(`${PHONE}:${MEDIA_PORT} -> ${RELAY}:${relayPort}`) ?? 0;
    // 20 ms packets for CALL_MS: at least half of them, to allow for the set-up.
    expect(relayed, `${seen}\n${explain()}`).toBeGreaterThanOrEqual(CALL_MS / 20 / 2);
    expect(echoed, seen).toBeGreaterThanOrEqual(CALL_MS / 20 / 2);
    // The phone's far end is its node for SIP, the relay for everything else.
    const farEnds = [...flows.keys()].map((k) => k.split(' -> ').find((end) => !end.startsWith(`${PHONE}:`)) ?? k);
    expect(farEnds.filter((end) => end !== `${PUBLIC_PEER}:5060` && !end.startsWith(`${RELAY}:`)), seen).toEqual([]);

    // coturn: the TURN user allocated (from the NAT's public address) and bound a channel (or a
    // permission) to the phone's media address.
    const turnLog = coturn.output();
    expect(turnLog).toMatch(new RegExp(`user <${TURN_USER}>: incoming packet ALLOCATE processed, success`));
    expect(turnLog).toMatch(new RegExp(`user <${TURN_USER}>: incoming packet (CHANNEL_BIND|CREATE_PERMISSION) processed, success`));
    expect(turnLog).toContain(`peer ${PHONE}:${MEDIA_PORT} lifetime updated`);
    // baresip got the echo back through the relay.
    expect(plain(phone.output()), explain()).toMatch(new RegExp(`incoming rtp for 'audio' established, receiving from ${PHONE.replace(/\./g, '\\.')}:${MEDIA_PORT}`));
  }, 45_000);
});
