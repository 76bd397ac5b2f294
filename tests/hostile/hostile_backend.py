#!/usr/bin/env python3
"""A hostile vhost-user backend for Pmd's tests.

It listens on a Unix socket (DPDK's default server role), completes the vhost-user handshake,
maps the front end's memory from the fds of SET_MEM_TABLE and runs a small virtio-net device:
RX (virtqueue 0) gets sequenced frames written into the driver's buffers, TX (virtqueue 1) is
consumed and its sequence numbers recorded. Split and packed rings, IN_ORDER or not.

With --case NAME it lies, in the rings or in the protocol, for a bounded time or number of
entries, then it is honest again. Events go to stderr ("event lie-start", "event lie-end");
at SIGTERM (or after --duration) a JSON summary goes to stdout.

Standard library only. Written for Pmd's test suite.
"""

import argparse
import array
import json
import mmap
import os
import signal
import socket
import struct
import sys
import threading
import time

# Front-end requests (vhost-user.rst numbering).
GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE = 1, 2, 3, 4, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 16, 17, 18
NET_SET_MTU, SET_STATUS, GET_STATUS = 20, 39, 40

FLAG_VERSION, FLAG_REPLY, FLAG_NEED_REPLY = 0x1, 0x4, 0x8
# Fields the driver polls (the split used idx, packed descriptor flags) are stored through a
# memoryview cast to u16: one 2-byte store. struct.pack_into first zeroes its target and then packs
# (and "<H" packs byte by byte), so the driver could see a zero or torn index in between.
# Other fields use native formats (little-endian on the machines this runs on).
HDR = struct.Struct("III")

# Virtio feature bits.
F_MRG_RXBUF, F_STATUS, F_INDIRECT, F_EVENT_IDX, F_PROTOCOL = 15, 16, 28, 29, 30
F_VERSION_1, F_RING_PACKED, F_IN_ORDER, F_STANDBY = 32, 34, 35, 62
PF_MQ, PF_REPLY_ACK, PF_NET_MTU, PF_STATUS = 0, 3, 4, 16

# Descriptor flags.
D_NEXT, D_WRITE, D_INDIRECT = 1, 2, 4
P_AVAIL, P_USED = 1 << 7, 1 << 15

NET_HDR_LEN = 12
RX_MAGIC = b"HOSTILE!"
TX_MAGIC = b"PMDTEST!"
ETHERTYPE = 0x88B5

RING_CASES = {
    # name: (directions it applies to, rings it applies to)
    "honest": ("rx tx", "split packed"),
    "used_idx_jump_1000": ("rx tx", "split"),
    "used_idx_jump_65000": ("rx tx", "split"),
    # The jump is kept: the device carries on from the index it lied with, so its view of the
    # ring stays off for good, and only fresh rings from the driver can bring traffic back.
    "used_idx_jump_stays": ("rx tx", "split"),
    "index_spin": ("rx tx", "split"),
    "bad_wrap": ("rx tx", "packed"),
    "bad_id": ("rx tx", "split packed"),
    "dup_id": ("rx tx", "split packed"),
    "len_too_big": ("rx", "split packed"),
    "len_too_small": ("rx", "split packed"),
    "num_buffers_zero": ("rx", "split packed"),
    "num_buffers_huge": ("rx", "split packed"),
    "not_head": ("tx", "split"),
    "rewrite_mbuf": ("rx", "split packed"),
}
INDEX_LIES = ("used_idx_jump_1000", "used_idx_jump_65000", "used_idx_jump_stays", "index_spin")
PROTOCOL_CASES = ["ack_refuse", "features_wrong_code", "getbase_silent", "getbase_wrong_code", "getbase_short", "getbase_no_reply_flag", "drip", "all_features"]


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


class Memory:
    """The front end's regions, mapped from the fds of SET_MEM_TABLE; addresses are guest-physical."""

    def __init__(self):
        self.regions = []  # (gpa, size, mmap, delta)

    def close(self):
        for r in self.regions:
            try:
                r[2].close()
            except (BufferError, ValueError):
                pass
        self.regions = []

    def load(self, payload, fds):
        self.close()
        count = struct.unpack_from("I", payload, 0)[0]
        for i in range(count):
            gpa, size, _uaddr, offset = struct.unpack_from("QQQQ", payload, 8 + 32 * i)
            aligned = offset - offset % mmap.ALLOCATIONGRANULARITY
            m = mmap.mmap(fds[i], size + (offset - aligned), mmap.MAP_SHARED,
                          mmap.PROT_READ | mmap.PROT_WRITE, offset=aligned)
            os.close(fds[i])
            self.regions.append((gpa, size, m, offset - aligned))

    def find(self, gpa, length=1):
        for base, size, m, delta in self.regions:
            if base <= gpa and gpa + length <= base + size:
                return m, gpa - base + delta
        return None, 0

    def at(self, gpa, length=1):
        m, off = self.find(gpa, length)
        if m is None:
            raise ValueError("address 0x%x+%d is outside the memory table" % (gpa, length))
        return m, off


