#!/usr/bin/env python3
"""Hostile clients against fsm-web, and /api/health measured meanwhile.

For SECONDS, at once (loopback only):
  - 8 connections that pipeline 10 large list requests and never read;
  - 50 connections that pipeline 60 such requests each, then hang up (reset),
    over and over (a flood whose work must be dropped);
  - 100 slowloris connections that trickle a header byte every second;
  - 1,000 idle connections;
while /api/health is asked on a fresh connection every 20 ms. Prints one JSON
document: health latency (p50/p99/max), failures, and how long a normal
request took once the attack stopped.

Usage: soak.py PORT TOKEN SECONDS
"""
import json
import socket
import struct
import sys
import threading
import time

port, token, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
stop = threading.Event()
LIST = ("GET /api/v1/clients?limit=100 HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\n\r\n").encode()


def connect(rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    return s


def alive(s):
    """False once the server has closed it (reads what is there, discards)."""
    s.setblocking(False)
    try:
        data = s.recv(1 << 16)
        return bool(data) or False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def non_readers(counts):
    socks = []
    while not stop.is_set():
        while len(socks) < 8:
            s = connect(rcvbuf=4096)
            s.sendall(LIST * 10)
            socks.append(s)
            counts["non_reader_connections"] += 1
        time.sleep(0.5)
        # Reconnect the ones the server cut off (past its write deadline);
        # a peek that finds data does not count as reading it all.
        for s in list(socks):
            try:
                s.setblocking(False)
                if s.recv(1, socket.MSG_PEEK) == b"":
                    socks.remove(s)
                    s.close()
            except BlockingIOError:
                pass
            except OSError:
                socks.remove(s)
                s.close()
            finally:
                if s in socks:
                    s.setblocking(True)
    for s in socks:
        s.close()


def flooders(counts):
    linger = struct.pack("ii", 1, 0)  # close = reset
    while not stop.is_set():
        socks = []
        for _ in range(50):
            s = connect(rcvbuf=4096)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            try:
                s.sendall(LIST * 60)
            except OSError:
                pass
            socks.append(s)
        counts["flood_requests"] += 50 * 60
        stop.wait(0.5)
        for s in socks:
            s.close()


def slowloris(counts):
    socks = []
    while not stop.is_set():
        while len(socks) < 100:
            s = connect()
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(s)
            counts["slowloris_connections"] += 1
        stop.wait(1.0)
        for s in list(socks):
            try:
                s.send(b"a")
            except OSError:
                socks.remove(s)
                s.close()
    for s in socks:
        s.close()


def health_once():
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    ok = data.startswith(b"HTTP/1.1 200")
    return (time.perf_counter() - t0) * 1000.0, ok


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    counts = {"non_reader_connections": 0, "flood_requests": 0, "slowloris_connections": 0}
    idle = [connect() for _ in range(1000)]
    threads = [threading.Thread(target=f, args=(counts,), daemon=True)
               for f in (non_readers, flooders, slowloris)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # let the attack take hold
    latencies, failures = [], 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            ms, ok = health_once()
            latencies.append(ms)
            failures += 0 if ok else 1
        except OSError:
            failures += 1
        time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    idle_still_open = sum(1 for s in idle if alive(s))
    for s in idle:
        s.close()
    # A normal list request once the attackers are gone.
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(LIST.replace(b"limit=100", b"limit=1")[:-2] + b"Connection: close\r\n\r\n")
        while s.recv(65536):
            pass
    recovery_ms = (time.perf_counter() - t0) * 1000.0
    print(json.dumps({
        "seconds": seconds,
        "health": {
            "requests": len(latencies),
            "failures": failures,
            "p50_ms": round(percentile(latencies, 0.50), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2),
            "max_ms": round(max(latencies), 2),
        },
        "attack": counts,
        "idle_connections_still_open_after": idle_still_open,
        "list_request_after_attack_ms": round(recovery_ms, 2),
    }))


if __name__ == "__main__":
    main()
