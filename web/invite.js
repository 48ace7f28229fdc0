// The Invite dialog: a QR code and the link of the address this page was opened on, for a phone or
// another computer to join. The gateway draws the code (invite.svg?url=...): nothing outside this chat's
// own server is asked. A page opened on this computer's own address (localhost) shows this computer's
// LAN addresses instead (the gateway's `invite`), since no other device can reach localhost.

const $ = (id) => document.getElementById(id);

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** The page's own address, without query or fragment: what a newcomer opens. */
export function pageAddress(href) {
  return new URL(".", href).href;
}

/** Whether a page opened on `hostname` is on this computer's own address. */
export function isLoopbackHost(hostname) {
  return LOOPBACK_HOST.test(hostname);
}

export function setupInvite() {
  const dialog = $("share-dialog");
  const opener = $("share-open");
  const qr = $("share-qr");
  const link = $("share-link");
  const note = $("share-note");
  const others = $("share-others");
  const status = $("share-status");
  let shown = "";

  function show(url) {
    shown = url;
    qr.src = `invite.svg?url=${encodeURIComponent(url)}`;
    qr.alt = `QR code of ${url}`;
    qr.hidden = false;
    link.href = url;
    link.textContent = url;
  }

  function say(text) {
    note.textContent = text;
    note.hidden = !text;
  }

  async function showLanAddresses(here) {
    let urls = [];
    try {
      const answer = await fetch("invite", { cache: "no-store" });
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
      urls = (await answer.json()).urls ?? [];
    } catch {
      show(here);
      say("This page was opened on this computer's own address, which other devices cannot open, " +
          "and the server did not say its network addresses.");
      return;
    }
    if (!urls.length) {
      show(here);
      qr.hidden = true;
      say("This page was opened on this computer's own address, which other devices cannot open, " +
          "and this computer has no network address: connect it to the network first.");
      return;
    }
    show(urls[0]);
    say("This page was opened on this computer's own address; on another device use:");
    for (const url of urls.slice(1)) {
      const item = document.createElement("li");
      const other = document.createElement("a");
      other.href = url;
      other.textContent = url;
      other.addEventListener("click", (event) => { event.preventDefault(); show(url); });
      item.append(other);
      others.append(item);
    }
    others.hidden = urls.length < 2;
  }

  async function open() {
    status.textContent = "";
    say("");
    others.replaceChildren();
    others.hidden = true;
    const here = pageAddress(window.location.href);
    dialog.showModal();
    if (isLoopbackHost(window.location.hostname)) await showLanAddresses(here);
    else show(here);
  }

  async function copy() {
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(shown);
        copied = true;
      } catch { /* refused: select it instead, below */ }
    }
    if (!copied) {
      // Plain http on a LAN has no clipboard API: select the link, and copy it the old way if allowed.
      const range = document.createRange();
      range.selectNodeContents(link);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try { copied = document.execCommand("copy"); } catch { copied = false; }
    }
    status.textContent = copied ? "Copied." : "The link is selected: copy it with Ctrl+C (or ⌘C).";
  }

  opener.addEventListener("click", open);
  $("share-close").addEventListener("click", () => dialog.close());
  $("share-copy").addEventListener("click", copy);
  dialog.addEventListener("close", () => opener.focus());
}