class Vring:
    def __init__(self, index):
        self.index = index
        self.num = 0
        self.base = 0
        self.desc = self.avail = self.used = 0
        self.kick = None
        self.enabled = False
        self.started = False
        self.lock = threading.Lock()


class Device:
    def __init__(self, args):
        self.args = args
        self.case = args.case
        self.mem = Memory()
        self.vrings = [Vring(0), Vring(1)]
        self.features = 0
        self.protocol = 0
        self.status = 0
        self.lock = threading.Lock()
        # Counters for the summary.
        self.rx_seq = 0
        self.rx_sent = []          # sequence numbers written and honestly completed
        self.tx_seqs = []          # sequence numbers of frames the driver sent us
        self.tx_bad = 0            # TX frames that were not the test's frames
        self.tx_after_lie = 0
        self.rx_after_lie = 0
        self.lies = 0
        self.lie_state = "before"  # before -> lying -> after
        self.lie_started_at = 0.0
        self.target_done = 0       # honest packets on the lied-to queue
        self.connections = 0
        self.acked_features = []
        self.errors = []
        self.error_count = 0
        self.getbase_lies = 0
        self.stop = threading.Event()

    # ---- lie bookkeeping -----------------------------------------------------------------

    def target_vq(self):
        return 0 if self.args.dir == "rx" else 1

    def lying(self, vq):
        """Whether the lie applies now to virtqueue vq; starts and ends the lie window."""
        if self.case not in RING_CASES or vq != self.target_vq():
            return False
        if self.lie_state == "before":
            if self.target_done < self.args.lie_after:
                return False
            self.lie_state = "lying"
            self.lie_started_at = time.monotonic()
            log("event lie-start")
            if self.case == "honest":
                # No lie: the window opens and closes, so the test runs the same phases.
                self.lie_state = "after"
                log("event lie-end lies=0")
                return False
        if self.lie_state == "lying":
            elapsed = time.monotonic() - self.lie_started_at
            if elapsed >= self.args.lie_seconds or (self.lies >= self.args.lie_count and elapsed >= self.args.lie_min_seconds):
                self.lie_state = "after"
                log("event lie-end lies=%d" % self.lies)
                return False
            # Once the lies are told, the window stays open a little (no new lies), so a driver
            # that looks only now and then still sees what they left in the ring.
            return self.lies < self.args.lie_count
        return False

    def honest_done(self, vq, count=1):
        if vq == self.target_vq():
            self.target_done += count

    # ---- features --------------------------------------------------------------------------

    def offered_features(self):
        if self.case == "all_features":
            return (1 << 64) - 1
        f = (1 << F_VERSION_1) | (1 << F_PROTOCOL) | (1 << F_MRG_RXBUF) | (1 << F_RING_PACKED) | (1 << F_IN_ORDER)
        if self.case != "not_head":
            f |= 1 << F_INDIRECT
        return f

    def offered_protocol(self):
        if self.case == "all_features":
            return (1 << 64) - 1
        return (1 << PF_REPLY_ACK) | (1 << PF_STATUS)

    def has(self, bit):
        return (self.features >> bit) & 1 == 1

    # ---- the datapath --------------------------------------------------------------------

    def ring_for(self, vq):
        return PackedRing(self, vq) if self.has(F_RING_PACKED) else SplitRing(self, vq)

    def start_ring(self, vr):
        if vr.started or vr.kick is None or vr.num == 0 or not vr.desc:
            return
        if (self.features >> F_PROTOCOL) & 1 and not vr.enabled:
            return
        vr.started = True
        vr.thread = threading.Thread(target=self.run_ring, args=(vr,), daemon=True)
        vr.thread.start()

    def stop_ring(self, vr):
        """Stops processing and returns the next avail index (with the wrap bit for packed)."""
        if vr.started:
            vr.started = False
            vr.thread.join(2.0)
        return getattr(vr, "state", vr.base)

    def run_ring(self, vr):
        interval = 1.0 / self.args.rate
        next_frame = time.monotonic()
        ring = None
        try:
            ring = self.ring_for(vr.index)
            while vr.started and not self.stop.is_set():
                with vr.lock:
                    worked = ring.step(vr.index == 0 and time.monotonic() >= next_frame)
                    vr.state = ring.state()
                if worked and vr.index == 0:
                    next_frame = max(next_frame + interval, time.monotonic() - 0.05)
                if vr.kick is not None:
                    try:
                        os.read(vr.kick, 8)
                    except (BlockingIOError, OSError):
                        pass
                time.sleep(0.0002 if worked else 0.0005)
        except Exception as e:  # a bad address from the driver: report, stop the ring
            self.errors.append("vq%d: %s" % (vr.index, e))
            log("error vq%d: %r" % (vr.index, e))
        finally:
            if ring is not None:
                ring.release()

    # ---- frames ----------------------------------------------------------------------------

    def rx_frame(self, seq):
        length = 60 + seq % 40
        frame = bytearray(length)
        frame[0:6] = b"\xff" * 6
        frame[6:12] = b"\x02\x00\x00\x00\x00\x02"
        struct.pack_into(">H", frame, 12, ETHERTYPE)
        frame[14:22] = RX_MAGIC
        struct.pack_into(">IH", frame, 22, seq, length)
        for i in range(28, length):
            frame[i] = (seq + i) & 0xFF
        return bytes(frame)

    def tx_frame_seen(self, data):
        """A frame the driver sent: the test's frames carry TX_MAGIC, a sequence number and a pattern."""
        frame = data[NET_HDR_LEN:]
        if len(frame) < 28 or frame[14:22] != TX_MAGIC:
            self.tx_bad += 1
            return
        seq, length = struct.unpack_from(">IH", frame, 22)
        if length != len(frame) or any(frame[i] != (seq + i) & 0xFF for i in range(28, length)):
            self.tx_bad += 1
            return
        self.tx_seqs.append(seq)
        if self.lie_state == "after":
            self.tx_after_lie += 1

    def note_error(self, what):
        """A driver misdeed the device survives: counted, the first few kept for the summary."""
        self.error_count += 1
        if self.error_count <= 5:
            self.errors.append(what)
            log("error " + what)

    def summary(self):
        def ranges(seqs):
            out = []
            for s in seqs:
                if out and out[-1][1] + 1 == s:
                    out[-1][1] = s
                else:
                    out.append([s, s])
            return out
        return {
            "case": self.case,
            "dir": self.args.dir,
            "features": self.features,
            "acked_features": self.acked_features,
            "connections": self.connections,
            "rx_sent": len(self.rx_sent),
            "rx_seqs": ranges(self.rx_sent),
            "rx_after_lie": self.rx_after_lie,
            "tx_received": len(self.tx_seqs),
            "tx_seqs": ranges(sorted(self.tx_seqs)),
            "tx_duplicates": len(self.tx_seqs) - len(set(self.tx_seqs)),
            "tx_bad": self.tx_bad,
            "tx_after_lie": self.tx_after_lie,
            "lies": self.lies,
            "lie_state": self.lie_state,
            "getbase_lies": self.getbase_lies,
            "errors": self.errors,
            "error_count": self.error_count,
        }


