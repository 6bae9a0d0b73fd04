#!/usr/bin/env node
/**
 * The `kadsip` command. `kadsip start` runs a node (alone: a one-node overlay on 127.0.0.1:5060);
 * `kadsip lookup` asks the overlay through a running node; `kadsip candidates` lists the STUN/TURN
 * servers a running node learned from the overlay; `kadsip ca` makes the overlay's enrollment CA and
 * node certificates (closed overlays). Flags win over KADSIP_* environment
 * variables, which win over the --config file, which wins over the defaults (src/node/config.ts).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { runCaInit, runCaIssue, runCaRevoke } from './ca-command.js';
import { runCandidates } from './candidates-command.js';
import { runLookup } from './lookup-command.js';
import { runStart } from './start-command.js';

/** The package's version, read from its package.json (two folders up from dist/cli/ or src/cli/). */
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const program = new Command();
program
  .name('kadsip')
  .description('A peer-to-peer SIP registrar and proxy on a Kademlia overlay carried in SIP (dSIP)')
  .version(VERSION, '-V, --version', 'print the version and exit')
  .showHelpAfterError('(kadsip COMMAND --help lists the options)')
  // Usage errors exit 2, as configuration errors do (commander's own default is 1, which the
  // commands use for "not found" and run-time failures); commands created after this inherit it.
  .exitOverride();

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

