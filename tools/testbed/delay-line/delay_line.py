#!/usr/bin/env python3
"""A packet-level delay line between two TUN devices (stdlib only).

`tc netem` is not built into every kernel; this does its job in user space. It attaches to two TUN
devices A and B (made beforehand with `ip tuntap add dev A mode tun`, so they outlive it) and
forwards every IP packet read from A to B ("up") and from B to A ("down"). Policy routing in the
namespace sends the traffic to shape out of A (or B); the kernel then receives the forwarded packet
as if it came in on the other device and routes it on.

Each direction is shaped independently, in this order:
  loss    each packet dropped with probability loss% (random.Random(seed), one per direction, so a
          run is repeatable given the same packet sequence)
  rate    a bottleneck of rate Mbit/s: a packet leaves after the ones before it, len*8/rate later
          (serialization); the bottleneck queue holds at most queue ms of backlog, beyond that the
          packet is dropped (tail drop, as a router's buffer)
  delay   then delay ms of propagation, plus a uniform random jitter in [-jitter, +jitter] ms;
          packets never overtake each other (a jittered packet waits for the one before it)

Spec of a direction: `delay=150,loss=1,jitter=0,rate=20,queue=100` (any subset; rate 0: no limit).

  delay_line.py --a wl-edge --b wl-cloud --up delay=150,rate=20,loss=1 --down delay=150,rate=20 --seed 1

It prints one JSON line `{"ready": true}` once attached, and its counters as one JSON line on SIGUSR1
and on SIGTERM (then exits 0): per direction packets seen, lost (random loss), queue drops, sent.
"""
import argparse
import collections
import fcntl
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA  # _IOW('T', 202, int)
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000  # no 4-byte packet-info header: each read() is exactly one IP packet


def open_tun(name):
    """Attach to the TUN device `name` (made by `ip tuntap add … mode tun`: no PI header)."""
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def parse_spec(text):
    spec = {'delay': 0.0, 'loss': 0.0, 'jitter': 0.0, 'rate': 0.0, 'queue': 100.0}
    for part in filter(None, text.split(',')):
        key, _, value = part.partition('=')
        if key not in spec:
            raise SystemExit(f'delay_line: unknown key {key!r} in {text!r} (know {", ".join(spec)})')
        spec[key] = float(value)
    return spec


class Direction:
    """One way through the line: read from `src`, shaped, written to `dst`."""

    def __init__(self, name, src, dst, spec, seed):
        self.name, self.src, self.dst = name, src, dst
        self.delay = spec['delay'] / 1000
        self.jitter = spec['jitter'] / 1000
        self.loss = spec['loss'] / 100
        self.bits_per_s = spec['rate'] * 1e6
        self.queue_s = spec['queue'] / 1000
        self.rng = random.Random(seed)
        self.busy_until = 0.0  # when the bottleneck finishes serializing what it holds
        self.last_due = 0.0  # when the previous packet leaves (no reordering)
        self.pending = collections.deque()  # (due, packet), due non-decreasing
        self.counts = {'seen': 0, 'lost': 0, 'queueDrops': 0, 'sent': 0, 'writeErrors': 0, 'bytes': 0}

    def accept(self, packet, now):
        self.counts['seen'] += 1
        if self.loss and self.rng.random() < self.loss:
            self.counts['lost'] += 1
            return
        t = now
        if self.bits_per_s:
            start = max(now, self.busy_until)
            if start - now > self.queue_s:
                self.counts['queueDrops'] += 1
                return
            self.busy_until = start + len(packet) * 8 / self.bits_per_s
            t = self.busy_until
        t += self.delay
        if self.jitter:
            t += self.rng.uniform(-self.jitter, self.jitter)
        t = max(t, self.last_due, now)
        self.last_due = t
        self.pending.append((t, packet))

    def flush(self, now):
        """Write every packet that is due; return when the next one is (or None)."""
        while self.pending and self.pending[0][0] <= now:
            _, packet = self.pending.popleft()
            try:
                os.write(self.dst, packet)
                self.counts['sent'] += 1
                self.counts['bytes'] += len(packet)
            except OSError:  # EAGAIN (the kernel's backlog is full), EIO (device down): the packet is lost
                self.counts['writeErrors'] += 1
        return self.pending[0][0] if self.pending else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--a', required=True, help='TUN device whose packets go up (to B)')
    ap.add_argument('--b', required=True, help='TUN device whose packets go down (to A)')
    ap.add_argument('--up', default='', help='shape of A→B, e.g. delay=150,loss=1,rate=20')
    ap.add_argument('--down', default='', help='shape of B→A')
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    a, b = open_tun(args.a), open_tun(args.b)
    dirs = {a: Direction('up', a, b, parse_spec(args.up), args.seed), b: Direction('down', b, a, parse_spec(args.down), args.seed + 1)}

    def report(*_):
        print(json.dumps({d.name: d.counts for d in dirs.values()}), flush=True)

    def stop(*_):
        report()
        sys.exit(0)

    signal.signal(signal.SIGUSR1, report)
    signal.signal(signal.SIGTERM, stop)
    print(json.dumps({'ready': True, 'a': args.a, 'b': args.b}), flush=True)
    next_due = None
    while True:
        timeout = None if next_due is None else max(0.0, next_due - time.monotonic())
        readable, _, _ = select.select(list(dirs), [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            for _ in range(256):  # drain what is there, but let the other side and due packets in
                try:
                    packet = os.read(fd, 65535)
                except BlockingIOError:
                    break
                dirs[fd].accept(packet, now)
        dues = [due for due in (d.flush(time.monotonic()) for d in dirs.values()) if due is not None]
        next_due = min(dues) if dues else None


if __name__ == '__main__':
    main()
