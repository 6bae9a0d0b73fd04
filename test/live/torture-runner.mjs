#!/usr/bin/env node
/**
 * Sends the RFC 4475 torture messages (and RFC 5118's IPv6 ones) to a live kadsip node, over UDP
 * and over TCP, and prints one JSON line per message and transport:
 *
 *   {"corpus":"rfc4475","name":"badvers","transport":"udp","replies":[{"status":505,...}],
 *    "requests":[],"closedByNode":false,"alive":true,"ms":12}
 *
 * then one {"summary":true,...} line. Meant to run inside a network namespace that has only `lo`
 * (the corpus names hosts like 192.0.2.x; a node that forwarded must reach nothing):
 *
 *   unshare --net --fork sh -c 'ip link set lo up && exec node test/live/torture-runner.mjs'
 *
 * It refuses to run where another interface is up, unless --allow-network.
 *
 * Two lanes run side by side, each with its own node: every message over UDP to one node, every
 * message over TCP to another. A lane restarts its node before a message whose transaction key
 * (top Via branch and sent-by, method) that node has already seen: several corpus messages share
 * one (cparam01/cparam02, unkscm/novelsc, most of RFC 5118), and RFC 3261 17.2.3 rightly treats
 * the second as a retransmission of the first, answered with the first one's response.
 *
 * Per message:
 *  - UDP: a fresh socket bound to 127.0.0.1 and the top Via's sent-by port (5060 by default: the
 *    node answers there, RFC 3261 18.2.2, unless rport), the file's bytes as one datagram, replies
 *    collected for 300 ms (60 ms more after the first final response). Then a phone-style OPTIONS
 *    (no dht) from another fresh socket must get a 200: the node survived and still serves.
 *    Replies are matched to the message by top-Via branch, Call-ID and CSeq; the others (the node
 *    retransmitting an earlier INVITE's final response, Timer G, since nobody ACKs) go to `stray`.
 *  - TCP: a fresh connection, the bytes written as they are, replies read for up to 500 ms (150 ms
 *    more after the first final response), noting whether the node closed the connection; then we
 *    close, and an OPTIONS on a new connection must get a 200.
 * A node that died is restarted (and the message reported not alive) so the rest still runs.
 *
 * Options: --node-port N (UDP lane; the TCP lane uses N+2; default 5080), --only a,b,c (names), --allow-network.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const CORPORA = [
  { corpus: 'rfc4475', dir: fileURLToPath(new URL('../fixtures/sip-torture/', import.meta.url)) },
  { corpus: 'rfc5118', dir: fileURLToPath(new URL('../fixtures/sip-torture/rfc5118/', import.meta.url)) },
];
const HOST = '127.0.0.1';

const UDP_COLLECT_MS = 300;
const UDP_AFTER_FINAL_MS = 60;
const TCP_COLLECT_MS = 500;
const TCP_AFTER_FINAL_MS = 150;
const PROBE_TIMEOUT_MS = 2_000;
const NODE_START_MS = 10_000;

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const UDP_NODE_PORT = Number(arg('--node-port', '5080'));
const TCP_NODE_PORT = UDP_NODE_PORT + 2;
const ONLY = arg('--only', '')
  .split(',')
  .filter((s) => s !== '');

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rand = () => randomBytes(6).toString('hex');

// ------------------------------------------------------------------ safety: only loopback here

if (!process.argv.includes('--allow-network')) {
  const others = Object.entries(networkInterfaces()).filter(([, addrs]) => (addrs ?? []).some((a) => !a.internal));
  if (others.length > 0) {
    process.stderr.write(`torture-runner: interfaces other than lo are up (${others.map(([n]) => n).join(', ')}); run it in a fresh network namespace (see the header) or pass --allow-network\n`);
    process.exit(2);
  }
}

// ------------------------------------------------------------------ reading messages

/** Header section of a message (folded lines unfolded), as lines; the first is the start line. */
function headLines(buf) {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return (end >= 0 ? text.slice(0, end) : text).replace(/\r\n[ \t]+/g, ' ').split('\r\n');
}

