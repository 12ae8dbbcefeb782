"""Python's floor for the side-by-side benchmark: the very datagrams python-fido2 exchanged for
an operation (recorded by client.py), replayed to the same authenticator process with a
blocking socket and nothing else. Usage: python3 floor.py PORT N FILE (JSON: a list of
operations, each a list of exchanges {"send": [hex...], "read": count}). Prints one JSON line
per operation: median wall ms and mean CPU ms."""

import json
import socket
import statistics
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
with open(sys.argv[3]) as f:
    ops = [
        [([bytes.fromhex(h) for h in x["send"]], x["read"]) for x in op] for op in json.load(f)
    ]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.connect(("127.0.0.1", port))
# Blocking reads without a timeout, as udp_connection.py (python-fido2's path) reads; run.mjs
# kills the process if an answer never comes.


def run(exchanges):
    for send, read in exchanges:
        for d in send:
            sock.send(d)
        for _ in range(read):
            sock.recv(64)


out = []
for exchanges in ops:
    for _ in range(n):  # warm-up, as client.py
        run(exchanges)
    walls = []
    c0 = time.process_time()
    for _ in range(n):
        t0 = time.perf_counter()
        run(exchanges)
        walls.append((time.perf_counter() - t0) * 1000)
    cpu = (time.process_time() - c0) * 1000 / n
    out.append({"ms": statistics.median(walls), "cpuMs": cpu})
print(json.dumps(out))
