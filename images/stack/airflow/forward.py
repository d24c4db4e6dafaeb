"""Forwards LISTEN_HOST:PORT to TARGET_HOST:PORT (`forward.py 127.0.0.1:5001 registry:5000`).

SDK images are named after the registry's address on the host (127.0.0.1:<port>): the host's Docker
Engine builds, pushes and pulls them there. The image step also asks the registry over HTTP (the base
image's digest, the pushed manifest), from inside this container: this makes that address the
registry here too, so one name serves both.
"""

import asyncio
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(listen: str, target: str) -> None:
    target_host, target_port = target.rsplit(":", 1)

    async def connect(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(target_host, int(target_port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    host, port = listen.rsplit(":", 1)
    server = await asyncio.start_server(connect, host, int(port))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