/** Values of a header (long and compact names), in order. */
function headerValues(lines, names) {
  const out = [];
  for (const l of lines.slice(1)) {
    const m = /^([^:\s]+)[ \t]*:(.*)$/.exec(l);
    if (m && names.includes(m[1].toLowerCase())) out.push(m[2].trim());
  }
  return out;
}

/** What identifies the transaction of a message: top Via branch and sent-by, Call-IDs, CSeqs. */
function identity(lines) {
  const via = headerValues(lines, ['via', 'v'])[0];
  const m = via === undefined ? null : /^SIP\s*\/\s*2\.0\s*\/\s*[A-Za-z]+\s+(\[[^\]]*\]|[^\s;:,]+)(?:\s*:\s*(\d+))?/i.exec(via);
  const branch = via === undefined ? undefined : /;\s*branch\s*=\s*([^;,\s]+)/i.exec(via)?.[1];
  return {
    sentBy: m ? `${m[1].toLowerCase()}:${m[2] ?? ''}` : undefined,
    port: m && m[2] !== undefined ? Number(m[2]) : 5060,
    branch,
    callIds: headerValues(lines, ['call-id', 'i']),
    cseqs: headerValues(lines, ['cseq']).map((c) => c.replace(/\s+/g, ' ')),
  };
}

/** A response's status, reason, CSeq and a few headers; a request's start line. */
function describe(buf) {
  const lines = headLines(buf);
  const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
  if (!m) return { kind: 'request', value: (lines[0] ?? '').slice(0, 120) };
  const id = identity(lines);
  const r = { status: Number(m[1]), reason: m[2] };
  if (id.cseqs[0] !== undefined) r.cseq = id.cseqs[0];
  if (id.callIds[0] !== undefined) r.callId = id.callIds[0];
  if (id.branch !== undefined) r.branch = id.branch;
  const unsupported = headerValues(lines, ['unsupported']);
  if (unsupported.length > 0) r.unsupported = unsupported.join(', ');
  const warning = headerValues(lines, ['warning']);
  if (warning.length > 0) r.warning = warning.join(', ');
  return { kind: 'response', value: r };
}

/** Whether a response answers this message (same branch; same Call-ID and CSeq where it has one each). */
function answers(reply, id) {
  if (reply.branch !== id.branch) return false;
  if (id.callIds.length === 1 && reply.callId !== undefined && reply.callId !== id.callIds[0]) return false;
  if (id.cseqs.length === 1 && reply.cseq !== undefined && reply.cseq !== id.cseqs[0]) return false;
  return true;
}

/** Splits a TCP byte stream into messages by Content-Length (0 when absent). */
function frameStream(buf) {
  const out = [];
  let rest = buf;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.subarray(0, end).toString('latin1');
    const cl = /^(?:content-length|l)\s*:\s*(\d+)/im.exec(head);
    const total = end + 4 + (cl ? Number(cl[1]) : 0);
    if (rest.length < total) break;
    out.push(rest.subarray(0, total));
    rest = rest.subarray(total);
  }
  return out;
}

// ------------------------------------------------------------------ a node per lane

function startNode(port) {
  const child = spawn(process.execPath, [CLI, 'start', '--listen', `${HOST}:${port}`, '--log-level', 'warn'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const node = { port, child, exited: false, code: null, signal: null, output: '' };
  node.exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      Object.assign(node, { exited: true, code, signal });
      resolve();
    }),
  );
  child.stdout.on('data', (d) => (node.output = (node.output + d.toString()).slice(-20_000)));
  child.stderr.on('data', (d) => (node.output = (node.output + d.toString()).slice(-20_000)));
  return node;
}

