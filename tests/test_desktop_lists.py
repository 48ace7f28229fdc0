"""The desktop client keeps its user list from USERCHANGES (issue 12, item 6), on a real X display.

A desktop window logs in (it sends ``lists=changes``); raw TCP clients join,
rename and leave, some at once and some apart; the window's list (its
recipient dropdown) must follow the server's whole list, as a raw client
that did not ask for changes reads it, from changes alone.
"""

from __future__ import annotations

from typing import Iterator

import pytest
from serverproc import ServerProcess
from test_desktop_gui import Desktops, Raw, connect, desktops, display  # noqa: F401 (fixtures)

from parley.protocol import make_frame


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """This tree's server (the installed one may be older)."""
    server = ServerProcess(tmp_path_factory.mktemp("lists") / "data", source=True)
    server.start()
    yield server
    server.stop()


def whole_list(raw: Raw) -> list[str]:
    """The last whole list ``raw`` (a client that did not ask for changes) got."""
    last = [f for f in raw.frames if f.reason == "USER"][-1]
    return [last.params[str(i)] for i in range(int(last.params["num"]))]


def test_the_desktop_follows_joins_renames_and_leaves_from_changes(desktops: Desktops,  # noqa: F811
                                                                    chat_server: ServerProcess) -> None:
    ivy = desktops.open("ivy")
    connect(desktops, ivy, chat_server.port, "ivy")
    assert ivy.connection is not None
    session = ivy.connection.session
    desktops.until(lambda: session.user_list.serial is not None, "ivy's numbered list")
    first_serial = session.user_list.serial
    watcher = desktops.raw(chat_server.port, "watcher")
    crowd = [desktops.raw(chat_server.port, f"guy{i}") for i in range(4)]

    def follows(want: list[str]) -> None:
        desktops.until(lambda: whole_list(watcher) == want, f"the server's list is {want}")
        desktops.until(lambda: list(ivy.users) == want, f"ivy's list is {want}")
        others = [name for name in want if name != "ivy"]
        assert ivy.chat_view.recipient_labels()[1:] == others

    follows(["ivy", "watcher", "guy0", "guy1", "guy2", "guy3"])
    crowd[0].send(make_frame("UPDATE", [("nickname", "Guido")]))
    crowd[1].send(make_frame("DISCON"))
    crowd[2].close()  # vanishes without DISCON
    desktops.raws.remove(crowd[2])
    follows(["ivy", "watcher", "Guido", "guy3"])
    crowd[3].send(make_frame("UPDATE", [("nickname", "GUY3")]))  # spelling only
    follows(["ivy", "watcher", "Guido", "GUY3"])
    assert session.user_list.serial is not None and first_serial is not None
    assert session.user_list.serial >= first_serial + 8  # 5 joins, 2 leaves, 2 renames, some as changes
    assert not session.user_list.resync
