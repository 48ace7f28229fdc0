// The page's entry: wires the chat session (client.js) and its
// conversations (conversations.js) to the DOM (render.js, convview.js).
//
// - The composer always writes to the open conversation; each
//   conversation keeps its own draft (in localStorage, so a reload keeps a
//   private draft in its private conversation).
// - READ goes out as the user sees messages: the open conversation, the tab
//   visible, the log at the bottom.
// - A resume token (SESSION) logs the next load in without the join form.

import { ChatClient, socketUrl } from "./client.js";
import { Drafts, dayLabel, dayOf } from "./conversations.js";
import { chatItem, convItem, daySeparator, historyStart, memberItem, newDivider, roomItem } from "./convview.js";
import * as P from "./protocol.js";
import { EVERYONE, MAX_FRAME_BYTES, chatBytes, isRoom, nicknameError, sameNick, safeColor } from "./protocol.js";
import { noticeItem, paintSender, regroup, regroupAll, userItem } from "./render.js";
import { Unread } from "./state.js";
import { SESSION_ENDED, UPDATE_NAME_ERROR } from "./texts.js";

const $ = (id) => document.getElementById(id);
const STORE_NICK = "parley.nickname";
const STORE_COLOR = "parley.color";
const STORE_TOKEN = "parley.token";
const STORE_OPEN = "parley.open";
const NEAR_BOTTOM_PX = 80;
const NEAR_TOP_PX = 60;

const client = new ChatClient({ url: socketUrl(location.href) });
const unread = new Unread(document.title || "Parley");
const drafts = new Drafts(storage());
let users = { online: [], admins: [] };
let countdown = null;
let kickTarget = "";
let notificationsOn = false;
let resuming = null; // logging in with a stored token ({nickname, color, remember, guest}): no join form meanwhile
let wantedOpen = ""; // the conversation open before the reload, until it is listed
let shownKey = null; // the conversation the log shows
let shownRec = null; // ... and its name, whose draft the composer holds
let dividerAfter = null; // the read marker when the open conversation was opened
let convForm = null; // {action, user} of the header's small form
let opening = false; // inside openConversation
let firstPage = false; // the open conversation's newest page is on its way: show it at the divider or the end

// ---- small helpers ----

function storage() {
  try {
    return localStorage;
  } catch {
    return null; // disabled (private mode, policy): drafts last for the page's life
  }
}

function remember(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // Storage may be disabled (private mode, policy): prefilling is a nicety.
  }
}

function recall(key) {
  try {
    return localStorage.getItem(key) ?? "";
  } catch {
    return "";
  }
}

function showText(node, text) {
  node.textContent = text;
  node.hidden = !text;
}

function toHex6(color) {
  const c = safeColor(color, "#3366cc").toLowerCase();
  return c.length === 4 ? `#${c[1]}${c[1]}${c[2]}${c[2]}${c[3]}${c[3]}` : c;
}

const openConv = () => client.convs.open;

// ---- the message log of the open conversation ----

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
}

function scrollToEnd() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

/** The DOM item of one log entry. */
function itemNode(item) {
  const node = item.type === "msg" ? chatItem(item.event) : noticeItem(item.notice);
  if (item.type === "line") node.dataset.line = "";
  return node;
}

/** The whole log of the open conversation: date separators, the divider, every item. */
function renderLog() {
  const conv = openConv();
  const nodes = [];
  const firstNew = dividerAfter === null ? null : conv.firstUnreadId(dividerAfter);
  let day = "";
  if (conv.history === "loaded" && !conv.more) nodes.push(historyStart());
  for (const item of conv.items) {
    const itemDay = dayOf(item.ts);
    if (itemDay && itemDay !== day) {
      nodes.push(daySeparator(dayLabel(item.ts)));
      day = itemDay;
    }
    if (firstNew !== null && item.id === firstNew) nodes.push(newDivider());
    nodes.push(itemNode(item));
  }
  $("messages").replaceChildren(...nodes);
  regroupAll($("messages"));
}