async function startServing(port, probe) {
  const node = startNode(port);
  const deadline = Date.now() + NODE_START_MS;
  while (Date.now() < deadline) {
    if (node.exited) throw new Error(`node exited (${node.code ?? node.signal}): ${node.output}`);
    if ((await probe(port, 500)) === 200) return node;
    await sleep(50);
  }
  node.child.kill('SIGKILL');
  throw new Error(`node on ${port} did not answer OPTIONS within ${NODE_START_MS} ms: ${node.output}`);
}

async function stopNode(node) {
  if (!node.exited) node.child.kill('SIGKILL');
  await node.exit;
}

// ------------------------------------------------------------------ liveness probes

function probeRequest(transport, nodePort, port) {
  return [
    `OPTIONS sip:${HOST}:${nodePort} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${HOST}:${port};branch=z9hG4bK-probe-${rand()};rport`,
    'Max-Forwards: 70',
    `To: <sip:${HOST}:${nodePort}>`,
    `From: "probe" <sip:probe@${HOST}>;tag=${rand()}`,
    `Call-ID: probe-${rand()}@${HOST}`,
    'CSeq: 1 OPTIONS',
    `Contact: <sip:probe@${HOST}:${port}>`,
    'Accept: application/sdp',
    'User-Agent: kadsip-torture-probe',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** A phone-style OPTIONS (no dht) over UDP; resolves to the final status, or null. */
function probeUdp(nodePort, timeoutMs = PROBE_TIMEOUT_MS) {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    let done = false;
    let retransmit;
    const finish = (v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(retransmit);
      s.close();
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    s.on('error', () => finish(null));
    s.on('message', (m) => {
      const d = describe(m);
      if (d.kind === 'response' && d.value.status >= 200) finish(d.value.status);
    });
    s.bind(0, HOST, () => {
      const req = probeRequest('UDP', nodePort, s.address().port);
      const send = () => s.send(req, nodePort, HOST);
      send();
      retransmit = setInterval(send, 500); // RFC 3261 Timer E
    });
  });
}

/** The same OPTIONS on a new TCP connection. */
function probeTcp(nodePort, timeoutMs = PROBE_TIMEOUT_MS) {
  return new Promise((resolve) => {
    let done = false;
    let buf = Buffer.alloc(0);
    const sock = connect(nodePort, HOST);
    const finish = (v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    sock.on('error', () => finish(null));
    sock.on('connect', () => sock.write(probeRequest('TCP', nodePort, sock.localPort)));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (const m of frameStream(buf)) {
        const x = describe(m);
        if (x.kind === 'response' && x.value.status >= 200) finish(x.value.status);
      }
    });
  });
}

// ------------------------------------------------------------------ one torture message

function bindUdp(port) {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(null);
    });
    s.bind(port, HOST, () => {
      s.removeAllListeners('error');
      resolve(s);
    });
  });
}

async function sendUdp(nodePort, bytes, id) {
  const s = (id.port !== nodePort ? await bindUdp(id.port) : null) ?? (await bindUdp(0));
  const replies = [];
  const stray = [];
  const requests = [];
  let firstFinal;
  s.on('error', () => {});
  s.on('message', (m) => {
    const d = describe(m);
    if (d.kind === 'request') requests.push(d.value);
    else if (!answers(d.value, id)) stray.push(d.value);
    else {
      replies.push(d.value);
      if (d.value.status >= 200 && firstFinal === undefined) firstFinal = Date.now();
    }
  });
  const started = Date.now();
  await new Promise((resolve) => s.send(bytes, nodePort, HOST, () => resolve()));
  while (Date.now() - started < UDP_COLLECT_MS && (firstFinal === undefined || Date.now() - firstFinal < UDP_AFTER_FINAL_MS)) await sleep(10);
  const fromPort = s.address().port;
  s.close();
  return { replies, stray, requests, closedByNode: false, fromPort };
}

