// The page's entry: wires the chat session (client.js) and its
// conversations (conversations.js) to the DOM (render.js, convview.js).
//
// - The composer always writes to the open conversation; each
//   conversation keeps its own draft (in localStorage, so a reload keeps a
//   private draft in its private conversation).
// - READ goes out as the user sees messages: the open conversation, the tab
//   visible, the log at the bottom.
// - A resume token (SESSION) logs the next load in without the join form.

import * as A from "./adminview.js";
import { ChatClient, socketUrl } from "./client.js";
import { Drafts, convKey, dayLabel, dayOf } from "./conversations.js";
import { setupFiles } from "./files.js";
import { setupInvite } from "./invite.js";
import { chatItem, convItem, daySeparator, historyStart, memberItem, newDivider, roomItem } from "./convview.js";
import * as M from "./moderation.js";
import * as P from "./protocol.js";
import { EVERYONE, MAX_FRAME_BYTES, chatBytes, isRoom, nicknameError, sameNick, safeColor } from "./protocol.js";
import { el, noticeItem, paintSender, regroup, regroupAll, userItem } from "./render.js";
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
let modTarget = null; // {nick, room, pending}: the moderation dialog's user, the room it acts in, the answer awaited
let menuFor = null; // {id, trigger}: the message whose actions menu is open
let inline = null; // {id, kind, node}: the form under a message (edit, delete, report)
const mutes = new Map(); // conversation key -> {until, reason}: we are muted there
let muteTimer = null;
let adminTab = "accounts";
let newReports = 0;
let auditOldest = null;
const FOUND_MS = 2500; // how long a message jumped to stays highlighted
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
  const holder = inline && messageNode(inline.id);
  if (holder) {
    holder.append(inline.node);
    holder.classList.toggle("msg-editing", inline.kind === "edit");
  }
}

