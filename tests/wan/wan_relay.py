# ruff: noqa
# Copied from the shared recipes (recipes/wan_relay.py) so tests and benchmarks do not depend on
# a path outside the repository. Userspace WAN emulator: this kernel has no sch_netem.
"""Userspace WAN emulator (netem stand-in) for kernels without sch_netem.

Creates two TUN devices, moves one into each of two existing network
namespaces, gives them the addresses of a point-to-point /30 link, and relays
IP packets between them with a one-way delay, random loss and a rate limit
(serialisation delay + bounded bottleneck queue, like netem's "rate").

With --offload (default) the TUN devices use IFF_VNET_HDR + TSO, so the kernel
hands the relay TCP super-packets (up to 64 KiB) that are still 1500-MTU
segments on the "wire"; this keeps a pure-Python relay fast. Loss is still
per 1500-byte segment: when a segment of a super-packet is chosen to be lost,
that super-packet is cut into its segments in userspace (IPv4/IPv6 TCP) and
only the chosen segments are dropped.

Usage (as root):
  ip netns add wanA; ip netns add wanB
  python3 wan_relay.py --ns-a wanA --ns-b wanB --addr-a 10.99.0.1 \
      --addr-b 10.99.0.2 --delay-ms 17 --loss 0.001 --rate-mbit 1000 &
  # link cut/restore:  ip -n wanA link set wanA0 down ; ... ; ip -n wanA link set wanA0 up
Stops on SIGTERM/SIGINT; closing the fds removes the TUN devices.
"""

import argparse, collections, fcntl, os, random, select, signal, struct, subprocess, sys, threading, time

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
IFF_TUN, IFF_NO_PI, IFF_VNET_HDR = 0x0001, 0x1000, 0x4000
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 = 0x01, 0x02, 0x04
VNET_HDR_LEN = 10  # struct virtio_net_hdr


def _csum(data):
    """Internet checksum (RFC 1071) of bytes."""
    if len(data) % 2:
        data = bytes(data) + b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def sh(*cmd):
    subprocess.run(cmd, check=True)


def open_tun(name, offload):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if offload else 0)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
    if offload:
        fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
    os.set_blocking(fd, False)
    return fd


