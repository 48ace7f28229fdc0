// DOM pieces of moderation and search: the admin view's rows (accounts,
// bans, reports, audit log), a room's bans and mutes, search results, and
// the small forms under a message (edit, delete, report). Text from the
// network is written with textContent only (render.js's rule).

import { DURATIONS, MAX_REASON, localUntil } from "./moderation.js";
import { EVERYONE } from "./protocol.js";
import { editedMark, el, highlighted } from "./render.js";
import { displayTime } from "./text.js";

const KINDS = { user: "User", address: "Address", room: "Room ban", mute: "Mute" };

/** Epoch ms as local date and time ("" for 0). */
export function localTime(ms) {
  if (!ms) return "";
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function cell(text, tag = "td") {
  return el(tag, "", text);
}

function button(className, text, data = {}, label = "") {
  const node = el("button", className, text);
  node.type = "button";
  Object.assign(node.dataset, data);
  if (label) node.setAttribute("aria-label", label);
  return node;
}

/** The <option>s of a duration <select> (1 hour chosen). */
export function durationOptions() {
  return DURATIONS.map(([seconds, words]) => {
    const option = el("option", "", words);
    option.value = String(seconds);
    option.selected = seconds === 3600;
    return option;
  });
}

export function accountRow({ name, role, created }) {
  const row = el("tr");
  row.append(cell(name), cell(role), cell(localTime(created)));
  return row;
}

/** A ban or mute in force, with Lift (UNBAN). */
export function banRow({ id, kind, target, until: untilMs, by, at: atMs, reason }) {
  const row = el("tr", "ban-row");
  row.dataset.id = String(id);
  const until = untilMs ? localTime(untilMs) : "For good";
  const since = cell(by);
  if (atMs) since.title = `Since ${localTime(atMs)}`;
  const lift = el("td");
  lift.append(button("ban-lift", "Lift", { id: String(id) }, `Lift: ${KINDS[kind] ?? kind} ${target}`));
  row.append(cell(KINDS[kind] ?? kind), cell(target), cell(until), since, cell(reason), lift);
  return row;
}

/** A room's ban or mute in its info panel: who, until when, why, Lift. */
export function roomBanItem({ id, kind, target, until: untilMs, reason }) {
  const item = el("li", "room-ban");
  item.dataset.id = String(id);
  const words = `${target}: ${kind === "mute" ? "muted" : "banned"} ${localUntil(untilMs)}`;
  item.append(el("span", "", reason ? `${words} (${reason})` : words));
  item.append(button("ban-lift", "Lift", { id: String(id) }, `Lift: ${target}`));
  return item;
}

const where = (rec) => (rec === EVERYONE || !rec ? "the lobby" : rec);

/** An open report: who reported whose message where, why, its text, and what an admin can do. */
export function reportItem({ id, at: atMs, by, msg: messageId, sender, rec, reason, text }) {
  const item = el("li", "report");
  item.dataset.id = String(id);
  const head = el("p", "report-head", `${by} reported a message of ${sender} in ${where(rec)}`);
  const when = el("span", "report-when", ` ${localTime(atMs)}`);
  head.append(when);
  item.append(head);
  if (reason) item.append(el("p", "report-reason", `Reason: ${reason}`));
  item.append(el("blockquote", "report-text", text || "(deleted)"));
  const tools = el("div", "buttons");
  const data = { report: String(id), id: String(messageId), rec: rec || EVERYONE };
  if (text) {
    tools.append(button("report-jump", "Jump to message", data, `Jump to message: report ${id}`),
      button("report-delete danger", "Delete message", data, `Delete message: report ${id}`));
  }
  tools.append(button("report-resolve", "Resolve", data, `Resolve: report ${id}`));
  item.append(tools);
  return item;
}

export function auditRow({ at: atMs, actor, action, target, room, reason, detail }) {
  const row = el("tr");
  row.append(cell(localTime(atMs)), cell(actor), cell(action), cell(target), cell(room === EVERYONE ? "lobby" : room),
    cell(reason), cell(detail));
  return row;
}

/** One search result: conversation, sender, local time, the text with the words found marked. */
export function resultItem(message, ranges, conversationName) {
  const item = el("li", "result");
  const open = button("result-open", "", { id: String(message.id), rec: message.conversation });
  const head = el("span", "result-head");
  const when = displayTime(message.ts, message.time);
  const time = el("time", "when", when.label);
  if (when.iso) time.dateTime = when.iso;
  head.append(el("span", "result-conv", conversationName), el("span", "result-sender", message.sender), time);
  open.append(head, highlighted(message.text, ranges, "result-text"));
  if (message.edited) open.append(editedMark(message.edited));
  item.append(open);
  return item;
}

/**
 * A small form under a message: {label, value, multiline, submit, danger}
 * (no `label`: only buttons, e.g. "Delete this message?").
 */
export function inlineForm({ kind, title, label = "", value = "", multiline = false, submit, danger = false, hint = "" }) {
  const form = el("form", `msg-inline msg-${kind}`);
  form.noValidate = true;
  if (title) form.append(el("p", "msg-inline-title", title));
  if (label) {
    const id = `inline-${kind}`;
    const name = el("label", "visually-hidden", label);
    name.htmlFor = id;
    const input = el(multiline ? "textarea" : "input", "msg-inline-input");
    input.id = id;
    if (!multiline) {
      input.type = "text";
      input.maxLength = MAX_REASON;
    } else input.rows = 2;
    input.autocomplete = "off";
    input.value = value;
    if (hint) {
      input.setAttribute("aria-describedby", `${id}-hint`);
    }
    form.append(name, input);
    if (hint) {
      const help = el("p", "msg-inline-hint", hint);
      help.id = `${id}-hint`;
      form.append(help);
    }
  }
  const buttons = el("div", "buttons");
  const ok = el("button", danger ? "danger" : "primary", submit);
  ok.type = "submit";
  const cancel = button("inline-cancel", "Cancel");
  buttons.append(ok, cancel);
  const error = el("p", "form-error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  form.append(buttons, error);
  return form;
}
