// Files and images in the page: attaching them (the paper-clip button,
// drag and drop onto the conversation, pasting an image), sending each, and
// file messages as the log shows them.
//
// Rules (PROTOCOL.md, "Files"):
// - UPLOAD asks first, so every limit (size, quota, the recipient) is
//   refused before a byte is sent: the refusal is the server's ERR text, and
//   nothing more happens (client.js takes an ERR that comes while an UPLOAD
//   waits as its refusal);
// - granted, the bytes go by XMLHttpRequest (for its upload progress) to
//   `files/upload?ticket=T` relative to the page: the page's own origin, the
//   one its WebSocket uses, whatever public URL the grant names; an HTTP
//   error's words are the JSON `error` of the answer;
// - then `CHAT,rec=R;file=<receipt>,` posts it; the file message comes back
//   as every message does (CHATR with file=...);
// - files go one after another, in the order given; each can be cancelled;
// - an image (fw/fh given) shows as its thumbnail (`flink?thumb=1`), sized
//   from fw/fh before it loads, opening full size in a dialog (Esc closes);
//   anything else as a card: name, size, type and a download link. Links
//   are used only when they resolve to the page's own origin.
// Text from the network is written with textContent only (render.js's rule).

import { fileChatFrame, humanSize, uploadFrame } from "./protocol.js";
import { el } from "./render.js";

/** "thumbnail at flink?thumb=1 ... fits in 320x320, never larger than the image". */
export const THUMB_BOX = 320;
const PASTE_EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" };
/** Names browsers give images pasted from the clipboard (no file behind them). */
const GENERIC_PASTE_NAME = /^(image|blob|unknown)?(\.\w{1,5})?$/i;
const TYPE_WORDS = {
  "image/png": "PNG image",
  "image/jpeg": "JPEG image",
  "image/gif": "GIF image",
  "image/webp": "WebP image",
  "application/pdf": "PDF document",
  "application/zip": "ZIP archive",
  "text/plain": "Text",
};

// ---- plain values (no DOM) ----

const two = (n) => String(n).padStart(2, "0");

