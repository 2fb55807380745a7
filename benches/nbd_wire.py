"""The few NBD wire pieces the bench scripts speak themselves (fixed newstyle handshake with
NBD_OPT_GO, simple requests and replies), shared by nbd_fairness.py and nbd_soak.py."""
import struct

IHAVEOPT = 0x49484156454F5054
OPT_GO = 7
REP_ACK = 1
REP_INFO = 3
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH = 0, 1, 2, 3


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk
    return bytes(buf)


def handshake(s):
    """Fixed newstyle, NBD_OPT_GO on the default export; returns its size (None if the
    server sent no NBD_INFO_EXPORT)."""
    greeting = recv_exact(s, 18)  # NBDMAGIC IHAVEOPT flags
    if greeting[:8] != b"NBDMAGIC" or struct.unpack(">Q", greeting[8:16])[0] != IHAVEOPT:
        raise ConnectionError(f"bad greeting {greeting!r}")
    s.sendall(struct.pack(">I", 3))  # FIXED_NEWSTYLE | NO_ZEROES
    data = struct.pack(">I", 0) + struct.pack(">H", 0)  # name "", no info requests
    s.sendall(struct.pack(">QII", IHAVEOPT, OPT_GO, len(data)) + data)
    size = None
    while True:
        _magic, _option, reply_type, length = struct.unpack(">QIII", recv_exact(s, 20))
        payload = recv_exact(s, length)
        if reply_type == REP_INFO and len(payload) >= 12 and struct.unpack(">H", payload[:2])[0] == 0:
            size = struct.unpack(">Q", payload[2:10])[0]
        elif reply_type == REP_ACK:
            return size
        elif reply_type & 0x80000000:
            raise ConnectionError(f"the server refused NBD_OPT_GO: reply type {reply_type:#x}")


def request(s, command, cookie, offset=0, length=0, payload=b""):
    s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, command, cookie, offset, length) + payload)


def reply(s, data_len=0, cookie=None):
    """A simple reply: its data (`data_len` bytes); raises on an error or a bad reply."""
    magic, error, got = struct.unpack(">IIQ", recv_exact(s, 16))
    if magic != SIMPLE_REPLY_MAGIC or (cookie is not None and got != cookie):
        raise ConnectionError(f"bad reply magic {magic:#x} or cookie {got}")
    if error:
        raise RuntimeError(f"the server answered error {error}")
    return recv_exact(s, data_len) if data_len else b""
