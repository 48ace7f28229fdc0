"""The chat screen's moderation, editing and search, on the Tk thread.

A part of the controller (desktop.app), kept apart to stay small: the menus
of a message and of a person, the moderation and search dialogs, edits and
deletions applied to the conversations and the log, the mute notice, and
the jump from a search result to the message in its conversation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from parley.protocol.names import is_room, same_nickname
from parley.protocol.reading import conversation_key

from .client import (
    BansListed,
    ChatMessage,
    FileMessage,
    MessageDeleted,
    MessageEdited,
    Muted,
    RoomAnswer,
    SearchDone,
    Unmuted,
)
from .conversations import LOBBY
from .dialogs import BansDialog, ModerationDialog, SearchDialog
from .text import local_time

if TYPE_CHECKING:
    from .app import ParleyApp

MenuItems = list[tuple[str, Callable[[], None]]]
JUMP_PAGE = 25  # "HISTORY,rec=R;before=ID+1;limit=25 and HISTORY,rec=R;after=ID;limit=25"
WHOLE_SERVER = "The whole server"
EVERYWHERE = "All conversations"
DONE = {"BAN": "Banned.", "UNBAN": "Lifted.", "MUTE": "Muted.", "UNMUTE": "Unmuted.", "DELETE": "",
        "EDIT": "", "REPORT": "Reported to the admins; thank you.", "KICK": ""}
MUTE_CHECK_MS = 60_000  # how often an open mute notice looks whether its time has passed


@dataclass
class Edit:
    """The composer holds message ``id``'s words instead of a draft (``draft``)."""

    id: int
    draft: str


