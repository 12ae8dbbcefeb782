"""Cold start: process start to the first getInfo answer (python-fido2 over UDP)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fido2.ctap2 import Ctap2  # noqa: E402

from udp_connection import open_udp_device  # noqa: E402

dev, _ = open_udp_device("127.0.0.1", int(sys.argv[1]))
print(Ctap2(dev).info.versions)
