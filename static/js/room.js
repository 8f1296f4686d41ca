/**
 * The live room (协商室).
 *
 * The server renders the room page with its recent history, so it reads without
 * JavaScript. This module makes it live: it joins the room over Socket.IO, shows what the
 * server announces, reconnects by itself and catches up by sending the id of the last
 * message it saw (`last_seen_id`), so a dropped connection loses nothing.
 *
 * Contract for other modules of the page (for example static/js/motions.js):
 *
 *   import { socket, emit, consultationId, me } from "./room.js";
 *
 *   socket          the page's one Socket.IO client, connected to this site. Listen to
 *                   room events with socket.on("vote:opened", handler) and so on.
 *   emit(ev, data)  → Promise of the acknowledgement: {ok: true, ...} or
 *                   {ok: false, error: {code, message}}. It never rejects; while the
 *                   connection is down it answers {ok: false, error: {code: "offline"}},
 *                   and without an answer in 10 s {ok: false, error: {code: "timeout"}}.
 *   consultationId  the consultation's id (a number).
 *   me              the viewer: {username, display_name, role, can_post, muted,
 *                   can_moderate, can_record, ...}; filled from the page, then updated
 *                   after every join.
 *
 *   document events (CustomEvent):
 *   "yiting:joined"   after every (re)join; detail is the room:join acknowledgement.
 *   "yiting:message"  for each message newly shown; detail is the message.
 *
 * Safety: message text is rendered to HTML on the server (light Markdown, sanitised) and
 * sent as `html`; this module inserts only that, and everything else as textContent.
 */
import { io } from "/vendor/socket.io.esm.min.js";

const data = JSON.parse(document.getElementById("room-data").textContent);
const S = data.strings;
const T = data.texts;
const ACK_TIMEOUT = 10000;
const SPEAKING_ROLES = ["chair", "secretary", "voter", "speaker"];

export const consultationId = data.consultation_id;
export const me = { ...data.me };
export const socket = io({ autoConnect: false });

const $ = (id) => document.getElementById(id);
const list = $("messages");
const scroller = $("messages-log");
const lang = document.documentElement.lang || "zh-Hans";
const timeFormat = new Intl.DateTimeFormat(lang, {
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
  timeZone: data.timezone || "Asia/Shanghai",
});

let status = data.status;
let floor = data.floor;
let floorDeadline = null;
let hands = [];
const participants = new Map();
const online = new Set();
const seen = new Set();
let lastSeq = 0; // every message up to this one has been shown
let joinedOnce = false;
let gapTimer = null;
// The server says live updates from its other processes are interrupted (`server:status`,
// its message queue is away): what is said is still stored; we catch up when it is back.
let queueDown = false;
let restoring = false;

