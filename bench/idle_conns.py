"""Holds N half-open connections to a server (from 127.0.x.y) and prints the server's RSS."""
import socket, sys, time, os
host, port, n, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
hold = float(sys.argv[5]) if len(sys.argv) > 5 else 30
def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) // 1024
before = rss(pid)
socks = []
for i in range(n):
    s = socket.socket()
    # spread over 127.0.0.x so that a per-address cap does not apply
    s.bind((f"127.0.{(i // 250) % 250}.{2 + i % 250}", 0))
    s.connect((host, port))
    s.send(b"POST /w/api.php HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
time.sleep(2)
print(f"rss before {before} MiB, with {n} idle connections {rss(pid)} MiB", flush=True)
time.sleep(hold)
print(f"rss after {hold}s {rss(pid)} MiB", flush=True)
