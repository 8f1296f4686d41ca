// Live notifications: keeps the header count current and announces new notifications to
// screen readers. Loaded on every page for signed-in members; does nothing without the badge.
import { io } from "/vendor/socket.io.esm.min.js";

const badge = document.querySelector("#nav-notifications[data-unread]");

function language() {
  return (document.documentElement.lang || "zh").toLowerCase().startsWith("zh") ? "zh" : "en";
}

function setCount(unread) {
  const count = Math.max(0, Number(unread) || 0);
  badge.dataset.unread = String(count);
  badge.classList.toggle("has-unread", count > 0);
  const slot = badge.querySelector("[data-count]");
  if (slot) slot.textContent = count > 0 ? ` (${count})` : "";
}

function say(text) {
  const live = document.getElementById("notifications-live");
  if (!live) return;
  live.textContent = "";
  // A fresh text node after a tick makes screen readers announce repeated messages too.
  window.setTimeout(() => { live.textContent = text; }, 50);
}

function addToList(notification, text) {
  const list = document.getElementById("notification-list");
  if (!list || list.querySelector(`[data-notification-id="${notification.id}"]`)) return;
  const item = document.createElement("li");
  item.className = "notification is-new";
  item.dataset.notificationId = String(notification.id);
  const label = document.createElement("span");
  label.className = "badge new-badge";
  label.textContent = list.dataset.newLabel || "New";
  const link = document.createElement("a");
  link.href = typeof notification.link === "string" && notification.link.startsWith("/")
    ? notification.link : "/notifications";
  link.textContent = text;
  item.append(label, " ", link);
  list.prepend(item);
  document.getElementById("no-notifications")?.remove();
}

// What was missed while live updates were interrupted: the count, and on the notifications
// page the unread ones not shown yet (oldest first, so that the newest ends on top).
async function catchUp() {
  try {
    const response = await fetch("/api/v1/notifications?limit=50", { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    for (const notification of [...(data.notifications || [])].reverse()) {
      if (!notification.read) addToList(notification, notification.text || "");
    }
    setCount(data.unread);
  } catch {
    // Offline again: the next `server:status` or page load tells.
  }
}

if (badge) {
  const socket = io({ withCredentials: true });
  // For people and tests alike: whether live updates are on.
  socket.on("connect", () => { badge.dataset.live = "on"; });
  socket.on("disconnect", () => { badge.dataset.live = "off"; });
  // Back after a lost connection: what was sent meanwhile was missed.
  socket.io.on("reconnect", catchUp);
  // The server's message queue is away ({live: false}) or back ({live: true}): notifications
  // made on its other processes meanwhile did not arrive, so they are read when it is back.
  socket.on("server:status", (payload) => {
    if (!payload || typeof payload.live !== "boolean") return;
    if (!payload.live) {
      badge.dataset.live = "interrupted";
    } else if (badge.dataset.live === "interrupted") {
      badge.dataset.live = "on";
      catchUp();
    }
  });
  socket.on("notification:new", (notification) => {
    if (!notification || typeof notification !== "object") return;
    const texts = notification.texts || {};
    const text = texts[language()] || notification.text || "";
    setCount(notification.unread);
    say(text);
    addToList(notification, text);
  });
}