/** Fill `%(name)s` / `%(n)d` placeholders; the result is used as text only. */
function fill(template, params = {}) {
  return String(template).replace(/%\((\w+)\)[sd]/g, (_m, name) =>
    params[name] === undefined || params[name] === null ? "…" : String(params[name]),
  );
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function emit(event, payload) {
  return new Promise((resolve) => {
    if (!socket.connected) {
      resolve({ ok: false, error: { code: "offline", message: S.reconnecting } });
      return;
    }
    socket.timeout(ACK_TIMEOUT).emit(event, payload, (err, ack) => {
      if (err) resolve({ ok: false, error: { code: "timeout", message: S.timeout } });
      else resolve(ack || { ok: false, error: { code: "no_answer", message: S.timeout } });
    });
  });
}

// --- connection state ---------------------------------------------------------------

function setConnection(state, message) {
  const node = $("connection");
  if (!node) return;
  node.dataset.state = state;
  const texts = {
    connecting: S.connecting,
    connected: S.connected,
    reconnecting: S.reconnecting,
    caught_up: S.caught_up,
    interrupted: T.queue.interrupted,
    restored: T.queue.restored,
  };
  node.textContent = state === "refused" ? fill(S.refused, { message }) : texts[state] || "";
  document.body.classList.toggle(
    "room-offline",
    state === "reconnecting" || state === "refused" || state === "interrupted",
  );
}

// --- messages -------------------------------------------------------------------------

function systemText(message) {
  const system = message.system || {};
  const template = T.system[system.key];
  if (!template) return message.text || "";
  const params = { ...(system.params || {}) };
  if (params.status) params.status = T.statuses[params.status] || params.status;
  if (params.result) params.result = T.results[params.result] || params.result;
  return fill(template, params);
}

function timeElement(iso) {
  const node = el("time", "msg-time");
  if (iso) {
    node.dateTime = iso;
    const moment = new Date(iso);
    if (!Number.isNaN(moment.getTime())) node.textContent = timeFormat.format(moment);
  }
  return node;
}

function roleLabel(role) {
  return (role && T.roles[role]) || role || "";
}

function renderMessage(message) {
  const item = el("li", `msg msg-${message.kind}`);
  item.id = `m-${message.seq}`;
  item.dataset.seq = String(message.seq);
  if (message.kind === "system") {
    const line = el("p", "msg-system");
    line.append(el("span", "msg-tag", S.system), " ", el("span", "msg-text", systemText(message)));
    line.append(" ", timeElement(message.created_at));
    item.append(line);
    return item;
  }
  const author = message.author || {};
  item.dataset.author = author.username || "";
  item.dataset.authorName = author.display_name || "";
  const meta = el("p", "msg-meta");
  meta.append(el("span", "msg-author", author.display_name || ""));
  if (author.role) meta.append(" ", el("span", "role", roleLabel(author.role)));
  if (message.kind === "announcement") meta.append(" ", el("strong", "msg-tag", S.announcement));
  meta.append(" ", timeElement(message.created_at));
  item.append(meta);
  const body = el("div", "msg-body");
  if (message.html) body.innerHTML = message.html; // sanitised on the server
  else body.textContent = message.body || "";
  item.append(body);
  if (message.hidden) applyHidden(item, message);
  return item;
}

function applyHidden(item, message) {
  item.classList.add("msg-hidden");
  item.querySelector(".msg-hidden-note")?.remove();
  const name = message.hidden_by ? message.hidden_by.display_name : "";
  const note = el("p", "msg-hidden-note", fill(S.hidden_note, { name, reason: message.hidden_reason }));
  item.querySelector(".msg-meta")?.after(note);
  if (!me.can_read_hidden) {
    const body = item.querySelector(".msg-body");
    if (body) body.replaceWith(el("p", "msg-body msg-body-hidden", S.hidden_text));
  }
  item.querySelector("[data-action=hide]")?.remove();
}

function addActions(item) {
  if (item.classList.contains("msg-system") || item.querySelector(".msg-actions")) return;
  if (!item.querySelector(".msg-meta")) return;
  const live = status === "live";
  const canHide = me.can_moderate && !item.classList.contains("msg-hidden");
  const canRecord = me.can_record && (live || status === "closed");
  if (!canHide && !canRecord) return;
  const name = item.dataset.authorName || "";
  const bar = el("p", "msg-actions");
  if (canHide) {
    const hide = el("button", "small secondary", S.hide);
    hide.type = "button";
    hide.dataset.action = "hide";
    hide.setAttribute("aria-label", fill(S.hide_label, { name }));
    bar.append(hide);
  }
  if (canRecord) {
    const record = el("button", "small secondary", S.minority);
    record.type = "button";
    record.dataset.action = "minority";
    record.setAttribute("aria-label", fill(S.minority_label, { name }));
    bar.append(record);
  }
  item.append(bar);
}

function nearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

function addMessage(message) {
  if (!message || typeof message.seq !== "number") return;
  if (seen.has(message.seq)) {
    const existing = $(`m-${message.seq}`);
    if (existing && message.hidden && !existing.classList.contains("msg-hidden")) {
      applyHidden(existing, message);
    }
    return;
  }
  const stick = nearBottom();
  seen.add(message.seq);
  const item = renderMessage(message);
  addActions(item);
  let before = null;
  for (const other of list.children) {
    if (Number(other.dataset.seq) > message.seq) {
      before = other;
      break;
    }
  }
  list.insertBefore(item, before);
  $("no-messages")?.remove();
  while (seen.has(lastSeq + 1)) lastSeq += 1;
  if (message.seq > lastSeq + 1 || [...seen].some((seq) => seq > lastSeq)) scheduleGapFill();
  if (stick) scroller.scrollTop = scroller.scrollHeight;
  document.dispatchEvent(new CustomEvent("yiting:message", { detail: message }));
}

/** A message arrived past a gap: fetch what is missing if it does not come by itself. */
function scheduleGapFill() {
  if (gapTimer) return;
  gapTimer = setTimeout(async () => {
    gapTimer = null;
    if (![...seen].some((seq) => seq > lastSeq)) return;
    await fetchAfter(lastSeq);
  }, 1500);
}

async function fetchAfter(after) {
  try {
    const response = await fetch(
      `/api/v1/consultations/${consultationId}/messages?after=${after}&limit=500`,
      { credentials: "same-origin", headers: { Accept: "application/json" } },
    );
    if (!response.ok) return;
    const page = await response.json();
    for (const message of page.messages) addMessage(message);
    if (page.has_more) await fetchAfter(page.last_seq);
  } catch (_error) {
    // The next reconnect catches up with last_seen_id.
  }
}

// --- participants, presence, raised hands ------------------------------------------------

function setParticipants(rows) {
  participants.clear();
  for (const row of rows) participants.set(row.username, { ...row });
}

function setPresence(presence) {
  online.clear();
  for (const person of presence.online || []) {
    online.add(person.username);
    if (!participants.has(person.username)) {
      participants.set(person.username, { ...person, muted: false });
    }
  }
  hands = presence.hands || [];
  renderPeople();
  renderHands();
}

/** A ``presence`` announcement: who of those who came or went is here now, and the hands. */
function applyPresence(changes) {
  // Participants who came for the first time (they may have left again already).
  for (const person of changes.newcomers || []) {
    if (!participants.has(person.username)) {
      participants.set(person.username, { ...person, muted: false });
    }
  }
  for (const person of changes.arrived || []) {
    online.add(person.username);
    if (!participants.has(person.username)) {
      participants.set(person.username, { ...person, muted: false });
    }
  }
  for (const username of changes.left || []) online.delete(username);
  hands = changes.hands || [];
  renderPeople();
  renderHands();
}

function renderPeople() {
  const ul = $("participants");
  ul.replaceChildren();
  for (const person of participants.values()) {
    const item = el("li");
    item.dataset.username = person.username;
    const name = el("span", "name", person.display_name);
    item.append(name);
    if (person.username === me.username) item.append(" ", el("span", "you", S.you));
    item.append(" ", el("span", "role", roleLabel(person.role)));
    const here = online.has(person.username);
    item.append(" ", el("span", `presence-marker${here ? " is-online" : ""}`, here ? S.online : S.offline));
    if (person.muted) item.append(" ", el("span", "muted-marker", S.muted_marker));
    if (me.can_moderate && status === "live" && person.role !== "chair" && person.username !== me.username) {
      const button = el("button", "small secondary", person.muted ? S.unmute : S.mute);
      button.type = "button";
      button.dataset.action = person.muted ? "unmute" : "mute";
      button.dataset.username = person.username;
      button.setAttribute(
        "aria-label",
        fill(person.muted ? S.unmute_label : S.mute_label, { name: person.display_name }),
      );
      item.append(" ", button);
    }
    ul.append(item);
  }
  $("online-count").textContent = `(${fill(S.online_count, { n: online.size })})`;
}

function renderHands() {
  const ol = $("hands");
  ol.replaceChildren();
  for (const hand of hands) {
    const item = el("li");
    item.dataset.username = hand.username;
    item.append(el("span", "name", hand.display_name));
    if (hand.username === me.username) item.append(" ", el("span", "you", S.you));
    if (me.can_moderate && status === "live") {
      const give = el("button", "small", S.give);
      give.type = "button";
      give.dataset.action = "give";
      give.dataset.username = hand.username;
      give.setAttribute("aria-label", fill(S.give_label, { name: hand.display_name }));
      item.append(" ", give);
    }
    ol.append(item);
  }
  $("no-hands").hidden = hands.length > 0;
  renderHandButton();
}

function renderHandButton() {
  const button = $("hand-button");
  if (!button) return;
  const position = hands.findIndex((hand) => hand.username === me.username) + 1;
  const raised = position > 0;
  button.hidden = status !== "live" || !canSpeak();
  button.textContent = raised ? S.lower : S.raise;
  button.setAttribute("aria-pressed", raised ? "true" : "false");
  button.disabled = !raised && me.muted;
  $("hand-status").textContent = raised ? fill(S.hand_position, { n: position }) : "";
}

// --- the floor --------------------------------------------------------------------------

function canSpeak() {
  return SPEAKING_ROLES.includes(me.role) || me.can_moderate;
}

function holdsFloor() {
  if (!floor.holder || floor.holder.username !== me.username) return false;
  return floorDeadline === null || Date.now() < floorDeadline;
}

function whyNot() {
  if (status !== "live") return S.why_closed;
  if (!canSpeak()) return S.why_observer;
  if (me.muted) return S.why_muted;
  if (floor.mode === "moderated" && !me.can_moderate && !holdsFloor()) return S.why_floor;
  return "";
}

function setFloor(next) {
  floor = next;
  floorDeadline =
    next.holder && typeof next.seconds_left === "number" ? Date.now() + next.seconds_left * 1000 : null;
  renderFloor();
}

function formatSeconds(total) {
  const minutes = Math.floor(total / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return `${minutes}:${seconds}`;
}

function renderFloor() {
  const mode = $("floor-mode");
  mode.dataset.mode = floor.mode;
  mode.textContent = floor.mode === "moderated" ? S.mode_moderated : S.mode_open;
  $("floor-holder").textContent = floor.holder
    ? fill(S.holder, { name: floor.holder.display_name })
    : S.no_floor;
  for (const [id, value] of [["mode-open", "open"], ["mode-moderated", "moderated"]]) {
    $(id)?.setAttribute("aria-pressed", floor.mode === value ? "true" : "false");
  }
  const take = $("take-floor");
  if (take) take.disabled = !floor.holder;
  tick();
  updateComposer();
}

function tick() {
  const countdown = $("floor-countdown");
  const mine = $("composer-floor"); // the holder also sees it next to the composer
  const holding = Boolean(floor.holder) && floor.holder.username === me.username;
  if (mine) mine.hidden = !holding;
  if (!floor.holder || floorDeadline === null) {
    countdown.hidden = true;
    countdown.textContent = "";
    if (mine) mine.textContent = S.you_hold;
    return;
  }
  const left = Math.max(0, Math.ceil((floorDeadline - Date.now()) / 1000));
  const text = left > 0 ? fill(S.time_left, { time: formatSeconds(left) }) : S.time_up;
  countdown.hidden = false;
  countdown.classList.toggle("is-over", left === 0);
  countdown.textContent = text;
  if (mine) {
    mine.textContent = `${S.you_hold} ${text}`;
    mine.classList.toggle("is-over", left === 0);
  }
  if (left === 0 && holding) updateComposer();
}

// --- the composer -------------------------------------------------------------------------

const composer = $("composer");
const textarea = $("composer-body");
const sendButton = $("composer-send");
let pending = null; // {body, client_id} until the server has answered
let sending = false;

function clientId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function updateComposer() {
  if (!composer) return;
  const why = whyNot();
  me.can_post = !why;
  textarea.disabled = Boolean(why);
  sendButton.disabled = Boolean(why) || sending;
  const whyNode = $("composer-why");
  whyNode.hidden = !why;
  whyNode.textContent = why;
}

function composerStatus(text, isError = false) {
  const node = $("composer-status");
  node.textContent = text;
  node.classList.toggle("error-message", isError && Boolean(text));
}

async function send() {
  if (sending) return;
  const body = textarea.value;
  if (!pending || pending.body !== body) pending = { body, client_id: clientId() };
  sending = true;
  sendButton.textContent = S.sending;
  updateComposer();
  const announcement = $("composer-announcement");
  const ack = await emit("message:send", {
    consultation_id: consultationId,
    body,
    client_id: pending.client_id,
    announcement: Boolean(announcement && announcement.checked),
  });
  sending = false;
  sendButton.textContent = S.send;
  if (ack.ok) {
    pending = null;
    textarea.value = "";
    if (announcement) announcement.checked = false;
    composerStatus("");
    addMessage(ack.message);
  } else {
    const transient = ack.error.code === "timeout" || ack.error.code === "offline";
    if (!transient) pending = null; // refused: nothing was stored
    composerStatus(fill(S.send_failed, { message: ack.error.message }), true);
  }
  updateComposer();
  textarea.focus();
}

if (composer) {
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send();
    }
  });
}

