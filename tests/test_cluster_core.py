"""The chat core's side of several nodes, without I/O: what it tells the hub, and what it hears of other nodes."""

from __future__ import annotations

from test_core_rules import _chatting, of, sent

from parley.protocol import texts
from server.config import ServerConfig
from server.core import ChatCore, Directory, Now, OnlineUser
from server.core import actions as a
from server.core import events as e
from server.core.chats import delivery_of
from server.records import SequencedMessage, StoredMessage, conversation_key

NOW = Now(500.0, 1_700_000_000.0)


def clustered_core(**settings: object) -> ChatCore:
    config = ServerConfig(host="127.0.0.1", port=0, clustered=True)
    for name, value in settings.items():
        setattr(config, name, value)
    return ChatCore(config, Directory())


def test_a_conversation_is_named_the_same_whoever_sends() -> None:
    assert conversation_key("a:1", None, None) == "lobby"
    assert conversation_key("a:1", None, 7) == "r7"
    assert conversation_key("a:2", "g:x", None) == conversation_key("g:x", "a:2", None) == "pa:2|g:x"


def test_a_directory_places_another_nodes_user_without_a_session_and_keeps_its_name_taken() -> None:
    directory: Directory[object] = Directory()
    assert directory.place(OnlineUser("Ann", "a:1", False))
    assert directory.lookup("ann") == OnlineUser("Ann", "a:1", False) and directory.sessions("ann") == 0
    assert not directory.place(OnlineUser("ANN", "g:z", False))  # someone else's name
    assert directory.place(OnlineUser("Ann", "a:1", False))  # itself again: nothing changes
    assert directory.online() == ["Ann"]


def test_connections_another_node_holds_count_against_the_address_cap() -> None:
    core = clustered_core(max_connections_per_address=2)
    core.handle(e.LimitShared("node1", "connections", "10.0.0.7", count=2), NOW)
    actions = core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    assert sent(actions) == [(1, "CONVER", texts.TOO_MANY_CONNECTIONS)]
    core.handle(e.NodeGone("node1"), NOW)  # its connections are gone with it
    actions = core.handle(e.Connected(2, "10.0.0.7", 5001), NOW)
    assert not sent(actions)
    assert of(actions, a.ShareLimit) == [a.ShareLimit("connections", "10.0.0.7", count=1)]


def test_failed_logins_on_another_node_lock_the_address_out_here() -> None:
    core = clustered_core(login_failures_per_address=3)
    for _ in range(3):
        core.handle(e.LimitShared("node1", "login", "10.0.0.7", "bob"), NOW)
    assert core.address_lockout("10.0.0.7") > 0
    assert core.address_lockout("10.0.0.8") == 0


def test_a_failed_login_here_is_shared_and_one_heard_is_not_shared_again() -> None:
    core = clustered_core()
    core.handle(e.Connected(1, "10.0.0.7", 5000), NOW)
    core.now = NOW
    core._actions = []
    core.login_failed("10.0.0.7", "bob")
    assert core._actions == [a.ShareLimit("login", "10.0.0.7", "bob")]
    core._actions = []
    core.login_failed("10.0.0.7", "bob", elsewhere=True)
    assert core._actions == []


def test_a_private_message_goes_to_the_recipient_and_echoes_to_a_single_session_sender() -> None:
    core = clustered_core()
    directory = core.presence
    assert isinstance(directory, Directory)
    _chatting(core, 1, "ann")
    directory.claim(OnlineUser("ann", core.connections[1].ident, False), object())
    directory.place(OnlineUser("bob", "g:bob", False))
    (store,) = of(core.handle(e.DataReceived(1, b"CHAT,rec=bob,hi\n"), NOW), a.StoreMessage)
    (deliver,) = of(core.handle(e.MessageStored(store.chat, 9, seq=3), NOW), a.DeliverMessage)
    assert (deliver.conv, deliver.seq, deliver.to, deliver.echo) == (
        conversation_key(core.connections[1].ident, "g:bob", None), 3, ("bob",), 1)


def test_a_message_fetched_from_the_database_goes_to_whoever_of_its_parties_is_online_here() -> None:
    core = clustered_core()
    directory = core.presence
    assert isinstance(directory, Directory)
    directory.place(OnlineUser("Bob", "g:bob", False))
    stored = StoredMessage(12, 1_700_000_000_000, "2023-11-14 22:13:20", "Ann", "#abc", "Bob", "one\ntwo")
    delivery = delivery_of(core, SequencedMessage("pa:1|g:bob", 4, stored, "a:1", "g:bob", None))
    assert delivery is not None
    assert (delivery.conv, delivery.seq, delivery.to, delivery.room) == ("pa:1|g:bob", 4, ("Bob",), None)
    assert (delivery.frame.reason, delivery.frame.get("id"), delivery.frame.get("lines")) == ("CHATR", "12", "3")
    assert delivery_of(core, SequencedMessage("lobby", 5, stored, "a:1", None, None, deleted=True)) is None
