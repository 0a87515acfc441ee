"""A switchable TCP proxy in front of the local PostgreSQL, for the database-fault tests:
it forwards, refuses (a database that is down) or freezes (a black hole, as a server
under SIGSTOP looks to its clients)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator


class Switch:
    """A TCP proxy to PostgreSQL at 127.0.0.1:5432 on a loop and thread of its own (the
    daemon's database calls must never wait on the test's loop): it forwards until
    ``freeze``, which closes what it forwards and makes it a black hole; ``thaw`` forwards
    new connections again. Made ``refusing``, it closes every new connection at once (a
    database that is down) until ``refusing`` is set False."""

    def __init__(self, refusing: bool = False) -> None:
        self.refusing = refusing
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.frozen = False
        self.forwarded: set[asyncio.StreamWriter] = set()
        self.held: list[asyncio.StreamWriter] = []  # black-holed: open, never answered
        self.port = 0

    def start(self) -> Switch:
        self.thread.start()
        self.server = self._run(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def freeze(self, drop: bool = True) -> None:
        """Black-hole new connections; ``drop`` the forwarded ones, else leave them open and
        silent (what a client of a server under SIGSTOP sees)."""
        async def freeze() -> None:
            self.frozen = True
            for writer in self.forwarded if drop else ():
                writer.close()

        self._run(freeze())

    def down(self) -> None:
        """A database that went down: the forwarded connections closed, new ones refused
        until ``refusing`` is set False."""
        async def down() -> None:
            self.refusing = True
            for writer in self.forwarded:
                writer.close()

        self._run(down())

    def thaw(self) -> None:
        self.frozen = False

    def stop(self) -> None:
        async def stop() -> None:
            self.server.close()
            for writer in [*self.held, *self.forwarded]:
                writer.close()

        self._run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():  # else the unclosed loop's ResourceWarning, raised
            self.loop.close()  # by a later GC inside an ast.parse, can fail pytest's session
            # with CPython 3.11's "AST constructor recursion depth mismatch"

    def _run(self, coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)  # type: ignore[arg-type]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        if self.frozen:
            self.held.append(writer)
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5432)
        self.forwarded |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    while self.frozen:  # silent: read, never forwarded
                        await asyncio.sleep(3600)
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@contextlib.contextmanager
def proxied_schema() -> Iterator[tuple[Switch, str]]:
    """A new PostgreSQL schema reached through a started ``Switch``: the switch and the URL
    through it; the schema dropped and the switch stopped afterwards."""
    from tests.conftest import pg_schema  # conftest's fixtures import this module's users

    switch = Switch().start()
    try:
        with pg_schema() as real:
            yield switch, real.replace("127.0.0.1:5432", f"127.0.0.1:{switch.port}")
    finally:
        switch.stop()