/** The name of an image pasted at `now` (local time): `pasted-2026-11-24-1530.png`. */
export function pastedName(type, now = new Date()) {
  const day = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}`;
  return `pasted-${day}-${two(now.getHours())}${two(now.getMinutes())}.${PASTE_EXTENSIONS[type] ?? "png"}`;
}

/** The name to announce for a pasted file: its own, unless the browser made one up. */
export function pasteName(file, now = new Date()) {
  return file.type.startsWith("image/") && GENERIC_PASTE_NAME.test(file.name) ? pastedName(file.type, now) : file.name;
}

/** `width` x `height` scaled down to fit `box` x `box` (never up), as whole pixels, at least 1. */
export function fitBox(width, height, box = THUMB_BOX) {
  const scale = Math.min(1, box / width, box / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** Where the bytes of ticket `ticket` go: `files/upload?ticket=T` beside the page at `href`. */
export function uploadUrl(ticket, href) {
  const url = new URL("files/upload", href);
  url.search = "";
  url.hash = "";
  url.searchParams.set("ticket", ticket);
  return url.href;
}

/** A file message's link (`flink`, relative to the page) as an absolute URL, or null unless it stays on the page's origin. */
export function fileHref(link, href, thumb = false) {
  let url;
  try {
    url = new URL(link, href);
  } catch {
    return null;
  }
  if (url.origin !== new URL(href).origin || !/^https?:$/.test(url.protocol)) return null;
  if (thumb) url.searchParams.set("thumb", "1");
  return url.href;
}

/** Words for a MIME type: "PDF document", else the type itself ("File" when it says nothing). */
export function typeWords(type) {
  if (TYPE_WORDS[type]) return TYPE_WORDS[type];
  return !type || type === "application/octet-stream" ? "File" : type;
}

/** The longest name an UPLOAD may ask with (the server refuses longer ones; it keeps at most 120 characters). */
const MAX_ASKED_NAME = 255;
/** Characters after the last dot kept as the extension when a name is cut (as the server's safe_name). */
const MAX_EXTENSION = 16;

/**
 * A file's name as a frame may carry it: no line breaks, at most 255
 * characters, cut keeping its extension (the server keeps a safe name of its
 * own, shorter still).
 */
export function announcedName(name) {
  const chars = Array.from(name.replace(/[\r\n]+/g, " ")); // characters, not UTF-16 halves
  if (chars.length <= MAX_ASKED_NAME) return chars.join("");
  const dot = chars.lastIndexOf(".");
  const extension = dot > 0 ? chars.slice(dot + 1) : [];
  if (extension.length === 0 || extension.length > MAX_EXTENSION) return chars.slice(0, MAX_ASKED_NAME).join("");
  return `${chars.slice(0, MAX_ASKED_NAME - extension.length - 1).join("")}.${extension.join("")}`;
}

/** The text of an HTTP error answer: its JSON `error`, else the status. */
export function httpError(status, body) {
  try {
    const error = JSON.parse(body)?.error;
    if (typeof error === "string" && error) return error;
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  return status ? `The upload failed (HTTP ${status}).` : "The upload failed: the connection was lost.";
}

// ---- file messages in the log ----

/** The body of a file message (`file`: protocol.js readFile's {id, name, size, type, link, width, height}). */
export function fileBody(file, href = location.href) {
  const full = fileHref(file.link, href);
  if (file.width > 0 && file.height > 0 && full) return imageBody(file, full, fileHref(file.link, href, true));
  return cardBody(file, full);
}

function imageBody(file, full, thumb) {
  const body = el("figure", "msg-file file-image");
  const open = el("a", "file-open");
  open.href = full;
  open.dataset.name = file.name;
  open.title = `Open ${file.name} full size`;
  const image = el("img", "file-thumb");
  const box = fitBox(file.width, file.height);
  image.width = box.width;
  image.height = box.height;
  image.loading = "lazy";
  image.decoding = "async";
  image.alt = file.name;
  image.src = thumb;
  open.append(image);
  const caption = el("figcaption", "file-caption");
  caption.append(el("span", "file-name", file.name), el("span", "file-meta", humanSize(file.size)));
  body.append(open, caption);
  return body;
}

function cardBody(file, full) {
  const body = el("div", "msg-file file-card");
  const icon = el("span", "file-icon", (file.name.match(/\.(\w{1,4})$/)?.[1] ?? "file").toUpperCase());
  icon.setAttribute("aria-hidden", "true");
  const info = el("div", "file-info");
  info.append(el("span", "file-name", file.name), el("span", "file-meta", `${humanSize(file.size)} · ${typeWords(file.type)}`));
  body.append(icon, info);
  if (full) {
    const download = el("a", "file-download", "Download");
    download.href = full;
    download.download = file.name;
    download.setAttribute("aria-label", `Download ${file.name}`);
    body.append(download);
  }
  return body;
}

// ---- the page's side: attach, drop, paste, the queue of uploads, the viewer ----

const $ = (id) => document.getElementById(id);

/**
 * Uploads one after another: each job {file, name, rec, state, node, xhr}
 * with state waiting | asking | sending | failed. `client` is the page's
 * ChatClient; `openRec()` the conversation files go to when given.
 */
export class Uploads {
  constructor(client, openRec) {
    this.client = client;
    this.openRec = openRec;
    this.jobs = [];
    this.asked = []; // jobs whose UPLOAD waits for its answer, in the order asked (answers come in that order)
    client.on("upload", (answer) => this.answered(answer));
    client.on("status", ({ state }) => (state === "online" ? this.next() : this.offline()));
  }

  /** Files given (picked, dropped, pasted) for the open conversation; `names` when they differ from the files'. */
  add(files, names = null) {
    const rec = this.openRec();
    files.forEach((file, at) => {
      const job = { file, name: announcedName(names?.[at] ?? file.name) || "file", rec, state: "waiting", xhr: null };
      job.node = uploadItem(job);
      this.jobs.push(job);
      $("uploads").append(job.node);
    });
    $("uploads").hidden = false;
    this.next();
  }

  /** The next waiting job, when none is under way and we are online. */
  next() {
    if (!this.client.online) return;
    if (this.jobs.some((job) => job.state === "asking" || job.state === "sending")) return;
    const job = this.jobs.find((j) => j.state === "waiting");
    if (!job) return;
    job.state = "asking";
    showJob(job, "Asking…");
    if (this.client.askUpload(job.rec, job.name, job.file.size)) this.asked.push(job);
    else this.fail(job, "Not sent: not connected.");
  }

  /** The UPLOAD's answer: {ok, grant} or {ok: false, text} (client.js "upload"). */
  answered({ ok, grant, text }) {
    const job = this.asked.shift();
    if (!job || job.state !== "asking") return; // cancelled meanwhile: its ticket is left to expire
    if (!ok) this.fail(job, text);
    else if (!grant?.ticket) this.fail(job, "The server's answer was not understood.");
    else this.send(job, grant);
  }

  /** The bytes, by XMLHttpRequest (upload progress), then the CHAT that posts them. */
  send(job, grant) {
    job.state = "sending";
    const xhr = (job.xhr = new XMLHttpRequest());
    xhr.open("POST", uploadUrl(grant.ticket, location.href));
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) showProgress(job, event.loaded, event.total);
    });
    xhr.addEventListener("load", () => this.sent(job, grant, xhr));
    xhr.addEventListener("error", () => this.fail(job, httpError(0, "")));
    xhr.addEventListener("abort", () => job.state === "sending" && this.fail(job, "The upload was cancelled."));
    showProgress(job, 0, job.file.size);
    xhr.send(job.file);
  }

  sent(job, grant, xhr) {
    if (job.state !== "sending") return;
    let receipt = null;
    try {
      receipt = xhr.status === 200 ? JSON.parse(xhr.responseText)?.receipt : null;
    } catch {
      receipt = null;
    }
    if (typeof receipt !== "string" || !receipt) {
      this.fail(job, httpError(xhr.status, xhr.responseText));
      return;
    }
    if (!this.client.ask(fileChatFrame(grant.rec, receipt))) {
      this.fail(job, "Not sent: not connected.");
      return;
    }
    this.remove(job);
  }

  fail(job, text) {
    job.state = "failed";
    job.xhr = null;
    showFailed(job, text);
    this.next();
  }

  /** Cancel (a job under way or waiting) or dismiss (a failed one). */
  cancel(job) {
    const xhr = job.xhr;
    const failed = job.state === "failed";
    job.state = "cancelled";
    job.xhr = null;
    if (xhr) xhr.abort();
    this.remove(job);
    if (!failed) $("message-input").focus();
  }

  remove(job) {
    if (job.state !== "cancelled") job.state = "done";
    this.jobs = this.jobs.filter((j) => j !== job);
    job.node.remove();
    $("uploads").hidden = this.jobs.length === 0;
    this.next();
  }

  /**
   * The connection dropped: what was asked or under way is lost (no answer
   * comes, and a receipt is good only on the connection its ticket was
   * granted to). The jobs still waiting start once online again.
   */
  offline() {
    this.asked = [];
    for (const job of this.jobs) {
      if (job.state !== "asking" && job.state !== "sending") continue;
      const xhr = job.xhr;
      this.fail(job, "Not sent: the connection was lost.");
      xhr?.abort();
    }
  }

  jobOf(node) {
    return this.jobs.find((job) => job.node === node) ?? null;
  }
}

/** An upload's row: name, size, progress, its words, Cancel. */
function uploadItem(job) {
  const item = el("li", "upload");
  item.dataset.state = "waiting";
  const head = el("div", "upload-head");
  head.append(el("span", "upload-name", job.name), el("span", "upload-size", humanSize(job.file.size)));
  const bar = el("progress", "upload-progress");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", `Uploading ${job.name}`);
  bar.hidden = true;
  const words = el("span", "upload-status", "Waiting");
  const cancel = el("button", "upload-cancel", "Cancel");
  cancel.type = "button";
  cancel.setAttribute("aria-label", `Cancel ${job.name}`);
  item.append(head, bar, words, cancel);
  return item;
}

function showJob(job, words) {
  job.node.dataset.state = job.state;
  job.node.querySelector(".upload-status").textContent = words;
}

function showProgress(job, loaded, total) {
  const percent = total > 0 ? Math.floor((loaded / total) * 100) : 0;
  const bar = job.node.querySelector(".upload-progress");
  bar.hidden = false;
  bar.value = percent;
  showJob(job, `${percent} %`);
}

function showFailed(job, text) {
  showJob(job, text);
  const node = job.node;
  node.querySelector(".upload-progress").hidden = true;
  const status = node.querySelector(".upload-status");
  status.classList.add("form-error");
  status.setAttribute("role", "alert");
  const cancel = node.querySelector(".upload-cancel");
  cancel.textContent = "Dismiss";
  cancel.setAttribute("aria-label", `Dismiss: ${job.name}`);
}

/** Whether a drag carries files (not text or a link dragged about the page). */
const carriesFiles = (event) => Array.from(event.dataTransfer?.types ?? []).includes("Files");

/** The image viewer: message `link` full size (its Escape and Close close it). */
function openViewer(link) {
  const viewer = $("file-viewer");
  $("viewer-title").textContent = link.dataset.name;
  const image = el("img");
  image.id = "viewer-image";
  image.alt = link.dataset.name;
  image.src = link.href;
  $("viewer-body").replaceChildren(image); // made when opened: the page has no image of its own but its icon
  $("viewer-download").href = link.href;
  $("viewer-download").download = link.dataset.name;
  viewer.returnFocus = link;
  viewer.showModal();
  $("viewer-close").focus();
}

function closeViewer() {
  const viewer = $("file-viewer");
  if (viewer.open) viewer.close();
}

/**
 * Wire attaching and sending files to the page: the attach button, drops
 * on the conversation, pastes into the composer, the uploads list, thumbnails
 * opening in the viewer. Returns the Uploads.
 */
export function setupFiles(client, openRec) {
  const uploads = new Uploads(client, openRec);
  const input = $("attach-input");
  $("attach").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    const files = Array.from(input.files ?? []);
    input.value = ""; // the same file may be picked again
    if (files.length) uploads.add(files);
  });
  $("uploads").addEventListener("click", (event) => {
    const button = event.target.closest("button.upload-cancel");
    const job = button && uploads.jobOf(button.closest("li.upload"));
    if (job) uploads.cancel(job);
  });
  wireDrop(uploads, client);
  $("composer").addEventListener("paste", (event) => {
    const files = Array.from(event.clipboardData?.files ?? []);
    if (!files.length || $("composer-fields").disabled) return; // text pastes as text
    event.preventDefault();
    const now = new Date();
    uploads.add(files, files.map((file) => pasteName(file, now)));
  });
  $("messages").addEventListener("click", (event) => {
    const link = event.target.closest("a.file-open");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    openViewer(link);
  });
  $("viewer-close").addEventListener("click", closeViewer);
  $("file-viewer").addEventListener("click", (event) => event.target === $("file-viewer") && closeViewer());
  $("file-viewer").addEventListener("close", () => {
    $("viewer-body").replaceChildren();
    const back = $("file-viewer").returnFocus;
    if (back?.isConnected) back.focus();
  });
  return uploads;
}

/** Drag and drop onto the conversation: a drop zone shows while files are dragged over it. */
function wireDrop(uploads, client) {
  const area = document.querySelector(".conversation");
  let depth = 0; // dragenter/dragleave pairs of the area's children
  const show = (on) => {
    $("drop-zone").hidden = !on;
    if (on) $("drop-target").textContent = $("conv-title").textContent;
  };
  area.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth += 1;
    show(true);
  });
  area.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = client.online ? "copy" : "none";
  });
  area.addEventListener("dragleave", (event) => {
    if (!carriesFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) show(false);
  });
  area.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth = 0;
    show(false);
    const files = Array.from(event.dataTransfer.files ?? []);
    if (files.length && client.online) uploads.add(files);
  });
}