class Direction(threading.Thread):
    def __init__(self, fd_in, fd_out, a, stop):
        super().__init__(daemon=True)
        self.fd_in, self.fd_out, self.a, self.stop = fd_in, fd_out, a, stop
        self.q = collections.deque()
        self.link_free = 0.0  # time the emulated link finishes serialising
        self.backlog = 0  # bytes waiting for serialisation
        self.stats = collections.Counter()

    def segments(self, pkt):
        if not self.a.offload:
            return 1, len(pkt)
        _flags, gso_type, hdr_len, gso_size = struct.unpack_from("<BBHH", pkt)
        payload = len(pkt) - VNET_HDR_LEN
        if gso_type == 0 or gso_size == 0:
            return 1, payload
        n = max(1, -(-(payload - hdr_len) // gso_size))
        return n, payload + (n - 1) * hdr_len  # wire bytes incl. repeated headers

    @staticmethod
    def split_gso(pkt):
        """Cut a TSO super-packet (vnet hdr + IP + TCP + payload) into MSS segments."""
        _f, gso_type, _hl, gso = struct.unpack_from("<BBHH", pkt)
        ip = pkt[VNET_HDR_LEN:]
        v4 = (ip[0] >> 4) == 4
        toff = (ip[0] & 15) * 4 if v4 else 40
        hl = toff + (ip[toff + 12] >> 4) * 4
        payload = memoryview(ip)[hl:]
        seq = int.from_bytes(ip[toff + 4 : toff + 8], "big")
        tflags = ip[toff + 13]
        ident = int.from_bytes(ip[4:6], "big") if v4 else 0
        n = -(-len(payload) // gso)
        out = []
        for i in range(n):
            chunk = payload[i * gso : (i + 1) * gso]
            h = bytearray(ip[:hl])
            tcp_len = hl - toff + len(chunk)
            if v4:
                h[2:4] = (hl + len(chunk)).to_bytes(2, "big")
                h[4:6] = ((ident + i) & 0xFFFF).to_bytes(2, "big")
                h[10:12] = b"\0\0"
                h[10:12] = _csum(h[:toff]).to_bytes(2, "big")
                pseudo = bytes(h[12:20]) + b"\0\x06" + tcp_len.to_bytes(2, "big")
            else:
                h[4:6] = tcp_len.to_bytes(2, "big")
                pseudo = bytes(h[8:40]) + tcp_len.to_bytes(4, "big") + b"\0\0\0\x06"
            h[toff + 4 : toff + 8] = ((seq + i * gso) & 0xFFFFFFFF).to_bytes(4, "big")
            f = tflags
            if i < n - 1:
                f &= ~0x09  # FIN, PSH only on the last segment
            if i > 0:
                f &= ~0x80  # CWR only on the first
            h[toff + 13] = f
            # CHECKSUM_PARTIAL: field holds the folded (uncomplemented) pseudo-header sum
            h[toff + 16 : toff + 18] = (0xFFFF ^ _csum(pseudo)).to_bytes(2, "big")
            vnet = struct.pack("<BBHHHH", 1, 0, 0, 0, toff, 16)  # NEEDS_CSUM, no GSO
            out.append(vnet + bytes(h) + bytes(chunk))
        return out

    def run(self):
        a, q = self.a, self.q
        delay, loss = a.delay_ms / 1000.0, a.loss
        bps = a.rate_mbit * 1e6 / 8.0 if a.rate_mbit > 0 else 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            timeout = max(0.0, q[0][0] - now) if q else 0.5
            r, _, _ = select.select([self.fd_in], [], [], timeout)
            if r:
                for _ in range(64):  # drain a batch
                    try:
                        pkt = os.read(self.fd_in, 65536 + VNET_HDR_LEN)
                    except BlockingIOError:
                        break
                    except OSError:
                        break
                    now = time.monotonic()
                    nseg, wire = self.segments(pkt)
                    self.stats["pkts"] += 1
                    self.stats["segs"] += nseg
                    parts = ((pkt, wire),)
                    if loss:
                        lost = [random.random() < loss for _ in range(nseg)]
                        if any(lost):
                            self.stats["lost"] += sum(lost)
                            if nseg == 1:
                                continue
                            try:
                                segs = self.split_gso(pkt)
                            except Exception:
                                self.stats["split_err"] += 1
                                continue
                            parts = [
                                (s, len(s) - VNET_HDR_LEN) for s, l in zip(segs, lost) if not l
                            ]
                    for part, wbytes in parts:
                        if bps:
                            start = max(now, self.link_free)
                            if (start - now) * bps > a.queue_bytes:  # tail drop
                                self.stats["qdrop"] += 1
                                continue
                            self.link_free = start + wbytes / bps
                            due = self.link_free + delay
                        else:
                            due = now + delay
                        q.append((due, part))
            now = time.monotonic()
            while q and q[0][0] <= now:
                _, pkt = q.popleft()
                try:
                    os.write(self.fd_out, pkt)
                except OSError:  # device down (link cut) or queue full
                    self.stats["wdrop"] += 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ns-a", required=True)
    p.add_argument("--ns-b", required=True)
    p.add_argument("--dev-a", default=None)
    p.add_argument("--dev-b", default=None)
    p.add_argument("--addr-a", default="10.99.0.1")
    p.add_argument("--addr-b", default="10.99.0.2")
    p.add_argument("--prefix", type=int, default=30)
    p.add_argument("--delay-ms", type=float, default=17.0, help="one-way delay, each direction")
    p.add_argument("--loss", type=float, default=0.001, help="per-segment loss probability")
    p.add_argument("--rate-mbit", type=float, default=1000.0, help="0 = unlimited")
    p.add_argument("--queue-bytes", type=int, default=4_000_000, help="bottleneck buffer")
    p.add_argument("--mtu", type=int, default=1500)
    p.add_argument("--no-offload", dest="offload", action="store_false")
    p.add_argument("--ready-file", default=None, help="touched when links are up")
    a = p.parse_args()
    dev_a = a.dev_a or (a.ns_a + "0")[:15]
    dev_b = a.dev_b or (a.ns_b + "0")[:15]

    fds = {}
    for ns, dev, addr, peer in (
        (a.ns_a, dev_a, a.addr_a, a.addr_b),
        (a.ns_b, dev_b, a.addr_b, a.addr_a),
    ):
        fds[dev] = open_tun(dev, a.offload)
        sh("ip", "link", "set", dev, "netns", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "addr", "add", f"{addr}/{a.prefix}", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "mtu", str(a.mtu), "up")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ab = Direction(fds[dev_a], fds[dev_b], a, stop)
    ba = Direction(fds[dev_b], fds[dev_a], a, stop)
    ab.start()
    ba.start()
    if a.ready_file:
        open(a.ready_file, "w").close()
    print(
        f"wan_relay: {a.ns_a}/{dev_a} {a.addr_a} <-> {a.ns_b}/{dev_b} {a.addr_b} "
        f"delay={a.delay_ms}ms loss={a.loss} rate={a.rate_mbit}Mbit offload={a.offload}",
        flush=True,
    )
    while not stop.is_set():
        stop.wait(1.0)
    ab.join(1)
    ba.join(1)
    print(f"wan_relay stats A->B {dict(ab.stats)} B->A {dict(ba.stats)}", flush=True)
    for fd in fds.values():
        os.close(fd)  # non-persistent TUN devices disappear with their fd


if __name__ == "__main__":
    main()
