"""python-fido2 (as Debian ships it) against a UDP authenticator: the same operations as
client.ts, printed as one JSON line. Usage: python3 client.py PORT PIN_PORT N"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fido2  # noqa: E402
from fido2.client import Fido2Client  # noqa: E402
from fido2.ctap2 import Ctap2  # noqa: E402
from fido2.ctap2.blob import LargeBlobs  # noqa: E402
from fido2.utils import sha256  # noqa: E402
from fido2.webauthn import (  # noqa: E402
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialRequestOptions,
)

from udp_connection import open_udp_device  # noqa: E402

ORIGIN = "https://example.com"
port, pin_port, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


def creation(uv="discouraged"):
    return PublicKeyCredentialCreationOptions(
        {"id": "example.com", "name": "Example"},
        {"id": os.urandom(16), "name": "alice"},
        os.urandom(32),
        [{"type": "public-key", "alg": -7}],
        authenticator_selection={"user_verification": uv},
    )


def exchanges(log):
    """The connection's log as exchanges: datagrams sent (hex), then how many were read."""
    out = []
    for packet in log:
        if packet is not None and (not out or out[-1]["read"] > 0):
            out.append({"send": [packet.hex()], "read": 0})
        elif packet is not None:
            out[-1]["send"].append(packet.hex())
        elif out:
            out[-1]["read"] += 1
        else:
            out.append({"send": [], "read": 1})
    return out


def measure(op, conn, count=n):
    """Median wall ms per op, mean CPU ms per op, CTAP2 round trips of one op; or the error
    the first attempt raised."""
    try:
        op()  # warm-up
    except Exception as e:  # noqa: BLE001 - reported in the table instead
        return {"error": "%s: %s" % (type(e).__name__, e)}
    before = conn.cbor_requests
    conn.log = []
    op()
    trips = conn.cbor_requests - before
    datagrams = exchanges(conn.log)
    conn.log = None
    # As client.ts, which needs it for its JIT: as many calls again before measuring.
    for _ in range(count):
        op()
    walls = []
    c0 = time.process_time()
    for _ in range(count):
        t0 = time.perf_counter()
        op()
        walls.append((time.perf_counter() - t0) * 1000)
    cpu = (time.process_time() - c0) * 1000 / count
    return {
        "ms": statistics.median(walls),
        "cpuMs": cpu,
        "roundTrips": trips,
        "datagrams": datagrams,
    }


dev, conn = open_udp_device("127.0.0.1", port)
client = Fido2Client(dev, ORIGIN)
ctap2 = Ctap2(dev)
reg = client.make_credential(creation())
cred = reg.attestation_object.auth_data.credential_data
allow = [{"type": "public-key", "id": cred.credential_id}]
cdh = sha256(b"client data")

out = {"runtime": "python-fido2 %s" % fido2.__version__}
out["ping"] = measure(lambda: dev.ping(b"\x42" * 8), conn)
out["ctap2GetAssertion"] = measure(
    lambda: ctap2.get_assertion("example.com", cdh, allow, options={"up": False}), conn
)
out["clientGetAssertion"] = measure(
    lambda: client.get_assertion(
        PublicKeyCredentialRequestOptions(
            os.urandom(32),
            rp_id="example.com",
            allow_credentials=allow,
            user_verification="discouraged",
        )
    ).get_response(0),
    conn,
)
out["makeCredential"] = measure(lambda: client.make_credential(creation()), conn)

blobs = LargeBlobs(ctap2)
blob = [{1: os.urandom(4000)}]
# 0.9.1 sends `length` with every fragment, so a multi-fragment write fails the integrity
# check of a conforming authenticator; the error is reported as the result.
out["largeBlobWrite4k"] = measure(lambda: blobs.write_blob_array(blob), conn, max(5, n // 10))
out["largeBlobRead4k"] = measure(lambda: blobs.read_blob_array(), conn, max(5, n // 10))

pdev, pconn = open_udp_device("127.0.0.1", pin_port)
pclient = Fido2Client(pdev, ORIGIN)
out["makeCredentialPin"] = measure(
    lambda: pclient.make_credential(creation("required"), pin="1234"), pconn, max(5, n // 4)
)
# The four-round-trip case: a PIN is set and the RP asks for user verification
# (getInfo, getKeyAgreement, getPinUvAuthTokenUsingPinWithPermissions, getAssertion).
preg = pclient.make_credential(creation("required"), pin="1234")
pallow = [
    {"type": "public-key", "id": preg.attestation_object.auth_data.credential_data.credential_id}
]
out["clientGetAssertionPin"] = measure(
    lambda: pclient.get_assertion(
        PublicKeyCredentialRequestOptions(
            os.urandom(32),
            rp_id="example.com",
            allow_credentials=pallow,
            user_verification="required",
        ),
        pin="1234",
    ).get_response(0),
    pconn,
    max(5, n // 4),
)
print(json.dumps(out))
