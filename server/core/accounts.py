"""CON and UPDATE: logging in, renaming, passwords and registration. No I/O.

These handlers need answers from the database, the password hasher and the
hub, so each is a generator: it yields a request (an action of
``actions.py``) and is resumed with its result, or has its error raised
where it yielded. The core drives it; nothing here waits or touches a
socket.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generator, NamedTuple

from parley.protocol import Frame, messages, names, texts

from ..records import Account, AccountExists, StoreFailed
from . import moderation, rooms
from .actions import (
    Background,
    Broadcast,
    CheckPassword,
    Claim,
    CreateAccount,
    FindLookalike,
    HashPassword,
    LoadAccount,
    LoadAdmins,
    Rename,
    RenameAccount,
    SetPassword,
    StoreCall,
    UpgradePassword,
)
from .connection import Connection, Phase
from .presence import Claimed, OnlineUser

if TYPE_CHECKING:
    from .chat import ChatCore

log = logging.getLogger("parley.server")

Flow = Generator[Any, Any, Any]  # yields requests, is sent their results


class Held(NamedTuple):
    """A resume token kept in memory: whose it is. Good while its user is online (its grace included)."""

    ident: str
    account: Account | None


def on_con(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``CON,nickname=N;password=P;color=C,``: the original's login rules, in its order.

    Extensions: ``lists=changes`` (USERCHANGES), ``rooms=1`` (rooms and
    conversations), ``session=1`` (a resume token), ``token=T`` (log in with
    one instead of the password), ``remember=1`` (the token lasts days).
    """
    nickname, password, color = (frame.get(k) for k in ("nickname", "password", "color"))
    if nickname is None or password is None or color is None:
        core.send(conn, messages.conver(core.stamp(), texts.MISSING_CON_PARAMS))
        return
    conn.list_changes = frame.get("lists") == "changes"  # extension: USERCHANGES instead of whole lists
    conn.rooms = frame.get("rooms") == "1"
    token = frame.get("token") or None
    resumed: Held | None = None
    if token is not None:
        error, account, resumed = yield from _check_token(core, conn, nickname, token)
    else:
        error, account = yield from _check_login(core, conn, nickname, password)
    until: int | None = None
    if error is None:
        refusal = moderation.login_refusal(core, conn, account.ident if account else "",
                                           account.name if account else nickname,
                                           account is not None and account.is_admin)
        if refusal is not None:
            error, until = refusal
    if error is None and conn.admins_only and (account is None or not account.is_admin):
        log.warning("%s: login as %r refused: the server is full (only admins may log in)", conn.peer, nickname[:32])
        core.send(conn, messages.conver(core.stamp(), texts.SERVER_FULL))
        core.end(conn)
        return
    claimed, away = Claimed.TAKEN, 0
    if error is None:
        conn.account = account
        if resumed is not None and account is None:
            conn.guest_ident = resumed.ident  # the same guest: its private messages and rooms
        online = core.presence.lookup(nickname)
        conn.nickname = account.name if account else (online.nickname if resumed and online else nickname)
        # "An invalid color at CON was silently replaced with #FFFFFF."
        conn.color = color if names.is_color(color) else "#FFFFFF"
        # Proven to be the user (a password or a token): then it may be one more session of it.
        proven = account is not None or resumed is not None
        if account is not None:
            # Before the claim: once in the hub the session receives broadcasts, and nothing may reach it before
            # its CONVER (a user list due from someone's leaving did, while this call waited for the database).
            try:
                away = yield StoreCall("take_offline_count", (account.id,))
            except StoreFailed:
                pass  # logged where it failed; the messages are in the history all the same
        claimed = yield Claim(conn.online_user(), conn.session_kind(), attach=proven)
        if claimed is Claimed.TAKEN:
            error = texts.ALREADY_LOGGED_IN
        elif claimed is Claimed.UNAVAILABLE:
            error = texts.NICKNAMES_UNAVAILABLE
    if error is not None:
        log.info("%s: login as %r refused: %s", conn.peer, nickname[:32], error)
        conn.account, conn.nickname, conn.rooms = None, "", False
        core.send(conn, messages.conver(core.stamp(), error, until=until))
        return
    conn.online = True
    conn.move_to(Phase.CHATTING)
    if token is not None:
        conn.token_hash = token_hash(token)
        conn.token_stored = conn.token_hash not in core.tokens
    attached = claimed is Claimed.ATTACHED
    log.info("%s %s: %s as %s", conn.peer, conn.nickname, "another session" if attached else "joined", conn.role)
    files_url = core.config.files_url if conn.rooms and core.files_secret is not None else ""
    core.send(conn, messages.conver(core.stamp(), texts.OK, role=conn.role, away=away, files=files_url))
    if conn.rooms and token is None and frame.get("session") == "1":
        yield from _issue_token(core, conn, remember=frame.get("remember") == "1")
    joined = messages.info(core.stamp(), conn.nickname, texts.JOINED.format(nick=conn.nickname))
    if attached:
        core.ghosts.pop(conn.ident, None)  # back within its grace, or one more tab: nobody else is told
        core.send(conn, joined)
    else:
        core.emit(Broadcast(joined))
        core.user_changed(None, conn.nickname)
    if away:
        text = texts.AWAY_ONE if away == 1 else texts.AWAY_MANY.format(count=away)
        core.send(conn, messages.info(core.stamp(), conn.nickname, text))
    if account is not None:
        yield from _load_admins(core)
    if conn.list_changes:
        core.send_user_list(conn)  # the list its changes apply to
    if conn.rooms:
        yield from rooms.sync(core, conn)