/** The last item added at the end of the open log: appended, with a date separator if a new day. */
function appendLast(conv) {
  const list = $("messages");
  const stick = nearBottom(list);
  const item = conv.items.at(-1);
  const before = conv.items.findLast((other) => other !== item && dayOf(other.ts));
  if (dayOf(item.ts) && dayOf(item.ts) !== dayOf(before?.ts ?? null)) list.append(daySeparator(dayLabel(item.ts)));
  const node = itemNode(item);
  list.append(node);
  regroup(node);
  if (stick || (item.type === "msg" && item.own && item.event.live)) scrollToEnd();
}

/** An item was put at `index` of `conv`: shown at once when `conv` is open and not loading. */
function placed(conv, index) {
  if (conv.key !== shownKey || conv.history === "loading") return;
  if (index === conv.items.length - 1) appendLast(conv);
  else keepingPosition(renderLog);
  afterScroll();
}

/** Re-render without moving what the reader sees (older items come in above). */
function keepingPosition(render) {
  const list = $("messages");
  const fromBottom = list.scrollHeight - list.scrollTop;
  render();
  list.scrollTop = list.scrollHeight - fromBottom;
}

function onChat(event) {
  placed(event.conv, event.index);
  if (event.live && !event.own) attention(event);
}

function onNotice(notice) {
  placed(notice.conv, notice.index);
}

function onHistory({ conv }) {
  if (conv.key !== shownKey) return;
  const list = $("messages");
  if (firstPage) {
    firstPage = conv.history === "none"; // refused for now: the retry's page is still the first
    renderLog();
    const divider = list.querySelector(".new-divider");
    if (divider) divider.scrollIntoView({ block: "start" });
    else scrollToEnd();
  } else keepingPosition(renderLog);
  // A page too short to scroll cannot be scrolled up: ask for more at once.
  if (list.scrollHeight <= list.clientHeight && conv.more) client.loadOlder(conv);
  afterScroll();
}

/** Senders' colors were made readable on the old theme's background: redo them. */
function recolor() {
  for (const sender of document.querySelectorAll("#messages .sender")) paintSender(sender);
}

/** After any scroll or change: older history near the top, "Jump to latest", READ at the bottom. */
function afterScroll() {
  const list = $("messages");
  const conv = openConv();
  if (list.scrollTop < NEAR_TOP_PX && list.scrollHeight > list.clientHeight) client.loadOlder(conv);
  const atBottom = nearBottom(list);
  $("jump-latest").hidden = atBottom;
  if (atBottom && !document.hidden && conv.history === "loaded") client.markRead(conv);
}

// ---- conversations: sidebar, header, opening ----

function renderSidebar() {
  const open = client.convs.openKey;
  const items = client.convs.list().map((conv) => convItem(conv, conv.key === open));
  $("conv-list").replaceChildren(...items);
  const total = client.convs.list().reduce((sum, conv) => sum + conv.unread, 0);
  showText($("convs-toggle-count"), total ? String(total) : "");
}

function renderHeader() {
  const conv = openConv();
  $("conv-title").textContent = conv.title;
  // A private conversation's header says whether the other party is online (from the lobby's list).
  const presence = users.online.some((n) => sameNick(n, conv.rec)) ? "online" : "offline";
  showText($("conv-topic"), conv.kind === "private" ? presence : conv.topic);
  const room = conv.kind === "room";
  const op = room && (conv.op || client.isAdmin());
  $("part-room").hidden = !room;
  $("topic-open").hidden = !op;
  $("invite-open").hidden = !op;
  if (!op && convForm) showConvForm(null);
}