class Chain:
    """One buffer the driver made available: its id, the descriptors it took, its segments."""

    def __init__(self, head, ndesc, segments, buf_id, descs=None):
        self.head = head
        self.descs = descs or [head]
        self.ndesc = ndesc
        self.segments = segments  # list of (gpa, len, writable)
        self.id = buf_id

    def capacity(self):
        return sum(s[1] for s in self.segments if s[2])


def read_indirect(mem, gpa, length, packed):
    """The segments of an indirect table (16-byte entries)."""
    m, off = mem.at(gpa, length)
    count = length // 16
    segs = []
    i = 0
    for _ in range(count):
        if packed:
            addr, ln, _id, flags = struct.unpack_from("QIHH", m, off + 16 * i)
            segs.append((addr, ln, bool(flags & D_WRITE)))
            i += 1
        else:
            addr, ln, flags, nxt = struct.unpack_from("QIHH", m, off + 16 * i)
            segs.append((addr, ln, bool(flags & D_WRITE)))
            if not flags & D_NEXT:
                break
            i = nxt
            if i >= count:
                raise ValueError("indirect next %d out of range" % i)
    return segs


class RingBase:
    def __init__(self, dev, vq):
        self.dev = dev
        self.vq = vq
        self.vr = dev.vrings[vq]
        self.num = self.vr.num
        self.mem = dev.mem
        self.held = []        # chains taken, not completed yet (RX waiting for a frame)
        self.withheld = 0     # chains a lie took and never completes
        self.pending = []     # completions to publish: (chain, length, id override)

    def gather(self, chain):
        out = bytearray()
        for gpa, ln, writable in chain.segments:
            if not writable:
                m, off = self.mem.at(gpa, ln)
                out += m[off:off + ln]
        return bytes(out)

    def scatter(self, chain, data):
        pos = 0
        for gpa, ln, writable in chain.segments:
            if not writable or pos >= len(data):
                continue
            part = data[pos:pos + ln]
            m, off = self.mem.at(gpa, len(part))
            m[off:off + len(part)] = part
            pos += len(part)
        return pos

    def step(self, may_send):
        """One pass: take what is available, complete what can be. Returns whether anything moved."""
        dev = self.dev
        # The lie window opens and closes on time even when the queue carries nothing.
        dev.lying(self.vq)
        if self.lie_step():
            return True
        worked = False
        for _ in range(32):
            chain = self.take()
            if chain is None:
                break
            self.held.append(chain)
            worked = True
        if self.vq == 1:
            while self.held:
                chain = self.held.pop(0)
                self.complete_tx(chain)
                worked = True
        else:
            sent = 0
            while self.held and may_send and sent < 4:
                chain = self.held.pop(0)
                self.complete_rx(chain)
                sent += 1
                worked = True
        if self.pending:
            self.publish()
        return worked

    def complete_tx(self, chain):
        dev = self.dev
        if dev.lying(1) and self.lie_entry(chain):
            return
        dev.tx_frame_seen(self.gather(chain))
        self.pending.append((chain, 0, None))
        dev.honest_done(1)

    def complete_rx(self, chain):
        dev = self.dev
        with dev.lock:
            seq = dev.rx_seq
            dev.rx_seq += 1
        frame = dev.rx_frame(seq)
        hdr = struct.pack("BBHHHHH", 0, 0, 0, 0, 0, 0, 1)
        if dev.lying(0) and self.lie_rx(chain, hdr, frame, seq):
            return
        written = self.scatter(chain, hdr + frame)
        if written < NET_HDR_LEN + len(frame):
            dev.errors.append("rx buffer of %d bytes too small" % chain.capacity())
        self.pending.append((chain, written, None))
        dev.rx_sent.append(seq)
        if dev.lie_state == "after":
            dev.rx_after_lie += 1
        dev.honest_done(0)

    def lie_rx(self, chain, hdr, frame, seq):
        """Lies that are about one RX entry. Returns True when the entry was handled by the lie."""
        dev = self.dev
        case = dev.case
        if case == "len_too_big":
            self.scatter(chain, hdr + frame)
            self.pending.append((chain, chain.capacity() + 1000, None))
        elif case == "len_too_small":
            self.scatter(chain, hdr + frame)
            self.pending.append((chain, 5, None))
        elif case == "num_buffers_zero":
            self.scatter(chain, hdr[:10] + struct.pack("H", 0) + frame)
            self.pending.append((chain, NET_HDR_LEN + len(frame), None))
        elif case == "num_buffers_huge":
            self.scatter(chain, hdr[:10] + struct.pack("H", 0xFFFF) + frame)
            self.pending.append((chain, NET_HDR_LEN + len(frame), None))
        elif case == "rewrite_mbuf":
            # A frame as usual, then the mbuf metadata in front of the buffer is overwritten
            # (next pointer, pool id, segment count): memory the device was never given.
            written = self.scatter(chain, hdr + frame)
            meta = chain.segments[0][0] - dev.args.mbuf_meta_offset
            m, off = self.mem.find(meta, 64)
            if m is None:
                return False
            struct.pack_into("Q", m, off + 56, 0x00DEAD00BEEF0000)
            struct.pack_into("H", m, off + 50, 3999)
            struct.pack_into("H", m, off + 20, 77)
            # The frame itself is honest: it counts as sent.
            self.pending.append((chain, written, None))
            dev.rx_sent.append(seq)
        else:
            return self.lie_entry(chain)
        dev.lies += 1
        return True

    def lie_entry(self, chain):
        """Lies about the id of one entry (either direction). Returns True when handled."""
        dev = self.dev
        case = dev.case
        if case == "bad_id":
            self.pending.append((chain, 0, self.num + 7))
            self.withheld += 1
        elif case == "dup_id":
            if not self.pending or self.pending[-1][2] is not None:
                return False
            # The buffer completed just before, in this same batch (so the driver cannot have
            # lent it again yet), is reported once more; this chain is never completed.
            prev_chain, prev_len, _ = self.pending[-1]
            self.pending.append((chain, prev_len, prev_chain.id))
            self.withheld += 1
        elif case == "not_head":
            if chain.ndesc < 2:
                return False
            self.pending.append((chain, 0, chain.descs[1]))
            self.withheld += 1
        else:
            return False
        dev.lies += 1
        return True


