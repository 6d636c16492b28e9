"""Kernel start-up for chapter runs in CI: no network (set STOCHLEARN_NO_NETWORK=1 to enable).

`make test` points IPYTHONDIR here, so every kernel that nbval, papermill or nbclient starts runs
this file first. Chapters are offline by default; a chapter that opens a connection to anything
but this machine fails at once with a message that names it, instead of hanging or passing by
luck where a network happens to exist. (.ci/run also runs the tests in a network namespace with
only loopback, where `unshare -n` is available.)
"""

import ipaddress
import os
import socket


def _install_network_guard() -> None:
    if os.environ.get("STOCHLEARN_NO_NETWORK") != "1":
        return
    where = os.environ.get("STOCHLEARN_CHAPTER") or f"the notebook run in {os.getcwd()}"

    def local(sock, address) -> bool:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return True
        host = address[0] if isinstance(address, tuple) else str(address)
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    def refuse(address):
        return ConnectionRefusedError(
            f"network access is disabled for chapters: {where} tried to connect to {address!r}. "
            "Chapters must run offline: use data that packages ship, or generate it."
        )

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if not local(self, address):
            raise refuse(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        if not local(self, address):
            raise refuse(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost", "127.0.0.1", "::1") and not str(host).startswith("127."):
            raise refuse(host)
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo


_install_network_guard()
del _install_network_guard