/** Open conversation `rec`: its draft in the composer, its log, its members. */
function openConversation(rec, { focus = true } = {}) {
  saveDraft();
  wantedOpen = "";
  opening = true;
  const conv = client.openConversation(rec);
  opening = false;
  firstPage = conv.history === "loading";
  remember(STORE_OPEN, conv.rec);
  shownKey = conv.key;
  shownRec = conv.rec;
  dividerAfter = conv.unread > 0 ? conv.read : null;
  $("message-input").value = drafts.get(conv.rec);
  showConvForm(null);
  checkLength();
  renderHeader();
  renderSidebar();
  renderUsers();
  renderLog();
  if ($("messages").querySelector(".new-divider")) $("messages").querySelector(".new-divider").scrollIntoView();
  else scrollToEnd();
  afterScroll();
  if (!focus) return; // opened by the page itself (a reload, a room left): the drawers stay as they are
  showSidebar(false);
  $("message-input").focus();
}

function onConvs() {
  if (opening) return;
  const open = openConv();
  if (wantedOpen && client.convs.get(wantedOpen)) {
    openConversation(wantedOpen, { focus: false });
    return;
  }
  if (open.key !== shownKey && client.online) {
    openConversation(open.rec, { focus: false }); // ours was dropped (left, removed)
    return;
  }
  // Just logged in: the CONV of the open conversation came after it opened.
  if (firstPage && dividerAfter === null && open.unread > 0) dividerAfter = open.read;
  renderSidebar();
  renderHeader();
}

function onConvClick(event) {
  const button = event.target.closest("button.conv-open");
  if (button) openConversation(button.dataset.rec);
}

/** The conversations' drawer on phones (one drawer open at a time). */
function showSidebar(open) {
  if (open) showUsersPanel(false);
  document.body.classList.toggle("sidebar-open", open);
  $("convs-toggle").setAttribute("aria-expanded", String(open));
}

// ---- rooms: create, browse, join, leave, topic, invite, members ----

/** "#name" from what was typed, with or without its "#". */
function roomName(typed) {
  const name = typed.trim();
  return name.startsWith("#") ? name : `#${name}`;
}

function showCreate(open) {
  $("create-form").hidden = !open;
  showText($("create-error"), "");
  if (open) {
    $("browse-panel").hidden = true;
    $("create-name").value = "";
    $("create-topic").value = "";
    $("create-private").checked = false;
    $("create-name").focus();
  }
}

function onCreateSubmit(event) {
  event.preventDefault();
  const typed = $("create-name").value.trim();
  if (!typed || typed === "#") {
    showText($("create-error"), "Please name the room.");
    $("create-name").focus();
    return;
  }
  const room = roomName(typed);
  const problem = P.roomNameError(room.slice(1));
  if (problem) {
    showText($("create-error"), problem);
    $("create-name").focus();
    return;
  }
  client.ask(P.createRoom(room, $("create-topic").value.trim(), $("create-private").checked));
}

function showBrowse(open) {
  $("browse-panel").hidden = !open;
  showText($("browse-error"), "");
  if (open) {
    $("create-form").hidden = true;
    $("room-list").replaceChildren();
    client.ask(P.listRooms());
    $("browse-close").focus();
  }
}

function onRooms({ rooms }) {
  const items = rooms.map((r) => roomItem(r, client.convs.get(r.name) !== null));
  $("room-list").replaceChildren(...items);
  $("browse-empty").hidden = rooms.length > 0;
}

function onRoomListClick(event) {
  const button = event.target.closest("button.room-join, button.room-joined");
  if (!button) return;
  if (button.classList.contains("room-joined")) {
    showBrowse(false);
    openConversation(button.dataset.room);
  } else client.ask(P.joinRoom(button.dataset.room));
}

const CONV_FORMS = {
  topic: { label: "New topic", submit: "Set topic", input: "", send: (room, text) => P.setTopic(room, text) },
  invite: { label: "Invite (nickname)", submit: "Invite", input: "", send: (room, text) => P.inviteMember(room, text.trim()) },
  remove: { label: "Reason for removing", submit: "Remove", input: "", send: (room, text, user) => P.removeMember(room, user, text.trim()) },
};

/** The header's small form for `action` (topic, invite, remove) or none. */
function showConvForm(action, user = "") {
  convForm = action ? { action, user } : null;
  $("conv-form").hidden = !action;
  showText($("conv-form-error"), "");
  if (!action) return;
  const form = CONV_FORMS[action];
  $("conv-form-label").textContent = user ? `${form.label} ${user}` : form.label;
  $("conv-form-submit").textContent = form.submit;
  $("conv-form-input").value = action === "topic" ? openConv().topic : "";
  $("conv-form-input").focus();
}