async function sendTcp(nodePort, bytes) {
  const replies = [];
  const requests = [];
  let buf = Buffer.alloc(0);
  let closedByNode = false;
  let ourClose = false;
  let firstFinal;
  let error;
  const sock = connect(nodePort, HOST);
  sock.on('error', (e) => (error = e.code ?? e.message));
  sock.on('end', () => (closedByNode = true));
  sock.on('close', () => {
    if (!ourClose) closedByNode = true;
  });
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (const m of frameStream(buf)) {
      buf = buf.subarray(m.length);
      const x = describe(m);
      if (x.kind === 'request') requests.push(x.value);
      else {
        replies.push(x.value);
        if (x.value.status >= 200 && firstFinal === undefined) firstFinal = Date.now();
      }
    }
  });
  await new Promise((resolve) => {
    sock.once('connect', resolve);
    sock.once('error', resolve);
  });
  const started = Date.now();
  if (error === undefined) sock.write(bytes);
  while (
    !closedByNode &&
    error === undefined &&
    Date.now() - started < TCP_COLLECT_MS &&
    (firstFinal === undefined || Date.now() - firstFinal < TCP_AFTER_FINAL_MS)
  ) {
    await sleep(10);
  }
  if (closedByNode) await sleep(20); // data racing the FIN
  ourClose = true;
  sock.destroy();
  return { replies, stray: [], requests, closedByNode, ...(error !== undefined ? { error } : {}) };
}

// ------------------------------------------------------------------ main

function readIndex(corpus, dir) {
  return readFileSync(dir + 'INDEX.tsv', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [name, section, verdict, expected] = l.split('\t');
      return { corpus, dir, name, section, verdict, expected };
    })
    .filter((e) => ONLY.length === 0 || ONLY.includes(e.name));
}

async function runLane(transport, entries) {
  const nodePort = transport === 'udp' ? UDP_NODE_PORT : TCP_NODE_PORT;
  const probe = transport === 'udp' ? probeUdp : probeTcp;
  let node = await startServing(nodePort, probe);
  let seen = new Set();
  let restarts = 0;
  let crashes = 0;
  for (const entry of entries) {
    const bytes = readFileSync(`${entry.dir}${entry.name}.dat`);
    const lines = headLines(bytes);
    const id = identity(lines);
    const isRequest = !/^SIP\//.test(lines[0] ?? '');
    const method = isRequest ? (lines[0] ?? '').split(' ')[0] : undefined;
    // RFC 3261 17.2.3: branch + sent-by + method (ACK matches INVITE). An old one: restart.
    const key = isRequest ? JSON.stringify([id.branch, id.sentBy, method === 'ACK' ? 'INVITE' : method]) : undefined;
    let restarted = false;
    if (key !== undefined && seen.has(key)) {
      await stopNode(node);
      node = await startServing(nodePort, probe);
      seen = new Set();
      restarts++;
      restarted = true;
    }
    if (key !== undefined) seen.add(key);
    const started = Date.now();
    const result = transport === 'udp' ? await sendUdp(nodePort, bytes, id) : await sendTcp(nodePort, bytes);
    const status = await probe(nodePort);
    const line = {
      corpus: entry.corpus,
      name: entry.name,
      verdict: entry.verdict,
      transport,
      ...result,
      probe: status,
      alive: !node.exited && status === 200,
      restartedBefore: restarted,
      ms: Date.now() - started,
    };
    if (node.exited || status !== 200) {
      crashes++;
      line.nodeExit = node.exited ? (node.code ?? node.signal) : null;
      line.nodeOutput = node.output.slice(-4000);
      await stopNode(node);
      node = await startServing(nodePort, probe);
      seen = new Set();
    }
    emit(line);
  }
  const output = node.output;
  await stopNode(node);
  return { transport, results: entries.length, restarts, crashes, nodeOutput: output.slice(-4000) };
}

async function main() {
  const t0 = Date.now();
  const entries = CORPORA.flatMap(({ corpus, dir }) => readIndex(corpus, dir));
  const lanes = await Promise.all([runLane('udp', entries), runLane('tcp', entries)]);
  emit({ summary: true, messages: entries.length, lanes, ms: Date.now() - t0 });
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`torture-runner: ${e.stack ?? e}\n`);
    process.exit(1);
  },
);
