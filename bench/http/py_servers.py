#!/usr/bin/python3
"""The Python peers of the HTTP comparison (bench/http/run), with curio-httpd's command line.

    py_servers.py --server httptools|aiohttp [--loop uvloop|asyncio]
                  [--host H] [--port N] [--port-file PATH] [--root DIR]

Listens on H:N (default 127.0.0.1, port 0: the kernel picks one) with a backlog of 4096,
writes the port chosen to PATH once it accepts connections, and ends on SIGTERM.
Both serve GET /plaintext ("Hello, World!", text/plain) and the files of DIR by name.

  httptools  an asyncio Protocol with httptools' parser (llhttp/http-parser), the way
             uvloop's own benchmark server is written: every request that one
             data_received completes is answered, and the answers go out in one
             transport.write (pipelined requests cost one write per batch). A file is
             opened and read per request and written whole.
  aiohttp    an aiohttp.web application: a route for /plaintext and add_static for the
             files (aiohttp's FileResponse, which uses loop.sendfile where the loop has it);
             access log off.

--loop uvloop (the default) installs uvloop's event loop; --loop asyncio keeps asyncio's.
"""
import argparse
import asyncio
import os
import signal
import socket
import sys

HELLO = (b"HTTP/1.1 200 OK\r\nServer: httptools\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 13\r\n\r\nHello, World!")
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nServer: httptools\r\nContent-Length: 0\r\n\r\n"
BAD = (b"HTTP/1.1 400 Bad Request\r\nServer: httptools\r\nContent-Length: 0\r\n"
       b"Connection: close\r\n\r\n")


def write_port(path, port):
    if path:
        with open(path + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.rename(path + ".tmp", path)


def listening_socket(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4096)
    s.setblocking(False)
    return s


def httptools_protocol(root):
    import httptools

    class HttpProtocol(asyncio.Protocol):
        __slots__ = ("transport", "parser", "url", "out", "close")

        def connection_made(self, transport):
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)
            self.url = None
            self.out = []
            self.close = False

        def on_url(self, url):
            self.url = url

        def on_message_complete(self):
            url = self.url
            if url == b"/plaintext":
                self.out.append(HELLO)
            else:
                self.out.append(self.file(url))
            if not self.parser.should_keep_alive():
                self.close = True

        def file(self, url):
            if (root is None or b".." in url or b"?" in url or len(url) < 2
                    or self.parser.get_method() != b"GET"):
                return NOT_FOUND
            try:
                with open(os.path.join(root, url[1:].decode()), "rb") as f:
                    body = f.read()
            except (OSError, UnicodeDecodeError):
                return NOT_FOUND
            return (b"HTTP/1.1 200 OK\r\nServer: httptools\r\n"
                    b"Content-Type: application/octet-stream\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body)) + body

        def data_received(self, data):
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.out.append(BAD)
                self.close = True
            if self.out:
                out = self.out
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))
                out.clear()
            if self.close:
                self.transport.close()

        def connection_lost(self, exc):
            self.transport = None

    return HttpProtocol


async def serve_httptools(args):
    loop = asyncio.get_running_loop()
    proto = httptools_protocol(args.root)
    server = await loop.create_server(proto, sock=listening_socket(args.host, args.port))
    write_port(args.port_file, server.sockets[0].getsockname()[1])
    await stopped(loop)
    server.close()


async def serve_aiohttp(args):
    from aiohttp import web

    async def plaintext(request):
        return web.Response(text="Hello, World!")

    app = web.Application()
    app.router.add_get("/plaintext", plaintext)
    if args.root:
        app.router.add_static("/", args.root)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = listening_socket(args.host, args.port)
    site = web.SockSite(runner, sock)
    await site.start()
    write_port(args.port_file, sock.getsockname()[1])
    await stopped(asyncio.get_running_loop())
    await runner.cleanup()


async def stopped(loop):
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    await done.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", choices=["httptools", "aiohttp"], required=True)
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--root")
    args = p.parse_args()
    if args.loop == "uvloop":
        import uvloop
        uvloop.install()
    serve = serve_httptools if args.server == "httptools" else serve_aiohttp
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