function onConvFormSubmit(event) {
  event.preventDefault();
  if (!convForm) return;
  const text = $("conv-form-input").value;
  if (convForm.action === "invite" && !text.trim()) {
    showText($("conv-form-error"), "Please give a nickname.");
    return;
  }
  client.ask(CONV_FORMS[convForm.action].send(openConv().rec, text, convForm.user));
}

function onMemberTools(event) {
  const remove = event.target.closest("button.member-remove");
  if (remove) showConvForm("remove", remove.dataset.nick);
  const op = event.target.closest("button.member-op");
  if (op) client.ask(P.setOperator(openConv().rec, op.dataset.nick, op.dataset.op === "1"));
}

/** CONFIRM of a room reason: forms close on OK, show their error otherwise. */
function onAnswer({ reason, room, ok, text }) {
  if (reason === "CREATE") {
    if (ok) {
      showCreate(false);
      openConversation(room);
    } else showText($("create-error"), text);
  } else if (reason === "JOIN") {
    if (ok) {
      showBrowse(false);
      openConversation(room);
    } else if (!$("browse-panel").hidden) showText($("browse-error"), text);
    else client.note("error", text);
  } else if (["TOPIC", "INVITE", "REMOVE"].includes(reason) && convForm) {
    if (ok) showConvForm(null);
    else showText($("conv-form-error"), text);
  } else if (!ok) client.note("error", text);
}

// ---- attention: unread count in the title, desktop notifications ----

function attention({ message, toMe, mention }) {
  if (document.hidden) {
    unread.add();
    document.title = unread.title;
  }
  if (notificationsOn && (toMe || mention) && (document.hidden || !document.hasFocus())) {
    const title = toMe ? `Private message from ${message.sender}` : `${message.sender} mentioned you`;
    try {
      new Notification(title, { body: message.text.slice(0, 200), tag: "parley" });
    } catch {
      // Some platforms (Android Chrome) allow notifications only from a service worker.
    }
  }
}

function onVisibility() {
  if (!document.hidden) {
    unread.clear();
    document.title = unread.title;
    afterScroll();
  }
}

function setupNotifications() {
  const button = $("notify-button");
  if (!("Notification" in window)) return;
  const refresh = () => {
    notificationsOn = Notification.permission === "granted";
    button.textContent = notificationsOn ? "Notifying" : "Notify me";
    button.disabled = notificationsOn || Notification.permission === "denied";
    button.hidden = false;
  };
  button.addEventListener("click", async () => {
    await Notification.requestPermission();
    refresh();
  });
  refresh();
}

// ---- connection state ----

function renderStatus() {
  const { state, reason, retryAt } = client.status;
  const node = $("status");
  const name = client.nickname;
  let text;
  if (state === "online") text = `Online as ${name}`;
  else if (state === "connecting") text = "Connecting…";
  else if (state === "reconnecting") {
    const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    text = `Reconnecting in ${seconds} s`;
  } else text = "Offline";
  if (reason && state !== "online" && state !== "connecting") text += ` — ${reason}`;
  node.dataset.state = state;
  node.textContent = text;
}

function onStatus({ state }) {
  clearInterval(countdown);
  countdown = state === "reconnecting" ? setInterval(renderStatus, 1000) : null;
  renderStatus();
  const connecting = state === "connecting" && (client.wantOnline || resuming);
  const inSession = state === "online" || state === "reconnecting" || connecting;
  document.body.dataset.session = inSession ? "in" : "out";
  document.body.dataset.state = state;
  $("composer-fields").disabled = state !== "online";
  for (const id of ["leave", "settings-toggle"]) $(id).hidden = !inSession;
  $("login-panel").hidden = inSession;
  if (!inSession) showSettings(false);
}

// ---- login and sessions ----

