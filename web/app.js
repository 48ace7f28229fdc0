// The page's entry: wires the chat session (client.js) to the DOM (render.js).

import { ChatClient, socketUrl } from "./client.js";
import { EVERYONE, MAX_FRAME_BYTES, chatBytes, nicknameError, sameNick, safeColor } from "./protocol.js";
import { fillRecipients, messageItem, noticeItem, paintSender, regroup, userItem } from "./render.js";
import { Unread } from "./state.js";
import { UPDATE_NAME_ERROR } from "./texts.js";

const $ = (id) => document.getElementById(id);
const STORE_NICK = "parley.nickname";
const STORE_COLOR = "parley.color";
const NEAR_BOTTOM_PX = 80;

const client = new ChatClient({ url: socketUrl(location.href) });
const unread = new Unread(document.title || "Parley");
const shown = new Map(); // message id -> <li>
let users = { online: [], admins: [] };
let countdown = null;
let kickTarget = "";
let notificationsOn = false;

// ---- small helpers ----

function remember(key, value) {
  try {
    localStorage.setItem(key, value);
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

// ---- the message log ----

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
}

/**
 * Add a log item, before `before` when given. The view follows new items
 * only if it was at the bottom (or `follow`): someone reading back is not
 * pulled away.
 */
function addToLog(item, before = null, follow = false) {
  const list = $("messages");
  const stick = follow || nearBottom(list);
  list.insertBefore(item, before);
  regroup(item);
  if (stick) list.scrollTop = list.scrollHeight;
}

function onChat(event) {
  const item = messageItem(event);
  const { message } = event;
  if (message.id !== null) shown.set(message.id, item);
  addToLog(item, event.beforeId === null ? null : shown.get(event.beforeId) ?? null, event.own && event.live);
  if (event.live && !event.own) attention(event);
}

/** Senders' colors were made readable on the old theme's backgrounds: redo them. */
function recolor() {
  for (const sender of document.querySelectorAll("#messages .sender")) paintSender(sender);
}

function onNotice(notice) {
  addToLog(noticeItem(notice));
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
  const inSession = state === "online" || state === "reconnecting" || (state === "connecting" && client.wantOnline);
  document.body.dataset.session = inSession ? "in" : "out";
  document.body.dataset.state = state;
  $("composer-fields").disabled = state !== "online";
  for (const id of ["leave", "settings-toggle"]) $(id).hidden = !inSession;
  $("login-panel").hidden = inSession;
  if (!inSession) showSettings(false);
}

// ---- login ----

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
  client.login({ nickname, password: $("login-password").value, color });
}

function onLoginError({ text }) {
  showText($("login-error"), text);
  $("login-nickname").focus();
}

function onLoggedIn() {
  $("login-password").value = "";
  $("chat-panel").hidden = false;
  $("set-color").value = toHex6(client.credentials.color);
  $("message-input").focus();
}

function onEnded({ why, text }) {
  showText($("login-notice"), text);
  if (why === "left") $("login-submit").focus();
}

function onIdentity({ nickname }) {
  remember(STORE_NICK, nickname);
  $("login-nickname").value = nickname;
  renderStatus();
  renderUsers();
}

// ---- users ----

function renderUsers() {
  const me = client.nickname;
  const admins = users.admins;
  const items = users.online.map((name) =>
    userItem(name, {
      me: sameNick(name, me),
      admin: admins.some((a) => sameNick(a, name)),
      canKick: client.isAdmin(),
    }),
  );
  $("user-list").replaceChildren(...items);
  $("online-count").textContent = String(users.online.length);
  $("users-toggle-count").textContent = String(users.online.length);
  fillRecipients($("recipient"), users.online, me);
  if (kickTarget && !users.online.some((n) => sameNick(n, kickTarget))) showKick("");
}

function onUsers(list) {
  users = list;
  renderUsers();
}

/** Make `name` the recipient (if online and not me) and go to the message box. */
function pickRecipient(name) {
  const select = $("recipient");
  if ([...select.options].some((o) => o.value === name)) select.value = name;
  showUsersPanel(false);
  $("message-input").focus();
}

function onNameClick(event) {
  const kick = event.target.closest("button.kick");
  if (kick) {
    showKick(kick.dataset.nick);
    return;
  }
  const pick = event.target.closest("button.user-name, button.sender");
  if (pick) pickRecipient(pick.dataset.nick);
}

function showUsersPanel(open) {
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

// ---- composer ----

function checkLength() {
  const bytes = chatBytes($("recipient").value || EVERYONE, $("message-input").value);
  const tooLong = bytes > MAX_FRAME_BYTES;
  showText($("composer-warning"), tooLong ? `Too long: ${bytes} of ${MAX_FRAME_BYTES} bytes. Please shorten it.` : "");
  $("send").disabled = tooLong;
  return !tooLong;
}

function onComposerSubmit(event) {
  event.preventDefault();
  const input = $("message-input");
  const text = input.value;
  if (!text.trim() || !checkLength()) {
    input.focus();
    return;
  }
  const problem = client.sendChat($("recipient").value || EVERYONE, text);
  if (problem) showText($("composer-warning"), problem);
  else input.value = "";
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
  $("message-input").addEventListener("input", checkLength);
  $("recipient").addEventListener("change", checkLength);
  $("messages").addEventListener("click", onNameClick);
  $("user-list").addEventListener("click", onNameClick);
  $("kick-form").addEventListener("submit", onKickSubmit);
  $("kick-cancel").addEventListener("click", () => showKick(""));
  $("leave").addEventListener("click", () => client.leave());
  $("settings-toggle").addEventListener("click", () => showSettings($("settings-panel").hidden));
  $("settings-close").addEventListener("click", () => showSettings(false));
  $("settings-form").addEventListener("submit", onSettingsSubmit);
  $("users-toggle").addEventListener("click", () =>
    showUsersPanel(!document.body.classList.contains("users-open")));
  document.addEventListener("visibilitychange", onVisibility);
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
    .on("ended", onEnded);
}

function start() {
  wire();
  setupNotifications();
  $("login-nickname").value = recall(STORE_NICK);
  const color = recall(STORE_COLOR);
  if (color) $("login-color").value = toHex6(color);
  onStatus(client.status);
  ($("login-nickname").value ? $("login-password") : $("login-nickname")).focus();
}

start();