class SplitRing(RingBase):
    def __init__(self, dev, vq):
        super().__init__(dev, vq)
        vr = self.vr
        self.last_avail = vr.base & 0xFFFF
        self.used_idx = vr.base & 0xFFFF  # we complete everything we take, so both start at base
        self.am, self.aoff = self.mem.at(vr.avail, 4 + 2 * self.num)
        self.um, self.uoff = self.mem.at(vr.used, 4 + 8 * self.num)
        self.dm, self.doff = self.mem.at(vr.desc, 16 * self.num)
        self.u16 = memoryview(self.um).cast("H")
        self.idx_slot = (self.uoff + 2) >> 1
        # Ask the driver not to kick: we poll.
        self.u16[self.uoff >> 1] = 1
        self.jumped = False
        self.spinning = False
        self.outstanding = set()
        self.withheld_heads = set()

    def state(self):
        return self.last_avail

    def set_used_idx(self, idx):
        self.u16[self.idx_slot] = idx & 0xFFFF

    def release(self):
        self.u16.release()

    def take(self):
        avail_idx = struct.unpack_from("H", self.am, self.aoff + 2)[0]
        if avail_idx == self.last_avail:
            return None
        if (avail_idx - self.last_avail) & 0xFFFF > self.num:
            raise ValueError("avail idx %d is more than a ring ahead of %d" % (avail_idx, self.last_avail))
        head = struct.unpack_from("H", self.am, self.aoff + 4 + 2 * (self.last_avail % self.num))[0]
        self.last_avail = (self.last_avail + 1) & 0xFFFF
        if head >= self.num:
            raise ValueError("avail head %d out of range" % head)
        if head in self.withheld_heads:
            # A chain a lie took and never completed: the device has given up on it, and under
            # IN_ORDER a later completion told the driver it was done anyway.
            self.withheld_heads.discard(head)
            self.outstanding.discard(head)
        if head in self.outstanding:
            # The driver lent a descriptor again that the device still holds: a driver bug, unless
            # the device lied about the used index (then it told the driver it was done). The
            # device drops its old chain and goes on with the new one.
            if self.dev.case not in INDEX_LIES:
                self.dev.note_error("vq%d: the driver made descriptor %d available again while the device still held it" % (self.vq, head))
            self.held = [c for c in self.held if c.head != head]
            self.outstanding.discard(head)
        segs = []
        i = head
        ndesc = 0
        descs = []
        while True:
            addr, ln, flags, nxt = struct.unpack_from("QIHH", self.dm, self.doff + 16 * i)
            ndesc += 1
            descs.append(i)
            if flags & D_INDIRECT:
                segs += read_indirect(self.mem, addr, ln, False)
            else:
                segs.append((addr, ln, bool(flags & D_WRITE)))
            if not flags & D_NEXT:
                break
            i = nxt
            if i >= self.num or ndesc > self.num:
                raise ValueError("descriptor chain from %d is broken" % head)
        self.outstanding.add(head)
        return Chain(head, ndesc, segs, head, descs)

    def publish(self):
        for chain, length, override in self.pending:
            if override is None:
                self.outstanding.discard(chain.head)
            else:
                self.withheld_heads.add(chain.head)
            slot = self.uoff + 4 + 8 * (self.used_idx % self.num)
            struct.pack_into("II", self.um, slot, chain.id if override is None else override, length)
            self.used_idx = (self.used_idx + 1) & 0xFFFF
        self.pending = []
        self.set_used_idx(self.used_idx)

    def lie_step(self):
        """Lies about the used index itself (split only)."""
        dev = self.dev
        case = dev.case
        if case not in INDEX_LIES:
            return False
        if dev.lying(self.vq):
            if case == "index_spin":
                # Keep moving the index, a ring's worth at a time, over stale entries.
                if not self.spinning:
                    self.spinning = True
                    dev.lies += 1
                end = time.monotonic() + 0.02
                idx = getattr(self, "spin_idx", self.used_idx)
                while time.monotonic() < end:
                    idx = (idx + 1) & 0xFFFF
                    self.set_used_idx(idx)
                self.spin_idx = idx
                return True
            if not self.jumped:
                jump = 65000 if case.endswith("65000") else 1000
                if case == "used_idx_jump_stays":
                    self.used_idx = (self.used_idx + jump) & 0xFFFF
                self.set_used_idx((self.used_idx + (0 if case == "used_idx_jump_stays" else jump)) & 0xFFFF)
                self.jumped = True
                dev.lies += 1
            time.sleep(0.001)
            return True
        if self.jumped or self.spinning:
            # The lie stops: the true index again.
            self.set_used_idx(self.used_idx)
            self.jumped = self.spinning = False
        return False