function onLoginSubmit(event) {
  event.preventDefault();
  const nickname = $("login-nickname").value.trim();
  if (!nickname) {
    showText($("login-error"), "Please choose a nickname.");
    $("login-nickname").focus();
    return;
  }
  showText($("login-error"), "");
  showText($("login-notice"), "");
  const color = toHex6($("login-color").value);
  remember(STORE_NICK, nickname);
  remember(STORE_COLOR, color);
  client.login({ nickname, password: $("login-password").value, color, remember: $("login-remember").checked });
}

function onLoginError({ text }) {
  // "a guest client may retry plainly with its nickname" (its grace is over).
  if (resuming && resuming.guest && text === SESSION_ENDED) {
    const { nickname, color, remember: keep } = resuming;
    resuming = { guest: false };
    client.login({ nickname, password: "", color, remember: keep });
    return;
  }
  if (resuming) {
    resuming = null;
    onStatus(client.status);
  }
  showText($("login-error"), text);
  $("login-nickname").focus();
}

function onLoggedIn({ first }) {
  resuming = null;
  $("login-password").value = "";
  $("chat-panel").hidden = false;
  $("set-color").value = toHex6(client.credentials.color);
  if (!first) return;
  shownKey = shownRec = null;
  const last = recall(STORE_OPEN) || EVERYONE;
  // A room comes back with its CONV (just after this); a private conversation or the lobby opens now.
  openConversation(isRoom(last) ? EVERYONE : last);
  if (isRoom(last)) wantedOpen = last;
}

/** The resume token: kept across reloads when "Stay signed in", else for this tab only. */
function onSession({ token }) {
  if (!token) {
    forgetSession();
    return;
  }
  const keep = client.credentials?.remember;
  const nickname = client.credentials?.nickname ?? client.nickname;
  const value = JSON.stringify({ nickname, token, guest: client.role === "guest" });
  try {
    (keep ? localStorage : sessionStorage).setItem(STORE_TOKEN, value);
    (keep ? sessionStorage : localStorage).removeItem(STORE_TOKEN);
  } catch {
    // Storage disabled: the next load shows the join form.
  }
}

function storedSession() {
  for (const get of [() => sessionStorage, () => localStorage]) {
    try {
      const saved = JSON.parse(get().getItem(STORE_TOKEN) ?? "null");
      if (saved && typeof saved.token === "string" && typeof saved.nickname === "string") {
        return { ...saved, remember: get() === localStorage };
      }
    } catch {
      // unreadable: as if none
    }
  }
  return null;
}

function forgetSession() {
  for (const get of [() => sessionStorage, () => localStorage]) {
    try {
      get().removeItem(STORE_TOKEN);
    } catch {
      // nothing kept
    }
  }
}

/** After Leave, a kick or a flood disconnect: the session's token, lists and conversations go. */
function onEnded({ why, text }) {
  forgetSession();
  showText($("login-notice"), text);
  $("chat-panel").hidden = true;
  $("messages").replaceChildren();
  $("conv-list").replaceChildren();
  shownKey = shownRec = null;
  wantedOpen = "";
  if (why === "left") {
    drafts.clear();
    remember(STORE_OPEN, "");
    $("login-submit").focus();
  }
}

function onIdentity({ nickname }) {
  remember(STORE_NICK, nickname);
  $("login-nickname").value = nickname;
  renderStatus();
  renderUsers();
}

// ---- users: everyone online, or the open room's members ----

function renderUsers() {
  const conv = openConv();
  const me = client.nickname;
  const online = users.online;
  let items;
  if (conv.kind === "room" && conv.members !== null) {
    const manage = conv.op || client.isAdmin();
    items = conv.members.map((m) =>
      memberItem(m, { me: sameNick(m.nick, me), online: online.some((n) => sameNick(n, m.nick)), manage }));
    $("users-heading").textContent = "Members";
  } else {
    items = online.map((name) =>
      userItem(name, {
        me: sameNick(name, me),
        admin: users.admins.some((a) => sameNick(a, name)),
        canKick: client.isAdmin(),
      }));
    $("users-heading").textContent = "Online";
  }
  $("user-list").replaceChildren(...items);
  $("online-count").textContent = String(items.length);
  $("users-toggle-count").textContent = String(items.length);
  if (kickTarget && !online.some((n) => sameNick(n, kickTarget))) showKick("");
}