program
  .command('start')
  .description('run a kadsip node (no --bootstrap: start a new overlay)')
  .option('--listen <ip:port>', 'SIP address to listen on (default 127.0.0.1:5060)')
  .option('--transports <list>', 'udp,tcp,tls (default udp,tcp; tls needs a certificate)')
  .addOption(new Option('--peer-transport <protocol>', 'transport between peers; its address is the overlay address (default udp, else tcp, else tls)').choices(['udp', 'tcp', 'tls']))
  .option('--tls-port <port>', 'TLS listen port (default the listen port + 1: 5061)')
  .option('--tls-cert <file>', "TLS: this node's certificate chain, PEM (default in a closed overlay: --cert)")
  .option('--tls-key <file>', 'TLS: its private key, PEM (default in a closed overlay: --key)')
  .option('--tls-ca <file>', 'TLS: CA certificates that verify peers, PEM (default in a closed overlay: --ca-cert)')
  .addOption(new Option('--tls-mutual <on|off>', 'mutual TLS between peers: peer requests only over TLS with a certificate --tls-ca verifies (default off)').choices(['on', 'off']))
  .option('--bootstrap <ip:port,...>', 'peers to join through (IP:PORT, or dns:DOMAIN: the DNS-SD/SRV records of the overlay there; comma-separated or repeatable)', collect)
  .option('--overlay <name>', 'overlay name (default kadsip)')
  .option('--domain <name>', 'SIP domain served by the overlay (repeatable)', collect)
  .option('--http <ip:port>', 'serve /status, /healthz and /metrics there')
  .option('--config <file>', 'JSON config file')
  .addOption(new Option('--log-level <level>', 'pino log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
  .addOption(new Option('--role <role>', 'peer (routes and stores for others) or client (only uses the overlay)').choices(['peer', 'client']))
  .option('--stun <ip:port>', 'run a STUN server there and advertise it to the overlay (stun=)')
  .option('--turn <ip:port>', 'advertise a TURN server running beside the node (turn=)')
  .option('--candidates-wanted <n>', 'STUN/TURN candidates to ask for (default 10 behind NAT, else 0)')
  .option('--public <ip:port>', 'address others reach this node at (default: detected with STUN)')
  .addOption(new Option('--discover <mode>', 'lan: find peers on the link by multicast DNS-SD and announce this node there').choices(['lan', 'off']))
  .option('--ca-cert <file>', "closed overlay: the overlay CA's certificate (with --cert and --key; kadsip ca init)")
  .option('--cert <file>', "closed overlay: this node's certificate (kadsip ca issue)")
  .option('--key <file>', "closed overlay: this node's private key")
  .option('--crl <file>', "closed overlay: the CA's revocation list, reloaded when it changes (kadsip ca revoke)")
  .option('--overlay-secret-file <file>', 'small overlay without a CA: Peer-IDs and bindings under the shared secret in this file')
  .option('--rate-limit <n>', 'new out-of-dialog requests per second one phone source (IP, IPv6 /64) may send, bursts of twice that; over it: 503 (default 50; 0: off)')
  .option('--overlay-rate-limit <n>', "peer requests per second, node-wide: the overlay's own budget (default 2000; 0: off)")
  .option('--overload-utilisation <0-1>', 'event-loop utilisation above which the node is overloaded (default 0.9; 0: off)')
  .option('--overload-lag-ms <ms>', 'p99 event-loop delay above which the node is overloaded (default 200; 0: off)')
  .option('--overload-depth <n>', 'requests in progress above which the node is overloaded (default 5000; 0: off)')
  .option('--trust <cidr,...>', 'trusted source networks: their requests leave the node without a digest challenge (repeatable; default 127.0.0.0/8,::1; none: no network)', collect)
  .option('--no-dns-routing', 'refuse (404) requests to other domains instead of routing them by DNS (RFC 3263)')
  .option('--auth-failures <n>', 'failed digest authentications from one IP that start a cooling-off (default 10)')
  .option('--auth-failure-window-s <s>', 'within this many seconds (default 60)')
  .option('--auth-cooling-off-s <s>', 'seconds such a source gets 403 (default 300)')
  .action(async (options) => {
    process.exitCode = await runStart(options);
  });

program
  .command('lookup')
  .description('find a SIP URI (FIND_VALUE) or a peer-ID (FIND_NODE) through a running node; exit 0 found, 1 not found, 2 error')
  .argument('<target>', 'sip:user@domain, or 40 hex digits of a peer-ID')
  .requiredOption('--via <ip:port>', 'a node of the overlay to ask first')
  .option('--overlay <name>', "the overlay to search (default: the node's own, learnt from its answer; given: checked)")
  .option('--timeout <seconds>', 'give up after this long', '10')
  .option('--json', 'print one JSON line')
  .option('--ca-cert <file>', "closed overlay: the overlay CA's certificate (with --cert and --key: the client proves itself as a peer)")
  .option('--cert <file>', 'closed overlay: a certificate of that CA')
  .option('--key <file>', "closed overlay: that certificate's key")
  .option('--overlay-secret-file <file>', "secret overlay: the overlay's shared secret")
  .action(async (target: string, options) => {
    process.exitCode = await runLookup(target, options);
  });

program
  .command('candidates')
  .description('STUN/TURN servers: those a running node learned from the overlay (--http, its /status), or those a node offers when asked over SIP (--via); exit 0 some, 1 none, 2 error')
  .option('--http <ip:port>', "the node's --http address")
  .option('--via <ip:port>', "a node's SIP address: ask it for candidates as a NATed newcomer would (DHT-Candidates-Wanted)")
  .option('--turn', 'print only the TURN addresses, one per line')
  .option('--json', 'print the list as JSON')
  .option('--timeout <seconds>', 'give up after this long', '5')
  .option('--ca-cert <file>', "closed overlay (--via): the overlay CA's certificate, with --cert and --key")
  .option('--cert <file>', 'closed overlay (--via): a certificate of that CA')
  .option('--key <file>', "closed overlay (--via): that certificate's key")
  .option('--overlay-secret-file <file>', "secret overlay (--via): the overlay's shared secret")
  .action(async (options) => {
    process.exitCode = await runCandidates(options);
  });

const ca = program
  .command('ca')
  .description("the overlay's enrollment CA: make it, issue node certificates, revoke them (closed overlays: kadsip start --ca-cert --cert --key)");

ca.command('init')
  .description('make an overlay CA: DIR/ca-cert.pem, DIR/ca-key.pem (mode 0600) and an empty DIR/crl.pem; never overwrites')
  .requiredOption('--out <dir>', 'directory to write into (created if missing)')
  .option('--overlay <name>', "the overlay's name, written into the CA certificate")
  .addOption(new Option('--algorithm <algorithm>', 'key algorithm (default ed25519)').choices(['ed25519', 'p256']))
  .option('--days <n>', 'validity in days (default 3650)')
  .option('--json', 'print the paths and the fingerprint as one JSON line')
  .action(async (options) => {
    process.exitCode = await runCaInit(options);
  });

ca.command('issue')
  .description("make a node's key and certificate: DIR/node-cert.pem and DIR/node-key.pem (mode 0600); never overwrites")
  .requiredOption('--ca <dir>', 'the CA directory (kadsip ca init --out)')
  .requiredOption('--out <dir>', 'directory to write into (created if missing)')
  .option('--name <name>', 'node name (certificate CN; default node- and a hash of the key)')
  .option('--domain <name>', 'SIP domain whose AoRs the node may publish (repeatable)', collect)
  .option('--address <ip:port>', 'address the node may use (repeatable; none: any address)', collect)
  .option('--days <n>', 'validity in days (default 365)')
  .addOption(new Option('--algorithm <algorithm>', "key algorithm (default the CA's)").choices(['ed25519', 'p256']))
  .option('--json', 'print the paths, serial and fingerprint as one JSON line')
  .action(async (options) => {
    process.exitCode = await runCaIssue(options);
  });

ca.command('revoke')
  .description('put a node certificate on the CRL (created or extended); nodes started with --crl reload it')
  .requiredOption('--ca <dir>', 'the CA directory')
  .requiredOption('--cert <file>', 'the node certificate to revoke')
  .option('--crl <file>', 'the CRL to write (default DIR/crl.pem)')
  .option('--json', 'print the CRL path and the serial as one JSON line')
  .action(async (options) => {
    process.exitCode = await runCaRevoke(options);
  });

// Every command answers --version too (`kadsip start --version`), as operators type it.
for (const command of program.commands) command.version(VERSION, '-V, --version', 'print the version and exit');

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // Help and --version end with exit code 0; commander has already printed the usage error.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
    return;
  }
  process.stderr.write(`kadsip: ${(e as Error).message}\n`);
  process.exitCode = 2;
});
