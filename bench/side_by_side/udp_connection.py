"""CTAPHID over UDP for python-fido2 (0.9.x): one 64-byte report per datagram, the framing
firmware simulators and @x/fido2's serveUdp use. Lets python-fido2 talk to the same
authenticator process as @x/fido2 in the side-by-side benchmark."""

import socket

from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor


class UdpCtapHidConnection(CtapHidConnection):
    """A blocking UDP socket as a CtapHidConnection (python-fido2 reads synchronously)."""

    def __init__(self, host, port, report_size=64):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.connect((host, port))
        self.report_size = report_size
        self.cbor_requests = 0
        # Datagrams sent (bytes) and read (None) while a list: what floor.py replays.
        self.log = None

    def write_packet(self, packet):
        # Count CTAPHID_CBOR init packets: one per CTAP2 round trip.
        if packet[4] == 0x90:
            self.cbor_requests += 1
        if self.log is not None:
            self.log.append(bytes(packet))
        self.sock.send(packet)

    def read_packet(self):
        packet = self.sock.recv(self.report_size)
        if self.log is not None:
            self.log.append(None)
        return packet

    def close(self):
        self.sock.close()


def open_udp_device(host, port):
    """CTAPHID INIT over UDP; returns (device, connection)."""
    conn = UdpCtapHidConnection(host, port)
    descriptor = HidDescriptor("udp://%s:%d" % (host, port), 0, 0, 64, 64)
    return CtapHidDevice(descriptor, conn), conn