function onUsers(list) {
  users = list;
  renderUsers();
  renderHeader();
}

function onMembers({ conv }) {
  if (conv.key === shownKey) renderUsers();
}

/** A name clicked: its private conversation opens (never one with ourselves). */
function onNameClick(event) {
  const kick = event.target.closest("button.kick");
  if (kick) {
    showKick(kick.dataset.nick);
    return;
  }
  onMemberTools(event);
  const pick = event.target.closest("button.user-name, button.sender");
  if (!pick) return;
  showUsersPanel(false);
  if (sameNick(pick.dataset.nick, client.nickname)) $("message-input").focus();
  else openConversation(pick.dataset.nick);
}

function showUsersPanel(open) {
  if (open && document.body.classList.contains("sidebar-open")) showSidebar(false);
  document.body.classList.toggle("users-open", open);
  $("users-toggle").setAttribute("aria-expanded", String(open));
}

// ---- kick (admins) ----

function showKick(name) {
  kickTarget = name;
  $("kick-form").hidden = !name;
  $("kick-title").textContent = name ? `Kick ${name}` : "";
  $("kick-reason").value = "";
  if (name) $("kick-reason").focus();
}

function onKickSubmit(event) {
  event.preventDefault();
  const reason = $("kick-reason").value.trim() || "No reason given";
  if (kickTarget && client.kick(kickTarget, reason)) showKick("");
}

// ---- composer: writes to the open conversation, Enter sends, Shift+Enter breaks the line ----

/** The composer's text is the draft of the conversation shown (not of one the page moved to meanwhile). */
function saveDraft() {
  if (shownRec !== null) drafts.set(shownRec, $("message-input").value);
}

function checkLength() {
  const bytes = chatBytes(openConv().rec, $("message-input").value);
  const tooLong = bytes > MAX_FRAME_BYTES;
  showText($("composer-warning"), tooLong ? `Too long: ${bytes} of ${MAX_FRAME_BYTES} bytes. Please shorten it.` : "");
  $("send").disabled = tooLong;
  return !tooLong;
}

function onComposerInput() {
  checkLength();
  saveDraft();
}

function onComposerKey(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
}

function onComposerSubmit(event) {
  event.preventDefault();
  const input = $("message-input");
  const text = input.value;
  if (!text.trim() || !checkLength()) {
    input.focus();
    return;
  }
  const rec = openConv().rec;
  const problem = client.sendChat(rec, text);
  if (problem) showText($("composer-warning"), problem);
  else {
    input.value = "";
    drafts.set(rec, "");
    scrollToEnd();
  }
  input.focus();
}

// ---- settings ----

function showSettings(open) {
  $("settings-panel").hidden = !open;
  $("settings-toggle").setAttribute("aria-expanded", String(open));
  if (open) {
    $("set-nickname").value = "";
    $("set-password").value = "";
    $("set-color").value = toHex6(client.credentials?.color);
    showText($("settings-result"), "");
    $("set-nickname").focus();
  }
}

function onSettingsSubmit(event) {
  event.preventDefault();
  const nickname = $("set-nickname").value.trim();
  const color = toHex6($("set-color").value);
  const changes = {
    nickname: nickname && nickname !== client.nickname ? nickname : "",
    color: color !== toHex6(client.credentials?.color) ? color : "",
    password: $("set-password").value,
  };
  // The server's own rule and words, without the round trip (it checks again).
  const problem = changes.nickname ? nicknameError(changes.nickname) : null;
  if (problem) {
    showText($("settings-result"), UPDATE_NAME_ERROR.replace("{error}", problem).trim());
    $("settings-result").dataset.ok = "false";
    $("set-nickname").focus();
    return;
  }
  const sent = client.update(changes);
  showText($("settings-result"), sent ? "Saving…" : "Nothing to change.");
  $("settings-result").dataset.ok = "";
}

