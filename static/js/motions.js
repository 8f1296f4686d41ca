/**
 * Motions and votes in the live room.
 *
 * The server renders the motion panel (templates/motions/_panel.html), and its forms work
 * without JavaScript. This module makes it live:
 *
 * - it sends the panel's forms as Socket.IO events (the same services as the forms and the
 *   JSON API) and shows each refusal next to the form that caused it;
 * - when the room hears `motion:updated`, `vote:opened` or `vote:closed`, it fetches the
 *   motion's card again from the server (one renderer for both paths) and swaps it in,
 *   keeping what the person was typing; `vote:tally` updates the bars in place;
 * - after every (re)join of the room (`yiting:joined`) it reloads the whole panel, so a
 *   dropped connection misses nothing;
 * - a secret ballot's receipt code is shown once, on this page only.
 *
 * Every server text is inserted as text; fragments are HTML rendered (and escaped) by the
 * server of this site.
 */
import { socket, emit, consultationId, me } from "./room.js";

const panel = document.getElementById("motions-panel");
if (panel && panel.dataset.consultationId === String(consultationId)) {
  start();
}

function start() {
  const texts = JSON.parse(panel.dataset.texts || "{}");
  const list = document.getElementById("motions-list");
  const statusLine = document.getElementById("motions-status");
  const receipts = new Map(); // vote id → {receipt, label}: kept on this page only
  const timers = new Map();
  const waiting = new Set();
  let panelTimer = null;

  /** Fill `%(name)s` placeholders; the result is used as text only. */
  function fill(template, params) {
    return String(template || "").replace(/%\((\w+)\)[sd]/g, (_m, key) =>
      params[key] === undefined || params[key] === null ? "" : String(params[key]),
    );
  }

  function say(text) {
    if (statusLine) statusLine.textContent = text || "";
  }

  function cardUrl(motionId) {
    return panel.dataset.cardUrl.replace(/\/0\/card$/, `/${motionId}/card`);
  }

  async function fetchFragment(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      cache: "no-store",
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const template = document.createElement("template");
    template.innerHTML = await response.text();
    return template.content;
  }

  // --- keeping what the person was doing across a swap -----------------------------------

  function fieldKey(field) {
    const form = field.form;
    const owner = form
      ? `${form.dataset.event || ""}:${form.dataset.voteId || form.dataset.amendmentId || form.dataset.motionId || ""}`
      : "";
    return `${owner}|${field.name}|${field.type === "radio" || field.type === "checkbox" ? field.value : ""}`;
  }

  function capture(root) {
    const state = { values: new Map(), checked: new Map(), open: new Set(), focus: null };
    root.querySelectorAll("input, textarea, select").forEach((field) => {
      if (field.type === "hidden" || !field.name) return;
      const key = fieldKey(field);
      if (field.type === "radio" || field.type === "checkbox") {
        if (field.checked !== field.defaultChecked) state.checked.set(key, field.checked);
      } else if (field.tagName === "SELECT") {
        const chosen = field.selectedOptions[0];
        if (chosen && !chosen.defaultSelected) state.values.set(key, field.value);
      } else if (field.value !== field.defaultValue) {
        state.values.set(key, field.value);
      }
    });
    root.querySelectorAll("details[open][data-key]").forEach((d) => state.open.add(d.dataset.key));
    const active = document.activeElement;
    if (active && root.contains(active) && active.id) state.focus = active.id;
    return state;
  }

  function restore(root, state) {
    root.querySelectorAll("input, textarea, select").forEach((field) => {
      if (field.type === "hidden" || !field.name) return;
      const key = fieldKey(field);
      if (state.checked.has(key)) field.checked = state.checked.get(key);
      if (state.values.has(key)) field.value = state.values.get(key);
    });
    root.querySelectorAll("details[data-key]").forEach((d) => {
      if (state.open.has(d.dataset.key)) d.open = true;
    });
    if (state.focus) {
      const again = document.getElementById(state.focus);
      if (again && root.contains(again)) again.focus({ preventScroll: true });
    }
  }

  function typingIn(node) {
    const active = document.activeElement;
    return Boolean(
      active &&
        node.contains(active) &&
        (active.tagName === "TEXTAREA" || (active.tagName === "INPUT" && active.type !== "radio" && active.type !== "checkbox")),
    );
  }

  // --- swapping cards ---------------------------------------------------------------------

  function prepare(root) {
    root.querySelectorAll("form[data-event]").forEach(showKindFields);
    root.querySelectorAll("[data-receipt-slot]").forEach((slot) => {
      const box = slot.closest("[data-vote-id]");
      const kept = box && receipts.get(box.dataset.voteId);
      if (kept) showReceipt(slot, kept);
    });
  }

  function place(fresh, force) {
    const id = fresh.dataset.motionId;
    const current = document.getElementById(`motion-${id}`);
    if (!current) {
      list.querySelector(".motions-empty")?.remove();
      list.append(fresh);
      prepare(fresh);
      return;
    }
    if (!force && typingIn(current)) {
      // Do not pull the text box from under someone typing: update when they leave it.
      if (!waiting.has(id)) {
        waiting.add(id);
        current.addEventListener(
          "focusout",
          () => {
            waiting.delete(id);
            setTimeout(() => refreshCard(id), 100);
          },
          { once: true },
        );
      }
      return;
    }
    const state = capture(current);
    current.replaceWith(fresh);
    prepare(fresh);
    restore(fresh, state);
  }

  async function loadCard(motionId, force) {
    try {
      const fragment = await fetchFragment(cardUrl(motionId));
      const fresh = fragment.querySelector(".motion-card");
      if (fresh) place(fresh, force);
    } catch (_error) {
      // The next announcement or re-join brings the panel up to date.
    }
  }

  function refreshCard(motionId, force = false) {
    if (!motionId) return;
    const key = String(motionId);
    clearTimeout(timers.get(key));
    timers.set(
      key,
      setTimeout(() => {
        timers.delete(key);
        loadCard(key, force);
      }, 120),
    );
  }

  async function refreshPanel() {
    try {
      const fragment = await fetchFragment(panel.dataset.panelUrl);
      fragment.querySelectorAll(".motion-card").forEach((fresh) => place(fresh, false));
    } catch (_error) {
      // try again at the next (re)join
    }
  }

  // --- live results -----------------------------------------------------------------------

  function updateTally(payload) {
    const box = document.getElementById(`vote-${payload.id}`);
    const chart = box && box.querySelector("[data-vote-chart]");
    if (!chart) {
      refreshCard(payload.motion_id);
      return;
    }
    const counts = payload.counts || {};
    const cast = payload.ballots_cast || 0;
    const top = Math.max(0, ...Object.values(counts));
    chart.querySelectorAll("[data-choice]").forEach((row) => {
      const n = counts[row.dataset.choice] || 0;
      row.querySelector("[data-count]").textContent = String(n);
      row.querySelector("[data-percent]").textContent = String(cast ? Math.round((100 * n) / cast) : 0);
      row.querySelector(".bar-fill").setAttribute("width", String(top ? (100 * n) / top : 0));
    });
    const caption = chart.querySelector("figcaption");
    if (caption) caption.textContent = fill(texts.chart_caption, { n: cast, m: payload.eligible });
    const turnout = box.querySelector("[data-turnout]");
    if (turnout) turnout.textContent = fill(texts.ballots_cast, { n: cast, m: payload.eligible });
  }

  // --- receipts ---------------------------------------------------------------------------

  function showReceipt(slot, kept) {
    slot.replaceChildren();
    const title = document.createElement("p");
    const strong = document.createElement("strong");
    strong.textContent = texts.receipt_title;
    title.append(strong);
    const code = document.createElement("p");
    const codeText = document.createElement("code");
    codeText.textContent = kept.receipt;
    code.append(codeText);
    const note = document.createElement("p");
    note.textContent = texts.receipt_note;
    slot.append(title, code, note);
  }

  // --- forms ------------------------------------------------------------------------------

  function showKindFields(form) {
    const kinds = form.querySelectorAll("input[name=kind]");
    if (!kinds.length) return;
    const apply = () => {
      const chosen = form.querySelector("input[name=kind]:checked");
      const kind = chosen ? chosen.value : "yes_no_abstain";
      form.querySelectorAll("[data-show-for-kind]").forEach((node) => {
        node.hidden = node.dataset.showForKind !== kind;
      });
    };
    kinds.forEach((radio) => radio.addEventListener("change", apply));
    apply();
  }

  function payloadOf(form) {
    const payload = {};
    if (form.dataset.motionId) payload.motion_id = Number(form.dataset.motionId);
    if (form.dataset.amendmentId) payload.amendment_id = Number(form.dataset.amendmentId);
    if (form.dataset.voteId) payload.vote_id = Number(form.dataset.voteId);
    if (form.dataset.event === "motion:create") payload.consultation_id = consultationId;
    for (const [key, value] of new FormData(form).entries()) {
      if (key === "csrf_token" || key === "next" || key === "secret") continue;
      if (key === "options") {
        payload.options = String(value)
          .split("\n")
          .map((line) => line.trim())
          .filter(Boolean);
      } else if (key === "duration_minutes") {
        const minutes = Number(value);
        if (value && minutes > 0) payload.deadline = new Date(Date.now() + minutes * 60000).toISOString();
      } else if (key === "quorum") {
        payload.quorum = value || null;
      } else if ((key === "threshold" || key === "results") && !value) {
        continue;
      } else {
        payload[key] = value;
      }
    }
    const secret = form.querySelector("input[name=secret]");
    if (secret) payload.secret = secret.checked;
    if (form.dataset.event === "vote:open") {
      if (payload.kind === "options") delete payload.threshold;
      else delete payload.options;
    }
    return payload;
  }

  function motionOf(form, ack) {
    if (ack.motion && ack.motion.id) return ack.motion.id;
    if (ack.vote && ack.vote.motion_id) return ack.vote.motion_id;
    const card = form.closest("[data-motion-id]");
    return card ? card.dataset.motionId : null;
  }

  panel.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-event]");
    if (!form || !panel.contains(form)) return;
    event.preventDefault();
    const error = form.querySelector(".form-error");
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    const ack = await emit(form.dataset.event, payloadOf(form));
    if (button) button.disabled = false;
    if (!ack || !ack.ok) {
      if (error) {
        error.textContent = (ack && ack.error && ack.error.message) || texts.failed;
        error.hidden = false;
      }
      return;
    }
    if (error) {
      error.textContent = "";
      error.hidden = true;
    }
    if (form.dataset.event === "ballot:cast" && ack.ballot) {
      const ballot = ack.ballot;
      if (ballot.receipt) receipts.set(String(ballot.vote_id), { receipt: ballot.receipt });
      say(texts[`ballot_${ballot.status}`] || texts.saved);
    } else {
      say(texts.saved);
    }
    form.reset();
    const details = form.closest("details");
    if (details) details.open = false;
    refreshCard(motionOf(form, ack), true);
  });

  // --- what the room hears ----------------------------------------------------------------

  const ours = (payload) => payload && Number(payload.consultation_id) === Number(consultationId);

  socket.on("motion:updated", (payload) => {
    if (ours(payload)) refreshCard(payload.id);
  });
  socket.on("vote:opened", (payload) => {
    if (!ours(payload)) return;
    refreshCard(payload.motion_id);
    say(payload.title);
  });
  socket.on("vote:tally", (payload) => {
    if (ours(payload)) updateTally(payload);
  });
  socket.on("vote:closed", (payload) => {
    if (!ours(payload)) return;
    refreshCard(payload.motion_id, true);
    // the label in this page's language (the announcement carries the server's default one)
    const results = texts.results || {};
    const label = results[payload.result] || fill(texts.chosen, { option: payload.result });
    say(`${payload.title} — ${label || payload.result_label || payload.result}`);
  });
  socket.on("consultation:status", (payload) => {
    // The room opened or closed: what each person may do changes on every card.
    if (!ours(payload)) return;
    clearTimeout(panelTimer);
    panelTimer = setTimeout(refreshPanel, 300);
  });
  document.addEventListener("yiting:joined", () => {
    clearTimeout(panelTimer);
    panelTimer = setTimeout(refreshPanel, 50);
  });

  prepare(panel);
  panel.dataset.live = me && me.username ? "ready" : "ready-anonymous";
}