class Moderation:
    """What the chat screen does to messages and people beyond chatting."""

    def __init__(self, app: ParleyApp) -> None:
        self.app = app
        root = app.root
        self.dialog = ModerationDialog(root)
        self.bans = BansDialog(root, self.ask_bans, self.lift)
        self.search_dialog = SearchDialog(root, app.theme, self.search, self.more_results, self.jump)
        self.editing: Edit | None = None
        self.mutes: dict[str, Muted] = {}  # our mutes, by conversation_key
        self._search: tuple[str, str | None] = ("", None)  # the query and rec of the results shown
        self._jump: tuple[str, int] | None = None  # the conversation and message a result jumps to
        self._mute_check: str | None = None

    # ---- what the user may do ---------------------------------------------------------------

    @property
    def admin(self) -> bool:
        return self.app.role == "admin"

    def may_moderate(self, rec: str) -> bool:
        """True when we may ban and mute in ``rec``: admins anywhere, operators in their rooms."""
        conversation = self.app.conversations.get(rec)
        return self.admin or (conversation is not None and conversation.kind == "room" and conversation.op)

    def message_menu(self, message_id: int) -> MenuItems:
        """Return what can be done to a message: Edit and Delete our own, Delete as a moderator, Report."""
        message = self.app.chat_log.shown_message(message_id)
        if message is None or not self.app.rooms_server:
            return []
        items: MenuItems = []
        if message.mine and not isinstance(message, FileMessage):  # "A file can't be edited"
            items.append(("Edit", lambda: self.start_edit(message)))
        if message.mine or self.admin or (is_room(message.conversation) and self.may_moderate(message.conversation)):
            items.append(("Delete...", lambda: self.ask_delete(message)))
        if not message.mine:
            items.append(("Report to the admins...", lambda: self.ask_report(message)))
        return items

    def person_items(self, nickname: str) -> MenuItems:
        """Return the moderation entries of a person's menu (none for ordinary members)."""
        app = self.app
        items: MenuItems = []
        rec = app.open_rec
        if self.admin and any(same_nickname(nickname, u) for u in app.users):
            items.append(("Kick and ban...", lambda: self.ask("Kick and ban", nickname, self.kick_ban, True)))
        if self.admin:
            items.append(("Ban from the chat...", lambda: self.ask("Ban", nickname, self.ban, True)))
        if is_room(rec) and self.may_moderate(rec):
            items.append((f"Ban from {rec}...", lambda: self.ask(f"Ban from {rec}", nickname,
                                                                lambda *a: self.room_ban(rec, *a))))
        if self.may_moderate(rec) and (is_room(rec) or rec == LOBBY):
            where = rec if is_room(rec) else "the lobby"
            items.append((f"Mute in {where}...", lambda: self.ask(f"Mute in {where}", nickname,
                                                                 lambda *a: self.mute(rec, *a), duration="10 minutes")))
            items.append((f"Unmute in {where}", lambda: self.unmute(rec, nickname)))
        return items

    # ---- moderation requests -------------------------------------------------------------------

    def ask(self, what: str, nickname: str, then: Callable[[str, int, str, bool], None], addresses: bool = False,
            duration: str = "1 hour") -> None:
        """Ask the moderation dialog's questions about ``nickname``, then call ``then`` with the answers."""
        self.dialog.ask(f"{what}: {nickname}", lambda seconds, reason, also: then(nickname, seconds, reason, also),
                        addresses, duration)

    @staticmethod
    def _duration(seconds: int) -> list[tuple[str, str]]:
        return [("duration", str(seconds))] if seconds else []  # none: for good

    def kick_ban(self, nickname: str, seconds: int, reason: str, addresses: bool) -> None:
        """``KICK,user=NICK;ban=1[;duration=S][;addresses=1],REASON``."""
        connection = self.app.connection
        if connection is None or not self.app.online:
            self.app.chat_view.warn("Not connected.")
            return
        connection.kick(nickname, reason, self._duration(seconds) + ([("addresses", "1")] if addresses else []))

    def ban(self, nickname: str, seconds: int, reason: str, addresses: bool) -> None:
        """``BAN,user=NICK[;duration=S][;addresses=1],REASON``."""
        params = [("user", nickname)] + self._duration(seconds) + ([("addresses", "1")] if addresses else [])
        self.app.request("BAN", params, reason)

    def room_ban(self, room: str, nickname: str, seconds: int, reason: str, _addresses: bool = False) -> None:
        """``BAN,room=#R;user=NICK[;duration=S],REASON``."""
        self.app.request("BAN", [("room", room), ("user", nickname)] + self._duration(seconds), reason)

    def mute(self, rec: str, nickname: str, seconds: int, reason: str, _addresses: bool = False) -> None:
        """``MUTE,room=R;user=NICK[;duration=S],REASON`` (R ``-ALL``: the lobby)."""
        self.app.request("MUTE", [("room", rec), ("user", nickname)] + self._duration(seconds), reason)

    def unmute(self, rec: str, nickname: str) -> None:
        """``UNMUTE,room=R;user=NICK,``."""
        self.app.request("UNMUTE", [("room", rec), ("user", nickname)])

    # ---- the bans list -------------------------------------------------------------------------

    def scopes(self) -> list[str]:
        """Return whose bans we may list: the server's (admins), then rooms we moderate."""
        rooms = [c.rec for c in self.app.conversations.ordered() if c.kind == "room" and self.may_moderate(c.rec)]
        return ([WHOLE_SERVER] if self.admin else []) + rooms

    def open_bans(self) -> None:
        """Show the bans of the open room (when we moderate it), else of the server."""
        scopes = self.scopes()
        if not scopes:
            self.app.chat_view.warn("Only admins and room operators see bans.")
            return
        rec = self.app.open_rec
        self.bans.open(scopes, rec if rec in scopes else scopes[0])

    def ask_bans(self, scope: str) -> None:
        """``BANS,,`` or ``BANS,room=#R,``."""
        self.bans.status.configure(text="Loading...")
        self.app.request("BANS", [] if scope == WHOLE_SERVER else [("room", scope)])

    def on_bans(self, event: BansListed) -> None:
        scope = event.bans.room or WHOLE_SERVER
        if self.bans.scope.get().casefold() == scope.casefold():
            self.bans.fill(event.bans.entries)

    def lift(self, ban_id: int) -> None:
        """``UNBAN,ban=ID,`` (a ban or a mute); the list is asked again when it is done."""
        self.app.request("UNBAN", [("ban", str(ban_id))])

    # ---- answers -----------------------------------------------------------------------------------

    def on_answer(self, event: RoomAnswer) -> None:
        """A moderation CONFIRM: say it was done, or why not."""
        app = self.app
        if not event.ok:
            if event.reason in ("BANS", "UNBAN") and self.bans.winfo_ismapped():
                self.bans.status.configure(text=event.text)
            app.chat_view.warn(event.text)
            return
        app.chat_view.warn("")
        if DONE.get(event.reason):
            app.chat_log.add_notice(DONE[event.reason])
        if event.reason == "UNBAN" and self.bans.winfo_ismapped():
            self.ask_bans(self.bans.scope.get())

    # ---- editing and deleting ---------------------------------------------------------------------

    def start_edit(self, message: ChatMessage) -> None:
        """Put our message's words in the composer: Enter saves them (EDIT), Escape gives the draft back."""
        assert message.id is not None
        view = self.app.chat_view
        if self.editing is None:
            self.editing = Edit(message.id, view.text())
        else:
            self.editing = Edit(message.id, self.editing.draft)
        view.set_text(message.text)
        view.to_label.configure(text="Editing:")
        view.warn("Editing your message: Enter saves it, Escape cancels.")
        view.entry.focus_set()

    def edit_last(self) -> bool:
        """Edit our newest message in the open conversation (Up in an empty composer); False: none."""
        for message in reversed(self.app.opened().messages):
            if message.mine and message.id is not None and self.app.rooms_server:
                if isinstance(message, FileMessage):
                    return False  # the newest is a file: nothing to edit
                self.start_edit(message)
                return True
        return False

    def cancel_edit(self) -> bool:
        """Give the composer its draft back; False when nothing was being edited."""
        if self.editing is None:
            return False
        draft, self.editing = self.editing.draft, None
        view = self.app.chat_view
        view.set_text(draft)
        view.show_open(self.app.opened())
        view.warn("")
        return True

    def send_edit(self, text: str) -> bool:
        """Send the composer's words as the edit (when editing); True when it was one."""
        if self.editing is None:
            return False
        connection = self.app.connection
        if connection is None or not self.app.online:
            self.app.chat_view.warn("Not connected: the message was not changed.")
            return True
        connection.edit(self.editing.id, text)
        self.cancel_edit()
        return True

    def ask_delete(self, message: ChatMessage) -> None:
        """Ask, then ``DELETE,id=N,``."""
        assert message.id is not None
        whose = "your message" if message.mine else f"this message of {message.sender}"
        self.app.chat_view.prompt.confirm(f"Delete {whose} for everyone?",
                                          lambda: self.delete(message.id or 0))

    def delete(self, message_id: int) -> None:
        """``DELETE,id=N,``."""
        self.app.request("DELETE", [("id", str(message_id))])

    def ask_report(self, message: ChatMessage) -> None:
        """Ask why, then ``REPORT,id=N,REASON``."""
        self.app.chat_view.prompt.ask(f"Report {message.sender}'s message to the admins. Why?",
                                      lambda reason, _flag: self.report(message.id or 0, reason))

    def report(self, message_id: int, reason: str) -> None:
        """``REPORT,id=N,REASON``."""
        self.app.request("REPORT", [("id", str(message_id))], reason)

    def on_edited(self, event: MessageEdited) -> None:
        """EDITED: the new words, marked "(edited)", where the message is held and shown."""
        app = self.app
        conversation = app.conversations.holding(event.id)
        if conversation is None:
            return
        message = conversation.edit(event.id, event.text, event.edited_ms)
        if message is not None and conversation is app.opened() and not app.chat_log.replace(message):
            app.redraw_keeping_place()

    def on_deleted(self, event: MessageDeleted) -> None:
        """DELETED: the message leaves its conversation and the log."""
        app = self.app
        if self.editing is not None and self.editing.id == event.id:
            self.cancel_edit()
        conversation = app.conversations.holding(event.id)
        if conversation is not None and conversation.remove(event.id) and conversation is app.opened():
            app.chat_log.remove(event.id)

    # ---- mutes --------------------------------------------------------------------------------------

    def on_muted(self, event: Muted) -> None:
        """We are muted in a conversation (a refused CHAT or EDIT, or the mute's INFO): say it there."""
        self.mutes[_key(event.room)] = event
        self.show_mute()

    def on_unmuted(self, event: Unmuted) -> None:
        self.mutes.pop(_key(event.room), None)
        self.show_mute()

    def show_mute(self) -> None:
        """Show the open conversation's mute notice while it lasts."""
        key = _key(self.app.open_rec)
        muted = self.mutes.get(key)
        if muted is not None and muted.until_ms and muted.until_ms <= time.time() * 1000:
            del self.mutes[key]
            muted = None
        self.app.chat_view.show_muted(mute_notice(muted) if muted else "")
        if self._mute_check is not None:
            self.app.root.after_cancel(self._mute_check)
            self._mute_check = None
        if muted is not None and muted.until_ms:
            wait = min(MUTE_CHECK_MS, max(50, int(muted.until_ms - time.time() * 1000)))
            self._mute_check = self.app.root.after(wait, self._recheck_mute)

    def _recheck_mute(self) -> None:
        self._mute_check = None
        self.show_mute()

    def close(self) -> None:
        """Cancel the timer (the window closes)."""
        if self._mute_check is not None:
            self.app.root.after_cancel(self._mute_check)
            self._mute_check = None

    # ---- search ------------------------------------------------------------------------------------

    def open_search(self) -> None:
        """Show the search window (Ctrl+F): everywhere, or the open conversation."""
        open_title = self.app.opened().title
        self.search_dialog.open([EVERYWHERE, f"Only {open_title}"], self.search_dialog.scope.current()
                                if self.search_dialog.winfo_ismapped() else 0)
        self._search_rec = self.app.open_rec

    _search_rec = LOBBY

    def search(self, query: str, scope: int) -> None:
        """``SEARCH[,rec=R];limit=N,QUERY``: the results replace those shown."""
        rec = self._search_rec if scope == 1 else None
        self._search = (query, rec)
        self.search_dialog.start(query)
        self._send_search(None)

    def more_results(self) -> None:
        """The page of results older than the last shown (``before=ID``)."""
        hits = self.search_dialog.hits
        self._send_search(hits[-1].id if hits else None)

    def _send_search(self, before: int | None) -> None:
        app = self.app
        if app.connection is None or not app.online or not app.rooms_server:
            self.search_dialog.done(False, "Not connected." if app.rooms_server else "This server has no search.",
                                    False)
            return
        query, rec = self._search
        app.connection.search(query, rec, before)

    def on_search_hit(self, message: ChatMessage) -> None:
        """One result (``CHATR ...;found=1``): listed in the search window, never filed in a conversation."""
        title = "Lobby" if message.conversation == LOBBY else message.conversation
        self.search_dialog.add(message, title)

    def on_search_done(self, event: SearchDone) -> None:
        self.search_dialog.done(event.ok, event.text, event.more)

    def jump(self, message: ChatMessage) -> None:
        """Open the result's conversation at it: the pages before and after it (HISTORY), then show it."""
        app = self.app
        if message.id is None or app.connection is None or not app.online:
            return
        self.search_dialog.hide()  # out of the way of the message; Ctrl+F shows the results again
        app.open_conversation(message.conversation)
        if app.chat_log.point_out(message.id):
            return  # already held and shown
        rec = app.opened().rec
        self._jump = (_key(rec), message.id)
        app.connection.history(rec, message.id + 1, JUMP_PAGE)
        app.connection.history(rec, None, JUMP_PAGE, after=message.id)

    def jumped(self, rec: str) -> bool:
        """An ``after`` page came for ``rec``: point out the message jumped to; False when none waits."""
        if self._jump is None or self._jump[0] != _key(rec):
            return False
        message_id = self._jump[1]
        self._jump = None
        self.app.chat_log.render(self.app.opened())
        self.app.chat_log.point_out(message_id)
        return True


def mute_notice(muted: Muted) -> str:
    """Return "You are muted [in #R] until LOCAL TIME: REASON" (or "for good")."""
    where = f" in {muted.room}" if is_room(muted.room) else ""
    until = f"until {local_time(muted.until_ms)}" if muted.until_ms else "for good"
    return f"You are muted{where} {until}" + (f": {muted.reason}" if muted.reason else "")


def _key(rec: str) -> str:
    return conversation_key(rec)
