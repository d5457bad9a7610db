"""The server's listening socket, opened before the server announces itself: a port in use, a port out of
range or a host that does not resolve is a clear error, never a "serving on ..." line followed by a failure."""

from __future__ import annotations

import errno
import ipaddress
import socket

from crossrank.errors import InputError


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host`:`port` and listening; `InputError` naming both if that is not possible."""
    if not 1 <= port <= 65535:
        raise InputError(f"cannot listen on {host}:{port}: a TCP port is 1-65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"cannot listen on {host}:{port}: the host does not resolve ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise InputError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def open_to_network(host: str) -> bool:
    """Whether `host` reaches beyond this machine (anything but a loopback address or `localhost`)."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True  # a name that resolves elsewhere
