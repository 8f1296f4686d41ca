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

if (badge) {
  const socket = io({ withCredentials: true });
  // For people and tests alike: whether live updates are on.
  socket.on("connect", () => { badge.dataset.live = "on"; });
  socket.on("disconnect", () => { badge.dataset.live = "off"; });
  socket.on("notification:new", (notification) => {
    if (!notification || typeof notification !== "object") return;
    const texts = notification.texts || {};
    const text = texts[language()] || notification.text || "";
    setCount(notification.unread);
    say(text);
    addToList(notification, text);
  });
}
