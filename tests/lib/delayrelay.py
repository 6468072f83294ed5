#!/usr/bin/python3
"""tests/lib/delayrelay.py — a TCP relay that delays every chunk by a fixed
time in each direction: a remote upstream on loopback (SPEC §9 benchmarks,
the interop tests of pipelined retrieval).

    delayrelay.py TARGET_PORT [DELAY_MS]     (default 10 ms each way)

Listens on 127.0.0.1 (an ephemeral port, printed as "port N" on stdout once
it listens) and connects each accepted connection to 127.0.0.1:TARGET_PORT.
Every chunk read from one side is written to the other DELAY_MS after it was
read, in order, so a round trip costs 2 × DELAY_MS while throughput is not
limited (a long transfer streams: chunks are delayed, not serialised).

Bounded: loopback only (both ends), at most MAX_CONNS connections at once
(more are closed at once), at most QUEUE_CHUNKS chunks of CHUNK octets
waiting per direction (reading stops while the queue is full: TCP's
back-pressure reaches the sender). Ends on SIGTERM / SIGINT or when stdin
closes (so it never outlives the test that started it).

As a module: Relay(target_port, delay_ms) starts the relay in a subprocess;
.port, .close(); a context manager.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time

CHUNK = 1 << 16
QUEUE_CHUNKS = 64
MAX_CONNS = 256
HOST = "127.0.0.1"


async def _pump(reader, writer, delay):
    q = asyncio.Queue(QUEUE_CHUNKS)

    async def read_side():
        try:
            while True:
                data = await reader.read(CHUNK)
                await q.put((time.monotonic() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await q.put((time.monotonic() + delay, b""))

    async def write_side():
        try:
            while True:
                due, data = await q.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return

    await asyncio.gather(read_side(), write_side())


async def _serve(target_port, delay):
    conns = [0]

    async def handle(creader, cwriter):
        if conns[0] >= MAX_CONNS:
            cwriter.close()
            return
        conns[0] += 1
        try:
            ureader, uwriter = await asyncio.open_connection(HOST, target_port)
        except OSError:
            conns[0] -= 1
            cwriter.close()
            return
        for w in (cwriter, uwriter):
            sock = w.get_extra_info("socket")
            if sock is not None:
                import socket
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.gather(_pump(creader, uwriter, delay),
                                 _pump(ureader, cwriter, delay))
        except asyncio.CancelledError:
            pass  # the relay is stopping
        finally:
            conns[0] -= 1
            for w in (cwriter, uwriter):
                try:
                    w.close()
                except OSError:
                    pass

    server = await asyncio.start_server(handle, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write("port %d\n" % port)
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    # stdin closing (the parent is gone) ends the relay too.
    loop.add_reader(0, lambda: (os.read(0, 4096) or b"") == b"" and
                    (stop.done() or stop.set_result(None)))
    async with server:
        await stop


class Relay:
    """The relay in a subprocess, in front of 127.0.0.1:target_port."""

    def __init__(self, target_port, delay_ms=10):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                                      str(target_port), str(delay_ms)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "port":
            self.close()
            raise RuntimeError("delayrelay did not start")
        self.port = int(line[1])

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write("usage: delayrelay.py TARGET_PORT [DELAY_MS]\n")
        return 2
    target = int(sys.argv[1])
    delay = (int(sys.argv[2]) if len(sys.argv) == 3 else 10) / 1000.0
    if not 0 < target < 65536 or not 0 <= delay <= 1.0:
        sys.stderr.write("delayrelay: bad port or delay (0..1000 ms)\n")
        return 2
    asyncio.run(_serve(target, delay))
    return 0


if __name__ == "__main__":
    sys.exit(main())