// --- chair and secretary actions ----------------------------------------------------------

const statusTimers = new Map();

function flash(node, text, isError) {
  if (!node) return;
  node.textContent = text;
  node.classList.toggle("error-message", isError);
  clearTimeout(statusTimers.get(node));
  if (!isError) statusTimers.set(node, setTimeout(() => (node.textContent = ""), 4000));
}

async function chairAction(event, payload, statusNode = $("chair-status")) {
  const ack = await emit(event, { consultation_id: consultationId, ...payload });
  flash(statusNode, ack.ok ? S.done : ack.error.message, !ack.ok);
  return ack;
}

const dialog = $("hide-dialog");
let hideTarget = null;

function openHideDialog(item, opener) {
  hideTarget = { seq: Number(item.dataset.seq), opener };
  const body = item.querySelector(".msg-body");
  $("hide-quote").textContent = `${item.dataset.authorName || ""}: ${body ? body.textContent.trim() : ""}`;
  $("hide-reason").value = "";
  $("hide-status").hidden = true;
  dialog.showModal();
  $("hide-reason").focus();
}

function closeHideDialog() {
  dialog.close();
  hideTarget?.opener?.focus();
  hideTarget = null;
}

$("hide-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!hideTarget) return;
  const ack = await emit("message:hide", {
    consultation_id: consultationId,
    message_id: hideTarget.seq,
    reason: $("hide-reason").value,
  });
  if (ack.ok) {
    const item = $(`m-${hideTarget.seq}`);
    if (item) applyHidden(item, ack.message);
    const opener = hideTarget.opener;
    hideTarget.opener = item && item.contains(opener) ? opener : scroller;
    closeHideDialog();
  } else {
    const node = $("hide-status");
    node.textContent = ack.error.message;
    node.hidden = false;
  }
});
$("hide-cancel").addEventListener("click", closeHideDialog);

