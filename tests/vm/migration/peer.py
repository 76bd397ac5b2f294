"""The traffic side of the migration test: a peer that exchanges sequence-numbered ICMP echoes with
the guest through the bridge at a steady rate, and taps on every bridge port that record which
device each frame crossed. Runs in the test's network namespace (the caller enters it first).

Each request carries a 32-bit sequence number (and the time it was sent) in its payload, so a reply
names its request even after the 16-bit ICMP sequence wraps. Both Pmd's icmpecho and a Linux guest
answer ICMP echo requests, so the same peer measures both.
"""
import select
import socket
import struct
import threading
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_RARP = 0x8035
PACKET_OUTGOING = 4
ICMP_ID = 0x504D
MAGIC = b"PMDSEQ"


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


class Record:
    """What happened to one request."""
    __slots__ = ("sent", "replies", "to_devices", "from_devices")

    def __init__(self, sent):
        self.sent = sent
        self.replies = []          # arrival times at the peer
        self.to_devices = []       # bridge ports the request went out on (towards a device)
        self.from_devices = []     # bridge ports its reply came in on


class Peer:
    def __init__(self, bridge, ports, guest_mac, guest_ip, peer_ip, rate):
        self.bridge = bridge
        self.ports = ports                       # tap name -> label, e.g. {"A0": "src-standby"}
        self.guest_mac = mac_bytes(guest_mac)
        self.guest_ip = socket.inet_aton(guest_ip)
        self.peer_ip = socket.inet_aton(peer_ip)
        self.interval = 1.0 / rate
        self.records = []
        self.rarps = []                          # (time, port label) of RARPs from the guest's MAC
        self.out_of_range = 0                    # replies that name no request we sent
        self.last_reply_from = {}                # port label -> time of the latest reply that came in on it
        self._stop = threading.Event()
        self._thread = None
        self.peer_mac = None

    def _request(self, seq, now):
        payload = MAGIC + struct.pack("!Id", seq, now) + bytes(42)
        icmp = struct.pack("!BBHHH", 8, 0, 0, ICMP_ID, seq & 0xFFFF) + payload
        icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq & 0xFFFF, 0x4000, 64, 1, 0, self.peer_ip, self.guest_ip)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        return self.guest_mac + self.peer_mac + struct.pack("!H", ETH_P_IP) + ip + icmp

    @staticmethod
    def _parse(frame):
        """(type, seq) of one of our ICMP echoes in an Ethernet frame, else None."""
        if len(frame) < 14 + 20 + 8 + 10 or frame[12:14] != b"\x08\x00" or frame[23] != 1:
            return None
        ihl = (frame[14] & 0x0F) * 4
        icmp = frame[14 + ihl:]
        if len(icmp) < 18 or struct.unpack("!H", icmp[4:6])[0] != ICMP_ID or icmp[8:14] != MAGIC:
            return None
        return icmp[0], struct.unpack("!I", icmp[14:18])[0]

    def start(self):
        self._tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        self._tx.bind((self.bridge, ETH_P_IP))
        self.peer_mac = self._tx.getsockname()[4]     # the bridge's own MAC (sysfs would show the host's namespace)
        self._taps = {}
        for port in self.ports:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((port, ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self._taps[s.fileno()] = (s, port)
        self._tx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._thread = threading.Thread(target=self._run, name="peer", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        # What is still queued on the sockets arrived before the stop.
        self._drain(timeout=0)

    def _run(self):
        start = time.time()
        while not self._stop.is_set():
            now = time.time()
            due = start + len(self.records) * self.interval
            if now >= due:
                # Catch up if the host was busy, but never burst more than 10 at once.
                for _ in range(10):
                    seq = len(self.records)
                    t = time.time()
                    self.records.append(Record(t))
                    try:
                        self._tx.send(self._request(seq, t))
                    except OSError:
                        pass
                    if start + len(self.records) * self.interval > time.time():
                        break
                continue
            self._drain(timeout=due - now)

    def _drain(self, timeout):
        fds = [self._tx.fileno()] + list(self._taps)
        while True:
            ready, _, _ = select.select(fds, [], [], timeout)
            if not ready:
                return
            timeout = 0
            for fd in ready:
                if fd == self._tx.fileno():
                    self._on_bridge()
                else:
                    self._on_port(*self._taps[fd])

    def _record(self, seq):
        if seq < len(self.records):
            return self.records[seq]
        self.out_of_range += 1
        return None

    def _on_bridge(self):
        while True:
            try:
                frame, addr = self._tx.recvfrom(2048, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            parsed = self._parse(frame)
            if parsed and parsed[0] == 0 and (r := self._record(parsed[1])):
                r.replies.append(time.time())

    def _on_port(self, sock, port):
        while True:
            try:
                frame, addr = sock.recvfrom(2048, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            self._on_port_frame(frame, addr, port)

    def _on_port_frame(self, frame, addr, port):
        towards_device = addr[2] == PACKET_OUTGOING
        if not towards_device and frame[12:14] == b"\x80\x35" and frame[6:12] == self.guest_mac:
            self.rarps.append((time.time(), self.ports[port]))
            return
        parsed = self._parse(frame)
        if not parsed:
            return
        kind, seq = parsed
        r = self._record(seq)
        if r is None:
            return
        if kind == 8 and towards_device:
            r.to_devices.append(self.ports[port])
        elif kind == 0 and not towards_device:
            now = time.time()
            r.from_devices.append((now, self.ports[port]))
            self.last_reply_from[self.ports[port]] = now
