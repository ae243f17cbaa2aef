#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# dnsdelay.py: a DNS proxy that answers every query late, for the
# benchmark's slow-DNS mode.
#
#   dnsdelay.py --listen 127.0.0.3:53 --upstream 127.0.0.2:53
#               [--delay-ms 20] [--max-inflight 512] [--lifetime 900]
#               [--port-file FILE] [--stats FILE] [--log FILE]
#
# Each query (UDP or TCP, on the same address) waits --delay-ms, then goes
# to --upstream over the same transport; the answer is passed back as is.
# Bounded: at most --max-inflight queries at once (more are dropped, as a
# congested resolver would), 2 s per upstream query, and the process exits
# by itself after --lifetime seconds. Loopback addresses only (and
# 192.0.2.0/24, which run-bench puts on its private namespace's lo). On SIGTERM
# (or at the end of its life) it writes its counters to --stats as JSON;
# on SIGUSR1 too, and goes on.
# Counters: udp, tcp (queries), dropped, upstream_errors, inflight_max (the
# most queries outstanding at once: received, answer not yet sent back).
# --log FILE: one JSON line per query, written when its answer goes back
# (or it fails): t0 received and t1 answered, both time.monotonic() seconds
# (CLOCK_MONOTONIC, the clock of milterload's t_mail), q the name, t the
# type, p udp/tcp, n the number outstanding when it arrived (itself
# included), ok 0 when no answer was sent. Flushed on SIGUSR1 and at exit.
# run-bench's slow-DNS passes attribute these to messages (report.py).
# A TCP connection's queries are served concurrently, answers in the order
# they come back (RFC 7766 s.7), so pipelining clients are not serialized.
# --listen with port 0 picks a free port, written to --port-file.
import argparse
import asyncio
import ipaddress
import json
import signal
import struct
import sys
import time

UPSTREAM_TIMEOUT = 2.0


def hostport(s):
    host, _, port = s.rpartition(':')
    ip = ipaddress.ip_address(host)
    # loopback, or TEST-NET-1 on the lo of run-bench's private namespace
    if not (ip.is_loopback or ip in ipaddress.ip_network('192.0.2.0/24')):
        raise argparse.ArgumentTypeError('%s: loopback addresses only' % s)
    return host, int(port)


class Proxy:
    def __init__(self, a):
        self.a = a
        self.inflight = 0
        self.stats = {'udp': 0, 'tcp': 0, 'dropped': 0, 'upstream_errors': 0,
                      'inflight_max': 0}
        self.log = open(a.log, 'a') if a.log else None

    def admit(self):
        if self.inflight >= self.a.max_inflight:
            self.stats['dropped'] += 1
            return False
        self.inflight += 1
        if self.inflight > self.stats['inflight_max']:
            self.stats['inflight_max'] = self.inflight
        return True

    def record(self, t0, n, data, proto, ok):
        """One --log line for the query data received at t0."""
        if self.log is None:
            return
        name, qtype = qinfo(data)
        self.log.write(json.dumps({'t0': round(t0, 6),
                                   't1': round(time.monotonic(), 6),
                                   'q': name, 't': qtype, 'p': proto,
                                   'n': n, 'ok': ok}) + '\n')

    def flush(self):
        if self.log is not None:
            self.log.flush()

    async def udp_upstream(self, data):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        class P(asyncio.DatagramProtocol):
            def datagram_received(self, d, addr):
                if not fut.done():
                    fut.set_result(d)

            def error_received(self, exc):
                if not fut.done():
                    fut.set_exception(exc)
        tr, _ = await loop.create_datagram_endpoint(
            P, remote_addr=self.a.upstream)
        try:
            tr.sendto(data)
            return await asyncio.wait_for(fut, UPSTREAM_TIMEOUT)
        finally:
            tr.close()

    async def udp_one(self, transport, data, addr, t0, n):
        ok = 0
        try:
            await asyncio.sleep(self.a.delay_ms / 1000.0)
            transport.sendto(await self.udp_upstream(data), addr)
            ok = 1
        except (OSError, asyncio.TimeoutError):
            self.stats['upstream_errors'] += 1
        finally:
            self.inflight -= 1
            self.record(t0, n, data, 'udp', ok)

    async def tcp_one(self, q, writer, t0, n):
        ok = 0
        try:
            await asyncio.sleep(self.a.delay_ms / 1000.0)
            ans = await asyncio.wait_for(self.tcp_upstream(q),
                                         UPSTREAM_TIMEOUT)
            writer.write(struct.pack('!H', len(ans)) + ans)
            await writer.drain()
            ok = 1
        except (asyncio.IncompleteReadError, OSError, asyncio.TimeoutError):
            self.stats['upstream_errors'] += 1
        finally:
            self.inflight -= 1
            self.record(t0, n, q, 'tcp', ok)

    async def tcp_client(self, reader, writer):
        tasks = []
        try:
            for _ in range(1000):  # queries on one connection, bounded
                ln = struct.unpack('!H', await reader.readexactly(2))[0]
                q = await reader.readexactly(ln)
                t0 = time.monotonic()
                if not self.admit():
                    break
                self.stats['tcp'] += 1
                tasks.append(asyncio.ensure_future(
                    self.tcp_one(q, writer, t0, self.inflight)))
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            if tasks:
                await asyncio.wait(tasks, timeout=UPSTREAM_TIMEOUT + 10)
            writer.close()

    async def tcp_upstream(self, q):
        r, w = await asyncio.open_connection(*self.a.upstream)
        try:
            w.write(struct.pack('!H', len(q)) + q)
            await w.drain()
            ln = struct.unpack('!H', await r.readexactly(2))[0]
            return await r.readexactly(ln)
        finally:
            w.close()