list.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const item = button.closest("li.msg");
  if (button.dataset.action === "hide") openHideDialog(item, button);
  if (button.dataset.action === "minority") {
    const ack = await emit("minority:record", {
      consultation_id: consultationId,
      message_id: Number(item.dataset.seq),
    });
    let note = item.querySelector(".msg-action-status");
    if (!note) {
      note = el("p", "msg-action-status");
      note.setAttribute("role", "status");
      item.append(note);
    }
    note.textContent = ack.ok ? S.minority_done : ack.error.message;
    note.classList.toggle("error-message", !ack.ok);
  }
});

$("participants").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const action = button.dataset.action === "mute" ? "participant:mute" : "participant:unmute";
  chairAction(action, { username: button.dataset.username });
});

$("hands").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action=give]");
  if (!button) return;
  chairAction("floor:give", { username: button.dataset.username, ...speakingTime() });
});

function speakingTime() {
  const value = $("speaking-time")?.value;
  return value ? { seconds: Number(value) } : {};
}

$("mode-open")?.addEventListener("click", () => chairAction("floor:mode", { mode: "open" }));
$("mode-moderated")?.addEventListener("click", () => chairAction("floor:mode", { mode: "moderated" }));
$("give-next")?.addEventListener("click", () => chairAction("floor:give", speakingTime()));
$("take-floor")?.addEventListener("click", () => chairAction("floor:take", {}));