class PackedRing(RingBase):
    def __init__(self, dev, vq):
        super().__init__(dev, vq)
        vr = self.vr
        self.avail_pos = vr.base & 0x7FFF
        self.avail_wrap = bool(vr.base & 0x8000)
        self.used_pos = self.avail_pos
        self.used_wrap = self.avail_wrap
        self.dm, self.doff = self.mem.at(vr.desc, 16 * self.num)
        self.d16 = memoryview(self.dm).cast("H")
        # Device event suppression (device area): no kicks, we poll.
        dm, doff = self.mem.at(vr.used, 4)
        struct.pack_into("HH", dm, doff, 0, 1)
        self.bad_wrap_slots = []  # used slots written with wrong wrap bits, to repair later

    def state(self):
        return self.avail_pos | (0x8000 if self.avail_wrap else 0)

    def set_flags(self, off, flags):
        self.d16[(off + 14) >> 1] = flags

    def release(self):
        self.d16.release()

    def take(self):
        off = self.doff + 16 * self.avail_pos
        flags = struct.unpack_from("H", self.dm, off + 14)[0]
        avail = bool(flags & P_AVAIL)
        used = bool(flags & P_USED)
        if avail != self.avail_wrap or used == self.avail_wrap:
            return None
        segs = []
        ndesc = 0
        pos, wrap = self.avail_pos, self.avail_wrap
        buf_id = 0
        while True:
            off = self.doff + 16 * pos
            addr, ln, buf_id, flags = struct.unpack_from("QIHH", self.dm, off)
            ndesc += 1
            if flags & D_INDIRECT:
                segs += read_indirect(self.mem, addr, ln, True)
            else:
                segs.append((addr, ln, bool(flags & D_WRITE)))
            pos += 1
            if pos == self.num:
                pos, wrap = 0, not wrap
            if not flags & D_NEXT:
                break
            if ndesc > self.num:
                raise ValueError("packed chain never ends")
        head = self.avail_pos
        self.avail_pos, self.avail_wrap = pos, wrap
        return Chain(head, ndesc, segs, buf_id)

    def write_used(self, buf_id, length, writable, wrap, publish=True):
        """Writes a used entry at the used position; returns its flags write, done now if publish."""
        off = self.doff + 16 * self.used_pos
        struct.pack_into("IH", self.dm, off + 8, length, buf_id)
        flags = (P_AVAIL | P_USED if wrap else 0) | (D_WRITE if writable else 0)
        if publish:
            self.set_flags(off, flags)
        return off, flags

    def advance_used(self, n):
        self.used_pos += n
        while self.used_pos >= self.num:
            self.used_pos -= self.num
            self.used_wrap = not self.used_wrap

    def publish(self):
        dev = self.dev
        bad_wrap = dev.case == "bad_wrap" and dev.lying(self.vq)
        # The first entry's flags are written last, so the driver sees the batch at once, as from
        # DPDK's vhost: a completion repeated in the batch then reaches the driver before it can have
        # lent that id again, which is the lie dup_id means to tell.
        head = None
        for chain, length, override in self.pending:
            buf_id = chain.id if override is None else override
            writable = self.vq == 0
            if bad_wrap:
                # The wrong wrap counter: AVAIL and USED both set as for the previous lap, so the
                # slot the driver made available reads as used in the lap before. Not a completion
                # the driver may take; it stalls until the lie stops and the entry is rewritten.
                off = self.doff + 16 * self.used_pos
                struct.pack_into("IH", self.dm, off + 8, length, buf_id)
                flags = (0 if self.used_wrap else P_AVAIL | P_USED) | (D_WRITE if writable else 0)
                self.set_flags(off, flags)
                self.bad_wrap_slots.append((self.used_pos, buf_id, length, writable, self.used_wrap))
                dev.lies += 1
            else:
                written = self.write_used(buf_id, length, writable, self.used_wrap, publish=head is not None)
                head = head or written
            self.advance_used(chain.ndesc)
        if head is not None:
            self.set_flags(*head)
        self.pending = []

    def lie_step(self):
        dev = self.dev
        if self.bad_wrap_slots:
            dev.lying(self.vq)
        if self.bad_wrap_slots and dev.lie_state == "after":
            # The lie stops: the same used entries again, with the right bits.
            saved = self.used_pos
            for pos, buf_id, length, writable, wrap in reversed(self.bad_wrap_slots):
                self.used_pos = pos
                self.write_used(buf_id, length, writable, wrap)
            self.used_pos = saved
            self.bad_wrap_slots = []
            return True
        return False