def token_hash(token: str) -> str:
    """What is kept of a resume token: its SHA-256 (a token is 256 random bits: no slow hash needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _issue_token(core: "ChatCore", conn: Connection, remember: bool) -> Flow:
    """Give the session a resume token (SESSION): kept in the database for days when remembered, else in memory."""
    token = secrets.token_urlsafe(32)
    conn.token_hash = token_hash(token)
    expires = 0
    if remember and conn.account is not None:
        now_ms = core.stamp().ms
        expires = now_ms + int(core.config.session_days * 86_400_000)
        try:
            yield StoreCall("add_session", (conn.account.id, conn.token_hash, now_ms, expires, conn.host))
            conn.token_stored = True
        except StoreFailed:
            expires = 0  # logged where it failed; it resumes within the grace at least
    if not conn.token_stored:
        core.tokens[conn.token_hash] = Held(conn.ident, conn.account)
        share_token(core, conn)
    core.send(conn, messages.session(core.stamp(), token, expires))


def share_token(core: "ChatCore", conn: Connection) -> None:
    """Several nodes: an in-memory resume token is kept in the database too, so that a page that comes
    back through another node is still signed in (as long as its user is online somewhere)."""
    if core.config.clustered and conn.token_hash is not None and not conn.token_stored:
        account_id = conn.account.id if conn.account is not None else None
        core.emit(Background(StoreCall("hold_token", (conn.token_hash, conn.ident, account_id, core.stamp().ms))))


def _check_token(core: "ChatCore", conn: Connection, nickname: str, token: str) -> Flow:
    """Return (error text or None, the account or None, the in-memory token's holder or None)."""
    locked = core.address_lockout(conn.host)
    if locked:
        return texts.LOCKED_OUT.format(seconds=locked), None, None
    hashed = token_hash(token)
    held = core.tokens.get(hashed)
    if held is None and core.config.clustered:
        try:
            held = yield from _shared_token(core, hashed)
        except StoreFailed:
            return texts.LOGIN_FAILED, None, None
    if held is not None:
        user = core.presence.lookup_ident(held.ident)
        if user is None or names.name_key(user.nickname) != names.name_key(nickname):
            return _token_failed(core, conn, nickname)
        if held.account is None:
            return None, None, held
        try:
            account: Account | None = yield LoadAccount(user.nickname)
        except StoreFailed:
            return texts.LOGIN_FAILED, None, None
        if account is None or account.ident != held.ident:
            return _token_failed(core, conn, nickname)
        return None, account, held
    try:
        found = yield StoreCall("find_session", (hashed, core.stamp().ms))
    except StoreFailed:
        return texts.LOGIN_FAILED, None, None
    if found is None or names.name_key(found[1].name) != names.name_key(nickname):
        return _token_failed(core, conn, nickname)
    return None, found[1], None


def _shared_token(core: "ChatCore", hashed: str) -> Generator[Any, Any, Held | None]:
    """The holder of a resume token another node gave (None: no such token, or its user is offline)."""
    found: tuple[str, int | None] | None = yield StoreCall("find_held_token", (hashed,))
    if found is None:
        return None
    ident, account_id = found
    user = core.presence.lookup_ident(ident)
    if user is None:
        return None
    if account_id is None:
        return Held(ident, None)
    account: Account | None = yield LoadAccount(user.nickname)
    return Held(ident, account) if account is not None and account.id == account_id else None


def _token_failed(core: "ChatCore", conn: Connection, nickname: str) -> tuple[str, None, None]:
    core.login_failed(conn.host, nickname)  # a token is not guessable, but probing one costs as a password does
    return texts.SESSION_ENDED, None, None


def _load_admins(core: "ChatCore") -> Flow:
    """Refresh the admin accounts' names for user lists; on a database failure the last list stays."""
    try:
        core.admins = yield LoadAdmins()
    except StoreFailed:
        pass  # logged where it failed; nothing the client asked for depends on it


def _check_login(core: "ChatCore", conn: Connection, nickname: str, password: str) -> Flow:
    """Return (error text or None, the account logged into or None).

    Someone online under the nickname refuses it, as the original did, unless
    it is an account and the password is right: then this is one more session
    of it (a second tab, another device).
    """
    online = core.presence.lookup(nickname)
    if online is not None and not online.ident.startswith("a:"):
        return texts.ALREADY_LOGGED_IN, None
    # An address that guessed too much is refused on every name, registered
    # or not, before the database is asked: its answer tells nothing.
    locked = core.address_lockout(conn.host)
    if locked:
        return texts.LOCKED_OUT.format(seconds=locked), None
    try:
        account: Account | None = yield LoadAccount(nickname)
    except StoreFailed:
        return texts.LOGIN_FAILED, None
    if account is None and online is not None:
        return texts.ALREADY_LOGGED_IN, None
    if account is None:
        # A guest takes a new name: every rule, and no imitation of another's.
        error = (names.nickname_error(nickname) or core.reserved_error(nickname)
                 or _online_lookalike_error(core, conn, nickname))
        if error is None:
            try:
                if (yield FindLookalike(nickname)) is not None:
                    error = texts.LOOKS_LIKE
            except StoreFailed:
                error = texts.LOGIN_FAILED
        return error, None
    locked = core.lockout(conn.host, account.name)
    if locked:
        return texts.LOCKED_OUT.format(seconds=locked), None
    matches, upgraded = yield CheckPassword(password, account.password_hash)
    if not matches:
        core.login_failed(conn.host, account.name)
        return (texts.ALREADY_LOGGED_IN if online is not None else texts.REGISTERED_USER), None
    if upgraded is not None:
        # An old or weaker hash: stored anew, stronger, now that the password is known.
        try:
            yield UpgradePassword(account.id, account.password_hash, upgraded)
        except StoreFailed:  # logged where it failed; the login stands, the upgrade is tried at the next one
            pass
        else:
            account = replace(account, password_hash=upgraded)
            log.info("%s: %r's password hash upgraded", conn.peer, account.name)
    return None, account


def on_update(core: "ChatCore", conn: Connection, frame: Frame) -> Flow:
    """``UPDATE,nickname=N;color=C;password=P,``: every check first; on any error nothing changes."""
    # An empty value means "no change", as the customize screen sends it.
    new_nick = frame.get("nickname") or None
    color = frame.get("color") or None
    password = frame.get("password") or None
    old = conn.nickname
    error = _update_error(core, conn, new_nick, color, password)
    if error is None and password is not None:
        error = yield from _set_password(core, conn, password, new_nick)
    elif error is None and new_nick is not None:
        error = yield from _rename(core, conn, new_nick)
    if error is not None:
        core.send(conn, messages.confirm(core.stamp(), "UPDATE", error))
        return
    parts = []
    if new_nick is not None:
        conn.nickname = new_nick if conn.account is None else conn.account.name
        parts.append(texts.NAME_CHANGED.format(nick=conn.nickname))
    if color is not None:
        conn.color = color
        parts.append(texts.COLOR_CHANGED.format(color=color))
    core.send(conn, messages.confirm(core.stamp(), "UPDATE", texts.OK))
    if not parts:
        return
    log.info("%s %s: updated (%s)", conn.peer, old, "".join(parts).strip())
    text = texts.CHANGED_PREFIX.format(old=old) + "".join(parts)
    core.emit(Broadcast(messages.info(core.stamp(), conn.nickname, text)))
    if conn.nickname != old:
        core.user_changed(old, conn.nickname)
        for other in core.connections.values():  # its other sessions here
            if other is not conn and other.online and other.ident == conn.ident:
                other.nickname, other.account = conn.nickname, conn.account
        if conn.account is None:  # an account's rooms follow it in the database (rename_account)
            core.emit(Background(StoreCall("rename_member", (conn.ident, conn.nickname))))
    if conn.is_admin:
        yield from _load_admins(core)
    core.schedule_user_list()


def _update_error(core: "ChatCore", conn: Connection, new_nick: str | None, color: str | None,
                  password: str | None) -> str | None:
    """The CONFIRM error text for an UPDATE that cannot be done, or None."""
    if new_nick is not None and new_nick != conn.nickname:
        # Every rule, even for a new spelling of the same name ("a rename whose
        # folded form equals the current one skips every rule" was issue 12).
        # Only the name held exactly, which may predate a rule, is exempt.
        if (names.name_key(new_nick) != names.name_key(conn.nickname)
                and core.presence.lookup(new_nick) is not None):
            return texts.UPDATE_NAME_ERROR.format(error=texts.ALREADY_LOGGED_IN)
        error = names.nickname_error(new_nick) or _online_lookalike_error(core, conn, new_nick)
        if error is not None:
            return texts.UPDATE_NAME_ERROR.format(error=error)
    if color is not None and not names.is_color(color):
        return texts.UPDATE_BAD_COLOR
    if password is not None:
        if len(password) < core.config.min_password:
            return texts.UPDATE_PASSWORD_TOO_SHORT.format(minimum=core.config.min_password)
        if conn.account is None and core.config.registration != "open":
            return texts.UPDATE_REGISTRATION_CLOSED
        if conn.account is None and (wait := core.creation_wait(conn.host)):
            return texts.UPDATE_TOO_MANY_ACCOUNTS.format(minutes=math.ceil(wait / 60))
        if core.hashing_full(conn.host):
            return texts.UPDATE_HASHING_BUSY
    return None


def _online_lookalike_error(core: ChatCore, conn: Connection, nickname: str) -> str | None:
    """LOOKS_LIKE when ``nickname`` imitates the name of someone else online, else None."""
    others = [user for user in core.presence.lookalikes(nickname) if user.ident != conn.ident]
    return texts.LOOKS_LIKE if others else None


def _rename(core: "ChatCore", conn: Connection, new_nick: str) -> Flow:
    """Move the user (and its account, if any) to ``new_nick``; return an error text or None."""
    own_id = conn.account.id if conn.account is not None else None
    if names.name_key(new_nick) != names.name_key(conn.nickname):
        # Whether a name is registered is what a guesser needs first: asking
        # costs a failure, and an address that guessed too much learns nothing.
        locked = core.address_lockout(conn.host)
        if locked:
            return texts.UPDATE_LOCKED_OUT.format(seconds=locked)
        try:
            existing: Account | None = yield LoadAccount(new_nick)
        except StoreFailed:
            return texts.UPDATE_FAILED
        if existing is not None and existing.id != own_id:
            core.login_failed(conn.host, existing.name)
            return texts.UPDATE_NAME_ERROR.format(error=texts.REGISTERED_USER)
    if new_nick != conn.nickname:
        # After the accounts (as at CON): someone's account named so is "a registered user".
        reserved = core.reserved_error(new_nick)
        if reserved is not None:
            return texts.UPDATE_NAME_ERROR.format(error=reserved)
        try:
            if (yield FindLookalike(new_nick, own_id)) is not None:
                return texts.UPDATE_NAME_ERROR.format(error=texts.LOOKS_LIKE)
        except StoreFailed:
            return texts.UPDATE_FAILED
    old_user = conn.online_user()
    if not (yield Rename(OnlineUser(new_nick, conn.ident, conn.is_admin))):
        return texts.UPDATE_NAME_ERROR.format(error=texts.ALREADY_LOGGED_IN)
    if conn.account is not None:
        try:
            yield RenameAccount(conn.account.id, new_nick)
        except (AccountExists, StoreFailed) as error:
            yield Rename(old_user)
            if isinstance(error, StoreFailed):
                return texts.UPDATE_FAILED
            return texts.UPDATE_NAME_ERROR.format(error=texts.REGISTERED_USER)
        conn.account = replace(conn.account, name=new_nick)
    return None


def _undo_rename(conn: Connection, old_user: OnlineUser, old_account: Account | None) -> Flow:
    """Put the user (and its account) back under its old name after a later step of an UPDATE failed."""
    if old_account is not None and conn.account is not None and conn.account.name != old_account.name:
        try:
            yield RenameAccount(old_account.id, old_account.name)
            conn.account = old_account
        except (AccountExists, StoreFailed):
            return  # the account keeps its new name, and so does the user
    if (yield Rename(old_user)):  # someone may have taken the old name meanwhile: then the new one stays
        conn.nickname = old_user.nickname


def _set_password(core: "ChatCore", conn: Connection, password: str, new_nick: str | None) -> Flow:
    """Rename first if asked, then change the password or register the guest; return an error text or None.

    If the password cannot be stored, a rename it came with is undone: on any error nothing changes.
    """
    old_user, old_account = conn.online_user(), conn.account
    if new_nick is not None:
        error = yield from _rename(core, conn, new_nick)
        if error is not None:
            return error
        conn.nickname = new_nick
    error = yield from _store_password(core, conn, password)
    if error is not None and new_nick is not None:
        yield from _undo_rename(conn, old_user, old_account)
    return error


def _store_password(core: "ChatCore", conn: Connection, password: str) -> Flow:
    """Change the account's password, or register the guest under its nickname; return an error text or None."""
    core.hashing_started(conn.host)
    try:
        if conn.account is None:
            core.account_creation_started(conn.host)
        password_hash: str = yield HashPassword(password)
    finally:  # also when the connection ends while it waits
        core.hashing_ended(conn.host)
    if conn.account is not None:
        try:
            yield SetPassword(conn.account.id, password_hash)
        except StoreFailed:
            return texts.UPDATE_FAILED
        conn.account = replace(conn.account, password_hash=password_hash)
        # Every other resume token of the account is revoked: a changed password logs out the rest.
        keep = conn.token_hash
        core.emit(Background(StoreCall("revoke_sessions", (conn.account.id, keep if conn.token_stored else None))))
        core.forget_tokens(conn.ident, keep=keep)
        log.info("%s %s: password changed", conn.peer, conn.nickname)
        return None
    # A look-alike may have been registered since the guest took its name.
    try:
        if (yield FindLookalike(conn.nickname)) is not None:
            return texts.UPDATE_NAME_ERROR.format(error=texts.LOOKS_LIKE)
    except StoreFailed:
        return texts.UPDATE_FAILED
    try:
        account: Account = yield CreateAccount(conn.nickname, "member", password_hash, adopt=conn.guest_ident)
    except AccountExists:
        return texts.UPDATE_NAME_ERROR.format(error=texts.REGISTERED_USER)
    except StoreFailed:
        return texts.UPDATE_FAILED
    guest_ident = conn.ident
    conn.account = account
    yield Rename(conn.online_user())
    for hashed, held in list(core.tokens.items()):  # its resume tokens are the account's now
        if held.ident == guest_ident:
            core.tokens[hashed] = Held(account.ident, account)
    share_token(core, conn)  # the database's copy names the account now
    log.info("%s %s: registered as a member", conn.peer, conn.nickname)
    return None