function onUpdateResult({ ok, text }) {
  const result = $("settings-result");
  showText(result, ok ? "Saved." : text.trim());
  result.dataset.ok = String(ok);
  if (ok) {
    $("set-password").value = "";
    $("set-nickname").value = "";
    remember(STORE_COLOR, toHex6(client.credentials.color));
    $("login-color").value = toHex6(client.credentials.color);
  }
}

// ---- start ----

function wire() {
  $("login-form").addEventListener("submit", onLoginSubmit);
  $("composer").addEventListener("submit", onComposerSubmit);
  $("message-input").addEventListener("input", onComposerInput);
  $("message-input").addEventListener("keydown", onComposerKey);
  $("messages").addEventListener("click", onNameClick);
  $("messages").addEventListener("scroll", afterScroll, { passive: true });
  $("jump-latest").addEventListener("click", () => {
    scrollToEnd();
    afterScroll();
    $("message-input").focus();
  });
  $("user-list").addEventListener("click", onNameClick);
  $("conv-list").addEventListener("click", onConvClick);
  $("create-open").addEventListener("click", () => showCreate(true));
  $("create-cancel").addEventListener("click", () => showCreate(false));
  $("create-form").addEventListener("submit", onCreateSubmit);
  $("browse-open").addEventListener("click", () => showBrowse(true));
  $("browse-close").addEventListener("click", () => showBrowse(false));
  $("room-list").addEventListener("click", onRoomListClick);
  $("part-room").addEventListener("click", () => client.ask(P.partRoom(openConv().rec)));
  $("topic-open").addEventListener("click", () => showConvForm("topic"));
  $("invite-open").addEventListener("click", () => showConvForm("invite"));
  $("conv-form").addEventListener("submit", onConvFormSubmit);
  $("conv-form-cancel").addEventListener("click", () => showConvForm(null));
  $("kick-form").addEventListener("submit", onKickSubmit);
  $("kick-cancel").addEventListener("click", () => showKick(""));
  $("leave").addEventListener("click", () => client.leave());
  $("settings-toggle").addEventListener("click", () => showSettings($("settings-panel").hidden));
  $("settings-close").addEventListener("click", () => showSettings(false));
  $("settings-form").addEventListener("submit", onSettingsSubmit);
  $("users-toggle").addEventListener("click", () =>
    showUsersPanel(!document.body.classList.contains("users-open")));
  $("convs-toggle").addEventListener("click", () =>
    showSidebar(!document.body.classList.contains("sidebar-open")));
  document.addEventListener("visibilitychange", onVisibility);
  addEventListener("pagehide", () => client.sendReads()); // a reload must not lose what was read
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", recolor);
  client
    .on("status", onStatus)
    .on("login-error", onLoginError)
    .on("logged-in", onLoggedIn)
    .on("identity", onIdentity)
    .on("chat", onChat)
    .on("users", onUsers)
    .on("notice", onNotice)
    .on("update-result", onUpdateResult)
    .on("ended", onEnded)
    .on("convs", onConvs)
    .on("history", onHistory)
    .on("members", onMembers)
    .on("rooms", onRooms)
    .on("answer", onAnswer)
    .on("session", onSession);
}

function start() {
  wire();
  setupNotifications();
  $("login-nickname").value = recall(STORE_NICK);
  const color = recall(STORE_COLOR);
  if (color) $("login-color").value = toHex6(color);
  const session = storedSession();
  if (session) {
    // Signed in before: log in with the token, without the join form.
    const credentials = { nickname: session.nickname, password: "", color: toHex6(color), remember: session.remember };
    resuming = { ...credentials, guest: session.guest === true };
    $("login-nickname").value = session.nickname;
    $("login-remember").checked = session.remember;
    client.login({ ...credentials, token: session.token });
  }
  onStatus(client.status);
  if (!session) ($("login-nickname").value ? $("login-password") : $("login-nickname")).focus();
}

start();