class Server:
    def __init__(self, dev, path):
        self.dev = dev
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)

    def serve(self):
        while not self.dev.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.dev.connections += 1
            log("event connected %d" % self.dev.connections)
            try:
                Connection(self.dev, conn).run()
            except (ConnectionError, OSError, struct.error, ValueError) as e:
                log("event connection-error %r" % (e,))
            finally:
                for vr in self.dev.vrings:
                    self.dev.stop_ring(vr)
                conn.close()
                log("event disconnected")


class Connection:
    def __init__(self, dev, conn):
        self.dev = dev
        self.conn = conn

    def recv_exact(self, n, fds):
        data = bytearray()
        while len(data) < n:
            msg, anc, _flags, _addr = self.conn.recvmsg(n - len(data), socket.CMSG_SPACE(8 * 4))
            if not msg:
                raise ConnectionError("front end closed the connection")
            data += msg
            for level, ctype, cdata in anc:
                if level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(cdata[: len(cdata) - len(cdata) % a.itemsize])
                    fds.extend(a)
        return bytes(data)

    def reply(self, request, payload, flags=FLAG_VERSION | FLAG_REPLY):
        data = HDR.pack(request, flags, len(payload)) + payload
        if self.dev.case == "drip" and self.dev.connections == 1 and self.dev.lies == 0:
            # One byte at a time, each after a pause: the whole reply takes far longer than any timeout.
            self.dev.lies += 1
            for i in range(len(data)):
                time.sleep(self.dev.args.drip_delay)
                self.conn.sendall(data[i:i + 1])
            return
        self.conn.sendall(data)

    def run(self):
        dev = self.dev
        while True:
            fds = []
            header = self.recv_exact(HDR.size, fds)
            request, flags, size = HDR.unpack(header)
            payload = self.recv_exact(size, fds) if size else b""
            self.handle(request, flags, payload, fds)

    def handle(self, request, flags, payload, fds):
        dev = self.dev
        need_reply = bool(flags & FLAG_NEED_REPLY)
        u64 = struct.unpack_from("Q", payload)[0] if len(payload) >= 8 else 0
        if request == GET_FEATURES:
            if dev.case == "features_wrong_code" and dev.connections == 1:
                # The first connection's feature reply claims to answer GET_PROTOCOL_FEATURES.
                dev.lies += 1
                log("event lie-start")
                log("event lie-end lies=1")
                self.reply(GET_PROTOCOL_FEATURES, struct.pack("Q", dev.offered_features()))
                return
            self.reply(request, struct.pack("Q", dev.offered_features()))
            return
        if request == GET_PROTOCOL_FEATURES:
            self.reply(request, struct.pack("Q", dev.offered_protocol()))
            return
        if request == GET_QUEUE_NUM:
            self.reply(request, struct.pack("Q", 1))
            return
        if request == GET_STATUS:
            self.reply(request, struct.pack("Q", dev.status))
            return
        if request == GET_VRING_BASE:
            index = struct.unpack_from("I", payload)[0]
            vr = dev.vrings[index] if index < len(dev.vrings) else None
            num = dev.stop_ring(vr) if vr else 0
            self.getbase_reply(index, num)
            return
        if request == SET_FEATURES:
            dev.features = u64
            dev.acked_features.append(u64)
            if u64 & ~dev.offered_features():
                dev.errors.append("front end acked features 0x%x it was not offered" % (u64 & ~dev.offered_features()))
        elif request == SET_PROTOCOL_FEATURES:
            dev.protocol = u64
        elif request == SET_MEM_TABLE:
            for vr in dev.vrings:
                dev.stop_ring(vr)
            dev.mem.load(payload, fds)
        elif request in (SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ENABLE):
            index, num = struct.unpack_from("II", payload)
            if index < len(dev.vrings):
                vr = dev.vrings[index]
                if request == SET_VRING_NUM:
                    vr.num = num
                elif request == SET_VRING_BASE:
                    vr.base = num
                    vr.state = num
                else:
                    vr.enabled = num == 1
                    if vr.enabled:
                        dev.start_ring(vr)
                    else:
                        dev.stop_ring(vr)
        elif request == SET_VRING_ADDR:
            index, _flags, desc, used, avail, _log = struct.unpack_from("IIQQQQ", payload)
            if index < len(dev.vrings):
                vr = dev.vrings[index]
                vr.desc, vr.used, vr.avail = desc, used, avail
        elif request == SET_VRING_KICK:
            index = u64 & 0xFF
            fd = fds[0] if fds else None
            if index < len(dev.vrings):
                vr = dev.vrings[index]
                if vr.kick is not None:
                    os.close(vr.kick)
                vr.kick = fd
                if fd is not None:
                    os.set_blocking(fd, False)
                dev.start_ring(vr)
            elif fd is not None:
                os.close(fd)
        elif request in (SET_VRING_CALL, SET_VRING_ERR):
            for fd in fds:
                os.close(fd)
        elif request == SET_STATUS:
            dev.status = u64 & 0xFF
        # SET_OWNER, RESET_OWNER, NET_SET_MTU and anything else: accepted.
        for fd in fds if request not in (SET_MEM_TABLE, SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR) else []:
            os.close(fd)
        if need_reply:
            status = 0
            if dev.case == "ack_refuse" and request == SET_MEM_TABLE and dev.getbase_lies == 0:
                # The first memory table is refused (non-zero REPLY_ACK status); later ones are fine.
                dev.getbase_lies += 1
                dev.lies += 1
                status = 1
                log("event lie-start")
                log("event lie-end lies=1")
            self.reply(request, struct.pack("Q", status))

    def getbase_reply(self, index, num):
        dev = self.dev
        case = dev.case
        payload = struct.pack("II", index, num)
        if case in ("getbase_wrong_code", "getbase_short", "getbase_no_reply_flag", "getbase_silent") and dev.getbase_lies == 0:
            dev.getbase_lies += 1
            dev.lies += 1
            if case == "getbase_silent":
                # No answer at all: the front end must give up on its own, after its timeout.
                log("event lie-start")
                log("event lie-end lies=1")
                return
            if case == "getbase_wrong_code":
                self.reply(GET_FEATURES, payload)
            elif case == "getbase_short":
                self.reply(GET_VRING_BASE, payload[:4])
            else:
                self.reply(GET_VRING_BASE, payload, flags=FLAG_VERSION)
            log("event lie-start")
            log("event lie-end lies=1")
            return
        self.reply(GET_VRING_BASE, payload)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--socket", required=True)
    p.add_argument("--case", default="honest", choices=sorted(RING_CASES) + PROTOCOL_CASES)
    p.add_argument("--dir", default="rx", choices=["rx", "tx"], help="the virtqueue a ring lie is told on")
    p.add_argument("--lie-after", type=int, default=100, help="honest packets on that queue before the lie")
    p.add_argument("--lie-seconds", type=float, default=0.4, help="the longest the lie lasts")
    p.add_argument("--lie-count", type=int, default=3, help="lying entries at most")
    p.add_argument("--lie-min-seconds", type=float, default=0.15, help="the shortest the lie window lasts")
    p.add_argument("--rate", type=float, default=3000.0, help="RX frames per second, at most")
    p.add_argument("--duration", type=float, default=120.0, help="seconds before exiting on its own")
    p.add_argument("--drip-delay", type=float, default=0.75)
    p.add_argument("--mbuf-meta-offset", type=int, default=244,
                   help="bytes from an RX buffer's address back to the mbuf metadata (rewrite_mbuf)")
    args = p.parse_args()

    dev = Device(args)
    server = Server(dev, args.socket)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    threading.Thread(target=server.serve, daemon=True).start()
    log("event listening %s" % args.socket)
    done.wait(args.duration)
    dev.stop.set()
    time.sleep(0.01)
    sys.stdout.write(json.dumps(dev.summary()) + "\n")
    sys.stdout.flush()
    try:
        os.unlink(args.socket)
    except OSError:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