$("hand-button")?.addEventListener("click", async () => {
  const raised = hands.some((hand) => hand.username === me.username);
  const ack = await emit(raised ? "hand:lower" : "hand:raise", { consultation_id: consultationId });
  if (ack.ok) setPresence(ack.presence);
  else $("hand-status").textContent = ack.error.message;
});

$("minority-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const payload = { text: $("minority-text").value };
  const username = $("minority-username").value.trim();
  const motion = $("minority-motion").value.trim();
  if (username) payload.username = username;
  if (motion) payload.motion_id = Number(motion);
  const ack = await chairAction("minority:record", payload, $("minority-status"));
  if (ack.ok) $("minority-form").reset();
});

// --- what the server announces -------------------------------------------------------------

socket.on("message:new", (message) => {
  if (message.consultation_id === consultationId) addMessage(message);
});

socket.on("message:hidden", (payload) => {
  if (payload.consultation_id !== consultationId) return;
  const item = $(`m-${payload.message.seq}`);
  if (item) applyHidden(item, payload.message);
});

socket.on("presence", (payload) => {
  if (payload.consultation_id === consultationId) applyPresence(payload);
});

socket.on("floor:updated", (payload) => {
  if (payload.consultation_id === consultationId) setFloor(payload);
});

socket.on("participant:muted", (payload) => {
  if (payload.consultation_id !== consultationId) return;
  const person = participants.get(payload.username);
  if (person) person.muted = payload.muted;
  if (payload.username === me.username) {
    me.muted = payload.muted;
    updateComposer();
  }
  renderPeople();
  renderHandButton();
});

