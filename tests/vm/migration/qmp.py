"""A small QMP client (stdlib only): commands on one socket, events recorded from another."""
import json
import socket
import threading
import time


class Qmp:
    def __init__(self, path, timeout=60):
        deadline = time.time() + timeout
        while True:
            try:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.connect(path)
                break
            except OSError:
                self._sock.close()
                if time.time() > deadline:
                    raise TimeoutError(f"no QMP socket at {path}")
                time.sleep(0.2)
        self._file = self._sock.makefile("rwb")
        self._read()                                   # the greeting
        self.execute("qmp_capabilities")

    def _read(self):
        line = self._file.readline()
        if not line:
            raise ConnectionError("QMP connection closed")
        return json.loads(line)

    def execute(self, command, **arguments):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self._file.write(json.dumps(msg).encode() + b"\n")
        self._file.flush()
        while True:
            reply = self._read()
            if "event" in reply:
                continue                               # events are recorded on the other socket
            if "error" in reply:
                raise RuntimeError(f"QMP {command}: {reply['error'].get('desc')}")
            return reply.get("return")

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass


class EventLog:
    """Records every event of one QEMU, with QEMU's own timestamp (the host's wall clock)."""

    def __init__(self, path, name):
        self.name = name
        self.events = []                               # (time, event, data)
        self._qmp = Qmp(path)
        self._changed = threading.Condition()
        threading.Thread(target=self._run, daemon=True, name=f"qmp-events-{name}").start()

    def _run(self):
        try:
            while True:
                e = self._qmp._read()
                if "event" not in e:
                    continue
                t = e["timestamp"]["seconds"] + e["timestamp"]["microseconds"] / 1e6
                with self._changed:
                    self.events.append((t, e["event"], e.get("data", {})))
                    self._changed.notify_all()
        except (ConnectionError, OSError, ValueError):
            pass

    def first(self, event, after=0.0, **match):
        for t, name, data in list(self.events):
            if name == event and t >= after and all(data.get(k) == v for k, v in match.items()):
                return t
        return None

    def wait(self, event, timeout, after=0.0, **match):
        deadline = time.time() + timeout
        with self._changed:
            while (t := self.first(event, after, **match)) is None:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no {event} {match or ''} within {timeout} s")
                self._changed.wait(min(left, 0.5))
        return t