/** The log's item of message `id`, or null. */
function messageNode(id) {
  return $("messages").querySelector(`li.msg[data-id="${Number(id)}"]`);
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

function onHistory({ conv, newer }) {
  if (conv.key !== shownKey) return;
  const list = $("messages");
  if (conv.focusId !== null) {
    if (conv.asks.some((ask) => !ask.stale)) return; // both sides of a jump first
    showFound(conv);
  } else if (newer) {
    const top = list.scrollTop; // newer messages come in below what the reader sees
    renderLog();
    list.scrollTop = top;
  } else if (firstPage) {
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
  if (atBottom && conv.gapAfter !== null) client.loadNewer(conv); // after a jump: on towards the newest
  $("jump-latest").hidden = atBottom && conv.gapAfter === null;
  if (atBottom && conv.gapAfter === null && !document.hidden && conv.history === "loaded") client.markRead(conv);
}

/** The message a jump was for: in view, highlighted a moment. */
function showFound(conv) {
  const id = conv.focusId;
  conv.focusId = null;
  renderLog();
  const node = messageNode(id);
  if (node) {
    node.scrollIntoView({ block: "center" });
    node.classList.add("msg-found");
    setTimeout(() => node.classList.remove("msg-found"), FOUND_MS);
  } else client.note("client", "That message is no longer there.");
}

/** "Jump to latest": after a jump, the newest page again; else the end of the log. */
function toLatest() {
  const conv = openConv();
  if (conv.gapAfter !== null || conv.focusId !== null) {
    client.showLatest(conv);
    firstPage = true;
    renderLog();
  } else scrollToEnd();
  afterScroll();
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
function openConversation(rec, { focus = true, jump = null } = {}) {
  saveDraft();
  closeMenu();
  closeInline();
  wantedOpen = "";
  opening = true;
  const conv = jump !== null && client.jumpTo(rec, jump) ? client.convs.open : client.openConversation(rec);
  opening = false;
  firstPage = conv.history === "loading" && conv.focusId === null;
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
  renderMute();
  showRoomBans(false);
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
  const moderate = event.target.closest("button.member-mod");
  if (moderate) openModeration(moderate.dataset.nick, { room: openConv().rec, trigger: moderate });
  const op = event.target.closest("button.member-op");
  if (op) client.ask(P.setOperator(openConv().rec, op.dataset.nick, op.dataset.op === "1"));
}

/** CONFIRM of a room reason: forms close on OK, show their error otherwise. */
function onAnswer(answer) {
  const { reason, room, ok, text } = answer;
  if (moderationAnswer(answer)) return;
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
  $("admin-toggle").hidden = !inSession || !client.isAdmin();
  $("login-panel").hidden = inSession;
  if (!inSession) {
    showSettings(false);
    showAdmin(false);
    showSearch(false);
    closeModeration();
  }
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

function onLoginError({ text, banned, until, reason }) {
  if (banned) showBan("You are banned", until, reason);
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
function onEnded({ why, text, until, reason }) {
  forgetSession();
  if (why === "banned") showBan("You have been banned", until, reason);
  mutes.clear();
  newReports = 0;
  renderReportCount();
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
    $("room-bans-open").hidden = !manage;
  } else {
    items = online.map((name) =>
      userItem(name, {
        me: sameNick(name, me),
        admin: users.admins.some((a) => sameNick(a, name)),
        canKick: client.isAdmin(),
      }));
    $("users-heading").textContent = "Online";
    $("room-bans-open").hidden = true;
  }
  $("user-list").replaceChildren(...items);
  $("online-count").textContent = String(items.length);
  $("users-toggle-count").textContent = String(items.length);
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
    openModeration(kick.dataset.nick, { room: null, trigger: kick });
    return;
  }
  const more = event.target.closest("button.msg-actions");
  if (more) {
    openMenu(more);
    return;
  }
  if (event.target.closest(".msg-inline")) return;
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

// ---- moderation, editing, search and the admin view ----
// (moderation-page.js would be the place should this grow further)
/** The message event of log item `id` in the open conversation, or null. */
function messageEvent(id) {
  return openConv().items.find((item) => item.type === "msg" && item.id === id)?.event ?? null;
}

/** May we moderate others in the open conversation: admins anywhere, operators in their room. */
function canModerateHere() {
  const conv = openConv();
  return client.isAdmin() || (conv.kind === "room" && conv.op);
}

// -- a message's actions menu: Edit, Delete, Report, moderation of its sender --

function openMenu(trigger) {
  const item = trigger.closest("li.msg");
  const id = Number(item?.dataset.id);
  const event = messageEvent(id);
  if (!event) return;
  if (menuFor?.trigger === trigger) {
    closeMenu(true);
    return;
  }
  closeMenu();
  const own = event.own;
  const sender = event.message.sender;
  const shown = {
    edit: own && !event.message.file, // "A file can't be edited; delete it and send it again."
    delete: own || canModerateHere(),
    report: !own,
    moderate: !own && canModerateHere(),
  };
  const menu = $("msg-menu");
  for (const button of menu.querySelectorAll("button")) {
    button.parentElement.hidden = !shown[button.dataset.act];
    if (button.dataset.act === "moderate") button.textContent = `${client.isAdmin() ? "Kick/ban" : "Ban/mute"} ${sender}…`;
  }
  menuFor = { id, trigger, sender };
  trigger.setAttribute("aria-expanded", "true");
  menu.hidden = false;
  const box = trigger.getBoundingClientRect();
  const width = menu.offsetWidth;
  const height = menu.offsetHeight;
  menu.style.left = `${Math.max(4, Math.min(box.right - width, innerWidth - width - 4))}px`;
  menu.style.top = `${box.bottom + height + 4 > innerHeight ? Math.max(4, box.top - height - 4) : box.bottom + 4}px`;
  menu.querySelector("li:not([hidden]) button")?.focus();
}

function closeMenu(refocus = false) {
  if (!menuFor) return;
  const { trigger } = menuFor;
  menuFor = null;
  $("msg-menu").hidden = true;
  trigger.setAttribute("aria-expanded", "false");
  if (refocus && trigger.isConnected) trigger.focus();
}

function onMenuKey(event) {
  const buttons = [...$("msg-menu").querySelectorAll("li:not([hidden]) button")];
  const at = buttons.indexOf(document.activeElement);
  const move = { ArrowDown: 1, ArrowUp: -1 }[event.key];
  if (move) {
    event.preventDefault();
    buttons[(at + move + buttons.length) % buttons.length]?.focus();
  } else if (event.key === "Home" || event.key === "End") {
    event.preventDefault();
    (event.key === "Home" ? buttons[0] : buttons.at(-1))?.focus();
  } else if (event.key === "Escape") {
    event.preventDefault();
    closeMenu(true);
  } else if (event.key === "Tab") closeMenu(true);
}

function onMenuClick(event) {
  const button = event.target.closest("button[data-act]");
  if (!button || !menuFor) return;
  const { id, sender, trigger } = menuFor;
  closeMenu();
  const act = button.dataset.act;
  if (act === "moderate") {
    const conv = openConv();
    openModeration(sender, { room: conv.kind === "room" ? conv.rec : null, trigger });
  } else showInline(id, act);
}

// -- the small forms under a message: edit in place, delete, report --

const INLINE = {
  edit: { label: "Edit the message", multiline: true, submit: "Save", hint: "Enter saves, Shift+Enter starts a new line, Esc cancels." },
  delete: { title: "Delete this message for everyone?", submit: "Delete", danger: true },
  report: { title: "Report this message to the admins", label: "Reason for the report", submit: "Report" },
};

function showInline(id, kind) {
  closeInline();
  const holder = messageNode(id);
  const event = messageEvent(id);
  if (!holder || !event) return;
  const node = A.inlineForm({ kind, ...INLINE[kind], value: kind === "edit" ? event.message.text : "" });
  inline = { id, kind, node, original: event.message.text };
  holder.append(node);
  holder.classList.toggle("msg-editing", kind === "edit"); // the box takes the text's place
  node.addEventListener("submit", onInlineSubmit);
  node.addEventListener("keydown", onInlineKey);
  node.querySelector(".inline-cancel").addEventListener("click", () => closeInline(true));
  const input = node.querySelector(".msg-inline-input");
  if (input) {
    input.focus();
    if (kind === "edit") input.setSelectionRange(input.value.length, input.value.length);
  } else node.querySelector("button[type=submit]").focus();
}

function closeInline(refocus = false) {
  if (!inline) return;
  const { id, node } = inline;
  inline = null;
  node.parentElement?.classList.remove("msg-editing");
  node.remove();
  if (refocus) (messageNode(id)?.querySelector(".msg-actions") ?? $("message-input")).focus();
}

function inlineError(text) {
  if (inline) showText(inline.node.querySelector(".form-error"), text);
}

function onInlineKey(event) {
  if (event.key === "Escape") {
    event.preventDefault();
    event.stopPropagation();
    closeInline(true);
  } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.target.tagName === "TEXTAREA") {
    event.preventDefault();
    inline.node.requestSubmit();
  }
}

function onInlineSubmit(event) {
  event.preventDefault();
  if (!inline) return;
  const { id, kind, node, original } = inline;
  const value = node.querySelector(".msg-inline-input")?.value ?? "";
  let sent;
  if (kind === "edit") {
    if (value === original) {
      closeInline(true);
      return;
    }
    sent = client.edit(id, value);
  } else if (kind === "delete") sent = client.ask(M.deleteMessage(id));
  else sent = client.ask(M.reportMessage(id, value.trim()));
  inlineError(sent ? "" : "Not sent: not connected.");
}

/** EDITED: the message's new text in the log (and the search results). */
function onEdited({ id }) {
  if (inline?.id === id && inline.kind === "edit") closeInline();
  const old = messageNode(id);
  const item = openConv().items.find((i) => i.type === "msg" && i.id === id);
  if (old && item) {
    const node = itemNode(item);
    old.replaceWith(node);
    regroup(node);
    if (inline?.id === id) {
      node.append(inline.node);
      node.classList.toggle("msg-editing", inline.kind === "edit");
    }
  }
  if (!$("search-panel").hidden) renderSearch();
}

/** DELETED: gone from the log (and the search results). */
function onDeleted({ id }) {
  if (inline?.id === id) closeInline();
  if (menuFor?.id === id) closeMenu();
  const node = messageNode(id);
  if (node) {
    const next = node.nextElementSibling;
    node.remove();
    if (next) regroup(next);
  }
  if (!$("search-panel").hidden) renderSearch();
}

// -- the moderation dialog: kick, ban, mute, remove --

const ACTIONS = {
  kick: { words: "Kick", title: (n) => `Kick ${n}`, reason: true },
  kickban: { words: "Kick and ban", title: (n) => `Kick and ban ${n}`, reason: true, duration: true, addresses: true },
  ban: { words: "Ban", title: (n) => `Ban ${n}`, reason: true, duration: true, addresses: true },
  remove: { words: "Remove from the room", title: (n, r) => `Remove ${n} from ${r}`, reason: true },
  roomban: { words: "Ban from the room", title: (n, r) => `Ban ${n} from ${r}`, reason: true, duration: true },
  mute: { words: "Mute", title: (n, r) => `Mute ${n} ${r ? `in ${r}` : "in the lobby"}`, reason: true, duration: true },
  unmute: { words: "Unmute", title: (n, r) => `Unmute ${n} ${r ? `in ${r}` : "in the lobby"}` },
};

/** The moderation dialog for `nick`; `room`: acting in that room (operators), else server-wide (admins). */
function openModeration(nick, { room = null, trigger = null } = {}) {
  closeMenu();
  const admin = client.isAdmin();
  const choices = [];
  if (admin) choices.push("kick", "kickban", "ban");
  if (room) choices.push("remove", "roomban", "mute", "unmute");
  else if (admin) choices.push("mute", "unmute");
  if (!choices.length) return;
  modTarget = { nick, room, pending: null, trigger, choices };
  const radios = choices.map((action, index) => {
    const label = el("label", "check");
    const radio = el("input");
    radio.type = "radio";
    radio.name = "mod-action";
    radio.value = action;
    radio.checked = index === 0;
    label.append(radio, ` ${ACTIONS[action].words}`);
    return label;
  });
  $("mod-choices").replaceChildren(...radios);
  $("mod-duration").replaceChildren(...A.durationOptions());
  $("kick-reason").value = "";
  $("mod-addresses").checked = false;
  showText($("mod-error"), "");
  renderModeration();
  $("mod-dialog").showModal();
  $("kick-reason").focus();
}

function chosenAction() {
  return $("mod-choices").querySelector("input:checked")?.value ?? modTarget?.choices[0];
}

function renderModeration() {
  if (!modTarget) return;
  const action = ACTIONS[chosenAction()];
  $("kick-title").textContent = action.title(modTarget.nick, modTarget.room);
  $("kick-confirm").textContent = action.words.replace(" from the room", "");
  for (const id of ["mod-duration", "mod-duration-label"]) $(id).hidden = !action.duration;
  for (const id of ["kick-reason", "kick-reason-label"]) $(id).hidden = !action.reason;
  $("mod-addresses-label").hidden = !action.addresses;
}

function closeModeration() {
  if (!modTarget) return;
  const { trigger } = modTarget;
  modTarget = null;
  if ($("mod-dialog").open) $("mod-dialog").close();
  if (trigger?.isConnected) trigger.focus();
}

function onModerationSubmit(event) {
  event.preventDefault();
  if (!modTarget) return;
  const { nick, room } = modTarget;
  const action = chosenAction();
  const reason = $("kick-reason").value.trim();
  const options = { seconds: Number($("mod-duration").value) || 0, reason, addresses: $("mod-addresses").checked };
  const frames = {
    kick: () => P.kick(nick, reason || "No reason given"),
    kickban: () => M.kickUser(nick, { ...options, ban: true }),
    ban: () => M.banUser(nick, options),
    remove: () => P.removeMember(room, nick, reason),
    roomban: () => M.banFromRoom(room, nick, options),
    mute: () => M.mute(room ?? EVERYONE, nick, options),
    unmute: () => M.unmute(room ?? EVERYONE, nick),
  };
  if (!client.ask(frames[action]())) {
    showText($("mod-error"), "Not sent: not connected.");
    return;
  }
  // A KICK has no answer of its own (its errors come as ERR lines): done.
  if (action.startsWith("kick")) closeModeration();
  else modTarget.pending = { remove: "REMOVE", roomban: "BAN", ban: "BAN", mute: "MUTE", unmute: "UNMUTE" }[action];
}

/** CONFIRM of a moderation reason; true when handled here. */
function moderationAnswer({ reason, ok, text, id }) {
  if (modTarget?.pending === reason) {
    if (ok) closeModeration();
    else showText($("mod-error"), text);
    return true;
  }
  if (inline && ["EDIT", "DELETE", "REPORT"].includes(reason) && (id === null || id === inline.id)) {
    if (!ok) inlineError(text);
    else if (reason === "REPORT") {
      inline.node.replaceChildren(el("p", "msg-inline-done", "Reported. Thank you."));
      const done = inline.node;
      setTimeout(() => inline?.node === done && closeInline(), FOUND_MS);
    } else closeInline();
    return true;
  }
  if (reason === "BAN" && !$("admin-panel").hidden) {
    showText($("ban-address-result"), ok ? "Banned." : text);
    $("ban-address-result").dataset.ok = String(ok);
    if (ok) {
      $("ban-address").value = "";
      $("ban-address-reason").value = "";
      client.ask(M.listBans());
    }
    return true;
  }
  if (reason === "UNBAN" || reason === "RESOLVE" || (reason === "DELETE" && !$("admin-panel").hidden)) {
    if (!ok) adminError(text);
    else if (reason === "UNBAN") refreshBans();
    else client.ask(M.listReports());
    return true;
  }
  if (["BANS", "REPORTS", "ACCOUNTS", "AUDIT"].includes(reason)) {
    if (!ok) {
      if (reason === "BANS" && !$("room-bans").hidden) showText($("room-bans-empty"), text);
      else adminError(text);
    }
    return true;
  }
  if (!ok && ["EDIT", "DELETE", "REPORT", "BAN", "MUTE", "UNMUTE"].includes(reason)) {
    client.note("error", text);
    return true;
  }
  return false;
}

// -- muted: the composer says so; banned: the whole screen says so --

function onMuted({ rec, muted, until, reason }) {
  const key = convKey(rec);
  if (muted) mutes.set(key, { until, reason });
  else mutes.delete(key);
  renderMute();
}

function renderMute() {
  clearTimeout(muteTimer);
  const mute = mutes.get(openConv().key);
  const shown = M.inForce(mute);
  showText($("mute-notice"), shown ? `You are muted ${M.localUntil(mute.until)}${mute.reason ? `: ${mute.reason}` : ""}` : "");
  const left = shown && mute.until ? mute.until - Date.now() : 0;
  if (left > 0 && left < 2 ** 31 - 1) muteTimer = setTimeout(renderMute, left + 500);
}

function showBan(title, until, reason) {
  $("ban-title").textContent = title;
  $("ban-until").textContent = until ? `Until ${A.localTime(until)}.` : "For good.";
  $("ban-reason").textContent = reason ? `Reason: ${reason}` : "No reason was given.";
  if (!$("ban-notice").open) $("ban-notice").showModal();
  $("ban-ok").focus();
}

// -- search: all conversations, or the open one --

function onSearchSubmit(event) {
  event.preventDefault();
  const query = $("search-input").value.trim();
  if (!query) {
    $("search-input").focus();
    return;
  }
  const rec = $("search-here").checked ? openConv().rec : null;
  if (!client.searchFor(query, rec)) return;
  showSearch(true);
  renderSearch();
}

function showSearch(open) {
  $("search-panel").hidden = !open;
  if (!open) client.search.clear();
}

/** The conversation a result belongs to, as the sidebar names it. */
function conversationName(rec) {
  return client.convs.get(rec)?.title ?? (rec === EVERYONE ? "Lobby" : rec);
}

function renderSearch() {
  const search = client.search;
  if ($("search-panel").hidden) return;
  const where = search.rec ? ` in ${conversationName(search.rec)}` : "";
  $("search-title").textContent = `Search: “${search.query}”${where}`;
  const words = P.searchWords(search.query);
  const items = search.results.map((m) => A.resultItem(m, P.highlight(m.text, words), conversationName(m.conversation)));
  $("search-results").replaceChildren(...items);
  const status = $("search-status");
  status.dataset.error = String(search.state === "error");
  if (search.state === "error") status.textContent = search.error;
  else if (search.state === "loading" && !items.length) status.textContent = "Searching…";
  else if (!items.length) status.textContent = "No messages found.";
  else status.textContent = `${items.length} ${items.length === 1 ? "message" : "messages"}${search.more ? " (more older ones)" : ""}`;
  $("search-more").hidden = !(search.state === "done" && search.more);
}

function onResultClick(event) {
  const open = event.target.closest("button.result-open");
  if (!open) return;
  showSearch(false);
  jumpTo(open.dataset.rec, Number(open.dataset.id));
}

/** Open conversation `rec` at message `id`: the messages around it, it in view and highlighted. */
function jumpTo(rec, id) {
  showAdmin(false);
  openConversation(rec, { jump: id });
  renderLog();
}

function onGlobalKey(event) {
  const target = event.target;
  const typing = target.closest?.("input, textarea, select, [contenteditable]");
  if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey && document.body.dataset.session === "in") {
    event.preventDefault();
    $("search-input").focus();
    $("search-input").select();
  } else if (event.key === "Escape" && !$("search-panel").hidden && !$("mod-dialog").open && !$("file-viewer").open) {
    showSearch(false);
    if (target.closest?.("#search-panel")) $("search-input").focus();
  }
}

// -- a room's bans and mutes (its operators) --

function showRoomBans(open) {
  $("room-bans").hidden = !open;
  if (open) {
    showText($("room-bans-empty"), "");
    $("room-bans-list").replaceChildren();
    client.ask(M.listBans(openConv().rec));
  }
}

function refreshBans() {
  if (!$("room-bans").hidden) showRoomBans(true);
  if (!$("admin-panel").hidden && adminTab === "bans") client.ask(M.listBans());
}

function onBans({ room, entries }) {
  if (room) {
    if (convKey(room) !== openConv().key || $("room-bans").hidden) return;
    $("room-bans-list").replaceChildren(...entries.map(A.roomBanItem));
    showText($("room-bans-empty"), entries.length ? "" : "None in force.");
    return;
  }
  $("bans-rows").replaceChildren(...entries.map(A.banRow));
  $("bans-empty").hidden = entries.length > 0;
}

function onLift(event) {
  const lift = event.target.closest("button.ban-lift");
  if (lift) client.ask(M.unban(lift.dataset.id));
}

// -- the admin view: accounts, bans, reports, audit log --

function showAdmin(open) {
  if (open && !client.isAdmin()) return;
  $("admin-panel").hidden = !open;
  document.body.classList.toggle("admin-open", open); // the chat stays as it is behind the admin view
  $("admin-toggle").setAttribute("aria-expanded", String(open));
  if (open) {
    showSearch(false);
    selectTab(adminTab);
    $(`tab-${adminTab}`).focus();
  }
}

function adminError(text) {
  showText($("admin-error"), text);
}

function selectTab(name) {
  adminTab = name;
  adminError("");
  for (const tab of document.querySelectorAll(".admin-tabs [role=tab]")) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  if (name === "accounts") client.ask(M.listAccounts());
  else if (name === "bans") {
    $("ban-address-duration").replaceChildren(...A.durationOptions());
    showText($("ban-address-result"), "");
    client.ask(M.listBans());
  } else if (name === "reports") {
    newReports = 0;
    renderReportCount();
    client.ask(M.listReports());
  } else if (name === "audit") {
    $("audit-rows").replaceChildren();
    auditOldest = null;
    client.ask(M.auditLog());
  }
}

function onTabKey(event) {
  const tabs = [...document.querySelectorAll(".admin-tabs [role=tab]")];
  const at = tabs.indexOf(event.target);
  const move = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
  if (at < 0 || !move) return;
  event.preventDefault();
  const next = tabs[(at + move + tabs.length) % tabs.length];
  next.focus();
  selectTab(next.dataset.tab);
}

function onAccounts({ accounts }) {
  $("accounts-rows").replaceChildren(...accounts.map(A.accountRow));
}

function renderReportCount() {
  showText($("admin-count"), newReports ? String(newReports) : "");
  showText($("reports-count"), newReports ? String(newReports) : "");
  $("admin-toggle").setAttribute("aria-label", newReports ? `Admin (${newReports} new reports)` : "Admin");
}

function onReports(reports) {
  if (reports.new) {
    // A report just made: counted until the admin looks at the reports.
    if (!$("admin-panel").hidden && adminTab === "reports") client.ask(M.listReports());
    else {
      newReports += reports.entries.length;
      renderReportCount();
    }
    return;
  }
  $("reports-list").replaceChildren(...reports.entries.map(A.reportItem));
  $("reports-empty").hidden = reports.entries.length > 0;
}

function onReportClick(event) {
  const button = event.target.closest("button");
  if (!button) return;
  const { report, id, rec } = button.dataset;
  if (button.classList.contains("report-jump")) jumpTo(rec, Number(id));
  else if (button.classList.contains("report-delete")) client.ask(M.deleteMessage(id));
  else if (button.classList.contains("report-resolve")) client.ask(M.resolveReport(report));
}

function onAudit({ more, entries }) {
  $("audit-rows").append(...entries.map(A.auditRow));
  if (entries.length) auditOldest = entries.at(-1).id;
  $("audit-older").hidden = !more;
}

function onAddressBan(event) {
  event.preventDefault();
  const address = $("ban-address").value.trim();
  if (!address) {
    showText($("ban-address-result"), "Please give an address or network.");
    $("ban-address-result").dataset.ok = "false";
    $("ban-address").focus();
    return;
  }
  const seconds = Number($("ban-address-duration").value) || 0;
  client.ask(M.banAddress(address, { seconds, reason: $("ban-address-reason").value.trim() }));
}

function wireModeration() {
  $("msg-menu").addEventListener("keydown", onMenuKey);
  $("msg-menu").addEventListener("click", onMenuClick);
  document.addEventListener("pointerdown", (event) => {
    if (menuFor && !event.target.closest("#msg-menu, button.msg-actions")) closeMenu();
  });
  $("messages").addEventListener("scroll", () => closeMenu(), { passive: true });
  $("kick-form").addEventListener("submit", onModerationSubmit);
  $("mod-choices").addEventListener("change", renderModeration);
  $("kick-cancel").addEventListener("click", closeModeration);
  $("mod-dialog").addEventListener("close", () => {
    if (modTarget) closeModeration();
  });
  $("ban-ok").addEventListener("click", () => $("ban-notice").close());
  $("search-form").addEventListener("submit", onSearchSubmit);
  $("search-close").addEventListener("click", () => {
    showSearch(false);
    $("search-input").focus();
  });
  $("search-more").addEventListener("click", () => client.searchMore() && renderSearch());
  $("search-results").addEventListener("click", onResultClick);
  document.addEventListener("keydown", onGlobalKey);
  $("room-bans-open").addEventListener("click", () => showRoomBans($("room-bans").hidden));
  $("room-bans-list").addEventListener("click", onLift);
  $("bans-rows").addEventListener("click", onLift);
  $("admin-toggle").addEventListener("click", () => showAdmin($("admin-panel").hidden));
  $("admin-close").addEventListener("click", () => {
    showAdmin(false);
    $("admin-toggle").focus();
  });
  for (const tab of document.querySelectorAll(".admin-tabs [role=tab]")) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
    tab.addEventListener("keydown", onTabKey);
  }
  $("reports-list").addEventListener("click", onReportClick);
  $("audit-older").addEventListener("click", () => auditOldest !== null && client.ask(M.auditLog(auditOldest)));
  $("address-ban-form").addEventListener("submit", onAddressBan);
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
  const conv = openConv();
  if (conv.gapAfter !== null || conv.focusId !== null) toLatest(); // our message shows among the newest
  const rec = conv.rec;
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
    toLatest();
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
  wireModeration();
  setupFiles(client, () => openConv().rec);
  setupInvite();
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
    .on("session", onSession)
    .on("edited", onEdited)
    .on("deleted", onDeleted)
    .on("search", renderSearch)
    .on("muted", onMuted)
    .on("bans", onBans)
    .on("reports", onReports)
    .on("accounts", onAccounts)
    .on("audit", onAudit);
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