class Front(asyncio.DatagramProtocol):
    def __init__(self, proxy):
        self.proxy = proxy
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        t0 = time.monotonic()
        if self.proxy.admit():
            self.proxy.stats['udp'] += 1
            asyncio.ensure_future(self.proxy.udp_one(
                self.transport, data, addr, t0, self.proxy.inflight))


def qinfo(data):
    """(name, type) of the question of DNS message data; '?' if none."""
    try:
        if struct.unpack('!H', data[4:6])[0] < 1:
            return '?', 0
        i, labels = 12, []
        while data[i] != 0:
            if data[i] & 0xc0 or len(labels) > 127:
                return '?', 0
            labels.append(data[i + 1:i + 1 + data[i]].decode('ascii', 'replace'))
            i += 1 + data[i]
        return '.'.join(labels).lower() + '.', struct.unpack('!H', data[i + 1:i + 3])[0]
    except (IndexError, struct.error):
        return '?', 0


async def serve(a):
    proxy = Proxy(a)
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(lambda: Front(proxy),
                                                 local_addr=a.listen)
    port = udp.get_extra_info('sockname')[1]
    tcp = await asyncio.start_server(proxy.tcp_client, a.listen[0], port)
    if a.port_file:
        with open(a.port_file + '.tmp', 'w') as f:
            f.write('%d\n' % port)
        __import__('os').rename(a.port_file + '.tmp', a.port_file)
    stop = loop.create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, lambda: stop.done() or stop.set_result(1))
    if a.stats:
        loop.add_signal_handler(signal.SIGUSR1,
                                lambda: proxy.flush() or
                                write_stats(a.stats, proxy.stats))
    try:
        await asyncio.wait_for(stop, a.lifetime)
    except asyncio.TimeoutError:
        pass
    udp.close()
    tcp.close()
    proxy.flush()
    if a.stats:
        write_stats(a.stats, proxy.stats)


def write_stats(path, stats):
    with open(path + '.tmp', 'w') as f:
        json.dump(stats, f)
    __import__('os').rename(path + '.tmp', path)


def main():
    ap = argparse.ArgumentParser(description='delaying DNS proxy')
    ap.add_argument('--listen', type=hostport, required=True)
    ap.add_argument('--upstream', type=hostport, required=True)
    ap.add_argument('--delay-ms', type=float, default=20.0)
    ap.add_argument('--max-inflight', type=int, default=512)
    ap.add_argument('--lifetime', type=float, default=900.0)
    ap.add_argument('--port-file')
    ap.add_argument('--stats')
    ap.add_argument('--log')
    a = ap.parse_args()
    if not 0 <= a.delay_ms <= 10000 or not 1 <= a.max_inflight <= 65536:
        sys.exit('dnsdelay: bad --delay-ms or --max-inflight')
    asyncio.run(serve(a))


if __name__ == '__main__':
    main()
