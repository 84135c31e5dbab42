#!/usr/bin/env python3
"""How long new connections wait for their first answer when they come in a burst.

    bench/http/burst.py PORT N ROUNDS

ROUNDS times: opens N connections to 127.0.0.1:PORT one after the other, each sending
GET /plaintext right after its connect, and times each one's first answer (from its send).
Prints the median over the rounds of the median and of the worst first answer, in ms.
Meant to run while wrk keeps the server busy with its own connections (see
docs/benchmarks.md, "curio-httpd: pipelining and tail latency").
"""
import selectors
import socket
import statistics
import sys
import time


def main():
    port, n, rounds = map(int, sys.argv[1:4])
    req = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
    worst, medians = [], []
    for _ in range(rounds):
        sel = selectors.DefaultSelector()
        sent = {}
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(req)
            sent[s] = time.monotonic()
            sel.register(s, selectors.EVENT_READ)
        lat = []
        while len(lat) < n:
            events = sel.select(timeout=10)
            if not events:
                sys.exit("no answer within 10 s")
            for key, _ in events:
                s = key.fileobj
                s.recv(4096)
                lat.append((time.monotonic() - sent[s]) * 1e3)
                sel.unregister(s)
        for s in sent:
            s.close()
        sel.close()
        worst.append(max(lat))
        medians.append(statistics.median(lat))
        time.sleep(0.2)
    print("first answer, ms: median %.2f, worst %.2f (medians over %d rounds)"
          % (statistics.median(medians), statistics.median(worst), rounds))


if __name__ == "__main__":
    main()
