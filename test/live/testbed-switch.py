#!/usr/bin/env python3
"""The testbed's link layer (test/live/testbed.ts): one userspace Ethernet switch with a netem of
its own on every port.

Why userspace: the kernels we run on (this VM's, CONFIG_NET_SCH_NETEM unset) have no tc netem, and
nothing else in the kernel delays a packet. So every public host's interface is a TAP device,
created inside the host's network namespace (setns, open /dev/net/tun, TUNSETIFF, setns back) and
held by this one process, which forwards Ethernet frames between the TAPs like a learning bridge.
Frames only ever go from one of our TAPs to another: nothing reaches the real host's network.

Per port, on the frames the host SENDS (its egress, as netem on its interface would be):
  delay ms (+- jitter ms, uniform, order kept) and loss % (independent per frame, ARP/ND included).
So the round trip between hosts A and B is delay(A) + delay(B).

Control, one command per line on stdin, one answer line on stdout:
  add NETNS IFNAME DELAY_MS JITTER_MS LOSS_PCT  -> "ok IFNAME"   (a TAP IFNAME in /run/netns/NETNS)
  set IFNAME DELAY_MS JITTER_MS LOSS_PCT        -> "ok IFNAME"
  del IFNAME                                    -> "ok IFNAME"   (closing the fd removes the TAP)
  get                                           -> one JSON line: per port delay/jitter/loss/counters
Errors answer "err MESSAGE". End of stdin (the test process died) ends the switch, and with it
every TAP, so a killed run leaves no link behind.
"""
import ctypes
import fcntl
import heapq
import json
import os
import random
import select
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000

libc = ctypes.CDLL(None, use_errno=True)
OWN_NS = os.open('/proc/self/ns/net', os.O_RDONLY)


def open_tap(netns, name):
    target = os.open(f'/run/netns/{netns}', os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f'setns {netns}')
        try:
            fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
            try:
                fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TAP | IFF_NO_PI))
            except OSError:
                os.close(fd)
                raise
        finally:
            if libc.setns(OWN_NS, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), 'setns back')
    finally:
        os.close(target)
    return fd


class Port:
    def __init__(self, netns, name, fd):
        self.netns, self.name, self.fd = netns, name, fd
        self.delay = self.jitter = self.loss = 0.0
        self.last_due = 0.0
        self.sent = self.dropped = self.delivered = 0

    def configure(self, delay, jitter, loss):
        self.delay, self.jitter, self.loss = float(delay), float(jitter), float(loss)


ports = {}      # fd -> Port
by_name = {}    # "netns/ifname" or ifname -> Port
macs = {}       # mac bytes -> fd
queue = []      # (due, seq, src fd, frame)
seq = 0


def reply(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def find(name):
    port = by_name.get(name)
    if port is None:
        raise ValueError(f'no port {name}')
    return port


def command(line):
    parts = line.split()
    if not parts:
        return
    try:
        if parts[0] == 'add':
            netns, name, delay, jitter, loss = parts[1:6]
            key = f'{netns}/{name}'
            if key in by_name:
                raise ValueError(f'port {key} exists')
            port = Port(netns, name, open_tap(netns, name))
            port.configure(delay, jitter, loss)
            ports[port.fd] = port
            by_name[key] = port
            reply(f'ok {key}')
        elif parts[0] == 'set':
            find(parts[1]).configure(*parts[2:5])
            reply(f'ok {parts[1]}')
        elif parts[0] == 'del':
            port = find(parts[1])
            del ports[port.fd]
            del by_name[parts[1]]
            for mac in [m for m, fd in macs.items() if fd == port.fd]:
                del macs[mac]
            os.close(port.fd)
            reply(f'ok {parts[1]}')
        elif parts[0] == 'get':
            reply(json.dumps({key: {'delayMs': p.delay, 'jitterMs': p.jitter, 'lossPct': p.loss, 'sent': p.sent, 'dropped': p.dropped, 'delivered': p.delivered} for key, p in by_name.items()}))
        else:
            raise ValueError(f'unknown command {parts[0]}')
    except (OSError, ValueError, TypeError) as e:
        reply(f'err {e}')


def receive(port, now):
    global seq
    for _ in range(256):
        try:
            frame = os.read(port.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            return
        if len(frame) < 14:
            continue
        port.sent += 1
        src = frame[6:12]
        if not src[0] & 1:
            macs[src] = port.fd
        if port.loss > 0 and random.random() * 100 < port.loss:
            port.dropped += 1
            continue
        due = now + (port.delay + (random.uniform(-port.jitter, port.jitter) if port.jitter else 0)) / 1000
        due = max(due, port.last_due)  # netem with jitter reorders; phones and peers need not cope
        port.last_due = due
        seq += 1
        heapq.heappush(queue, (due, seq, port.fd, frame))


def write(fd, frame):
    port = ports.get(fd)
    if port is None:
        return
    try:
        os.write(fd, frame)
        port.delivered += 1
    except OSError:
        pass  # the TAP's queue is full or its namespace went away: a lost frame, as on a wire


def deliver(src, frame):
    dst = frame[0:6]
    if not dst[0] & 1 and dst in macs:
        if macs[dst] != src:
            write(macs[dst], frame)
        return
    for fd in list(ports):
        if fd != src:
            write(fd, frame)


def main():
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    pending = b''
    reply('ready')
    while True:
        now = time.monotonic()
        timeout = max(0.0, queue[0][0] - now) if queue else None
        readable, _, _ = select.select([stdin, *ports], [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            if fd == stdin:
                try:
                    chunk = os.read(stdin, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    return
                pending += chunk
                while b'\n' in pending:
                    line, pending = pending.split(b'\n', 1)
                    command(line.decode())
            elif fd in ports:
                receive(ports[fd], now)
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, src, frame = heapq.heappop(queue)
            deliver(src, frame)


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        pass