socket.on("participants:updated", (payload) => {
  if (payload.consultation_id !== consultationId || !payload.participant) return;
  const row = payload.participant;
  participants.set(row.username, { ...(participants.get(row.username) || {}), ...row });
  if (row.username === me.username) {
    me.role = row.role;
    updateComposer();
  }
  renderPeople();
});

socket.on("consultation:status", (payload) => {
  if (payload.consultation_id !== consultationId) return;
  status = payload.status;
  if (status !== "live") {
    $("chair-controls")?.setAttribute("hidden", "");
    for (const button of list.querySelectorAll("button[data-action=hide]")) button.remove();
  }
  renderPeople();
  renderHands();
  updateComposer();
});

// --- joining and catching up ------------------------------------------------------------------

async function join() {
  const ack = await emit("room:join", { consultation_id: consultationId, last_seen_id: lastSeq });
  if (!ack.ok) {
    restoring = false;
    setConnection("refused", ack.error.message);
    return;
  }
  Object.assign(me, ack.me);
  status = ack.consultation.status;
  setParticipants(ack.participants);
  for (const message of ack.messages) addMessage(message);
  if (ack.has_more) await fetchAfter(lastSeq);
  setPresence(ack.presence);
  setFloor(ack.floor);
  if (queueDown) setConnection("interrupted");
  else if (restoring) setConnection("restored");
  else setConnection(joinedOnce ? "caught_up" : "connected");
  restoring = false;
  joinedOnce = true;
  document.dispatchEvent(new CustomEvent("yiting:joined", { detail: ack }));
}

socket.on("connect", join);
socket.on("disconnect", () => setConnection("reconnecting"));
socket.io.on("reconnect_attempt", () => setConnection("reconnecting"));
socket.on("connect_error", (error) => {
  if (socket.active) setConnection("reconnecting");
  else setConnection("refused", (error.data && error.data.message) || error.message);
});

// The server's message queue is away ({live: false, code: "queue_unavailable"}) or back
// ({live: true}). Told when it changes, and at connect while it is away.
socket.on("server:status", (payload) => {
  if (!payload || typeof payload.live !== "boolean") return;
  if (!payload.live) {
    queueDown = true;
    setConnection("interrupted");
  } else if (queueDown) {
    queueDown = false;
    restoring = true;
    join(); // catch up at once with last_seen_id, as after a reconnect
  }
});
// A new connection is told again if the queue is still away.
socket.on("disconnect", () => {
  queueDown = false;
});

// --- start ------------------------------------------------------------------------------------

for (const item of list.querySelectorAll("li.msg")) {
  seen.add(Number(item.dataset.seq));
  addActions(item);
}
lastSeq = seen.size ? Math.max(...seen) : 0;
setParticipants(data.participants);
setPresence(data.presence);
setFloor(data.floor);
scroller.scrollTop = scroller.scrollHeight;
if (me.can_moderate && status === "live") $("chair-controls")?.removeAttribute("hidden");
if (me.can_record) $("minority-controls")?.removeAttribute("hidden");
setInterval(tick, 1000);
setConnection("connecting");
socket.connect();
