// The agent's workspace: presence, queues and load; offers with their countdown; the waiting
// list; one tab per open conversation with its history, the reply box and Close. Everything it
// shows comes from the API's queries and the agent's live stream; everything it does is an API
// command, refused (with the API's message) exactly as it would be over curl.

import { get, post, follow, history, postEvery, postWhenLeaving } from "./api.js";
import { h, attempt, clock, customer, quietly, redrawGuard, showError, showLink } from "./dom.js";

/** Statuses offered at Close. The API takes any; a configured list would belong to the server. */
const HEARTBEAT_MS = 15_000;
/** How many closed tabs' drafts are kept, should their conversations come back. */
const KEPT_TABS = 20;
/** How often the waiting list is read again, to drop what colleagues took. */
const WAITING_MS = 5_000;
/** How often a team admin's list of their teams' conversations is read again. */
const TEAM_BOARD_MS = 5_000;

/** What happened in a conversation, as the history shows it between the messages. */
const EVENT_LINES = {
  ConversationStarted: () => "Conversation started",
  OutboundConversationStarted: (p) => `${p.agent} started the conversation`,
  OfferAccepted: (p) => `${p.agent} accepted`,
  AcceptedFromWaiting: (p) => `${p.agent} took it from the waiting list`,
  ConversationJoined: (p) => `${p.agent} joined`,
  ConversationGrabbed: (p) => `${p.agent} grabbed it`,
  TransferOffered: (p) => `${p.from} offered a transfer to ${p.to}`,
  TransferredToQueue: (p) => `${p.agent} transferred it to queue ${p.queue}`,
  InviteOffered: (p) => `${p.by} invited ${p.to}`,
  AgentLeft: (p) => `${p.agent} left${p.status ? ` (${p.status})` : ""}`,
  ConversationPostponed: (p) => `${p.agent} postponed it`,
  ConversationResumed: (p) => `${p.agent} resumed it`,
  CustomerLeft: () => "The customer left",
  ConversationClosed: (p) => `${p.agent} closed it: ${p.status}`,
  ConversationExpired: () => "Closed: the customer wrote nothing for too long",
  ContactAnonymised: () => "The contact was anonymised",
};

export function agentConsole(root, agent) {
  const state = {
    view: null,
    waiting: [],
    postponed: [],
    offers: new Map(), // conversation → { data, receivedAt }
    team: new Map(), // conversation → { queue, mode, grabbedBy } in the agent's team queues
    teamBoard: [], // for a team admin: the open conversations of the queues they administer
    tabs: new Map(), // conversation → { summary, entries: Map(position → entry), unread }
    kept: new Map(), // conversation → what its tab held (draft, choices) while it is not open
    selected: null,
    notices: [],
    after: 0, // the newest log position seen: reads wait until the views include it
    live: false,
  };
  const base = `/v1/agents/${encodeURIComponent(agent)}`;

  const panels = {
    presence: h("section", { class: "card", id: "presence" }),
    queues: h("section", { class: "card", id: "queues" }),
    offers: h("section", { id: "offers" }),
    waiting: h("section", { class: "card", id: "waiting" }),
    postponed: h("section", { class: "card", id: "postponed" }),
    outbound: h("section", { class: "card", id: "outbound" }),
    teamBoard: h("section", { class: "card", id: "team-board", hidden: true }),
    work: h("section", { class: "card", id: "work" }),
  };
  root.replaceChildren(
    h("div", { class: "agent" },
      h("div", {}, panels.presence, panels.queues, panels.waiting, panels.postponed, panels.teamBoard, panels.outbound),
      h("div", {}, panels.offers, panels.work)),
  );

  function seen(position) {
    state.after = Math.max(state.after, Number(position) || 0);
  }

  async function command(path, body) {
    showError(null);
    const answer = await attempt(() => post(path, body));
    if (answer) {
      seen(answer.position);
      await refresh();
    }
    return answer;
  }

  // One read of the lists at a time; asked for meanwhile, it runs once more after.
  let reading = null;
  let again = false;
  async function refresh() {
    if (reading) {
      again = true;
      return reading;
    }
    reading = readAll();
    try {
      await reading;
    } finally {
      reading = null;
    }
    if (again) {
      again = false;
      await refresh();
    }
  }

  async function readAll() {
    const started = Date.now();
    const [view, waiting, postponed] = await Promise.all([
      quietly(() => get(`${base}?after=${state.after}`)),
      quietly(() => get(`/v1/waiting?agent=${encodeURIComponent(agent)}&after=${state.after}`)),
      quietly(() => get(`${base}/postponed?after=${state.after}`)),
    ]);
    if (view) state.view = view;
    if (waiting) state.waiting = waiting.waiting;
    if (postponed) state.postponed = postponed.postponed;
    // A team admin sees every open conversation of their teams, whoever grabbed it, to join any.
    const boards = await Promise.all((state.view?.admin_of ?? []).map((queue) =>
      quietly(() => get(`/v1/board?team=${encodeURIComponent(queue)}&after=${state.after}`))));
    if (boards.every(Boolean)) state.teamBoard = boards.flatMap((board) => board.conversations);
    for (const id of state.view?.conversations ?? []) {
      if (!state.tabs.has(id)) await openTab(id);
      // Its details change (importance, the reply rules as the window opens and closes).
      else {
        const summary = await quietly(() => get(`/v1/conversations/${id}?after=${state.after}`));
        const tab = state.tabs.get(id);
        if (summary && tab) tab.summary = summary;
      }
    }
    for (const id of [...state.tabs.keys()]) {
      if (!state.view?.conversations.includes(id)) {
        // What the agent was writing and choosing outlives the tab: a conversation postponed and
        // resumed, or gone from a read for a moment, comes back as it was left.
        const { draft, status, handKind, handTo } = state.tabs.get(id);
        if (draft || handTo) state.kept.set(id, { draft, status, handKind, handTo });
        // Only the newest few: a conversation closed for good is never opened again.
        while (state.kept.size > KEPT_TABS) state.kept.delete(state.kept.keys().next().value);
        state.tabs.delete(id);
      }
    }
    if (!state.tabs.has(state.selected)) {
      state.selected = state.tabs.keys().next().value ?? null;
      focusSelected();
    }
    // The offers are the agent view's; the stream adds how long each has left. An offer the
    // stream brought after this read began is kept until the next read says otherwise.
    for (const [id, offer] of [...state.offers.entries()]) {
      if (!state.view?.offers.includes(id) && offer.receivedAt < started) state.offers.delete(id);
    }
    for (const id of state.view?.offers ?? []) {
      if (state.offers.has(id)) continue;
      const summary = await quietly(() => get(`/v1/conversations/${id}?after=${state.after}`));
      if (summary) {
        state.offers.set(id, { type: "ConversationOffered", data: { conversation: summary, time_left_ms: null }, receivedAt: Date.now() });
      }
    }
    // A team conversation that no longer waits (by a read made after the card came): someone
    // grabbed it (say who), the agent is in it, or it ended.
    for (const [id, entry] of [...state.team.entries()]) {
      if (entry.grabbedBy || entry.since >= started) continue;
      if (state.waiting.some((w) => w.conversation === id)) continue;
      const summary = await quietly(() => get(`/v1/conversations/${id}?after=${state.after}`));
      if (!summary) continue;
      const others = summary.agents.filter((a) => a !== agent);
      if (summary.status === "closed" || summary.agents.includes(agent)) state.team.delete(id);
      else if (entry.mode === "grab" && others.length > 0) entry.grabbedBy = others[0];
      else if (entry.mode !== "grab" && others.length > 0) state.team.delete(id);
    }
    render();
  }

  async function openTab(id) {
    const summary = await quietly(() => get(`/v1/conversations/${id}?after=${state.after}`));
    if (!summary) return;
    const tab = { summary, entries: new Map(), unread: false, status: "", draft: "", ...state.kept.get(id) };
    state.kept.delete(id);
    state.tabs.set(id, tab);
    state.selected ??= id;
    await readHistory(id);
  }

  /** Reads the conversation's history from the log; entries are keyed by position, so what
   * the stream already brought is not shown twice. The agent's own messages come this way:
   * their stream tells them of others' doings, not of their own. */
  async function readHistory(id) {
    const tab = state.tabs.get(id);
    if (!tab) return;
    const answer = await quietly(() => history(id));
    for (const event of answer?.events ?? []) {
      tab.entries.set(event.position, { type: event.type, payload: event.payload });
    }
  }

  const sentTransfers = new Map(); // conversation → the agent this one offered it to

  // The live stream: offers and their ends, presence, and what happens in the agent's
  // conversations. Positions make a message received twice (after a reconnect) count once.
  follow(
    `${base}/stream`,
    (type, data, id) => {
      seen(id);
      const payload = data.payload ?? {};
      const mine = payload.agent === agent || payload.to === agent;
      if (["ConversationOffered", "TransferOffered", "InviteOffered"].includes(type) && mine) {
        state.offers.set(payload.conversation, { type, data, receivedAt: Date.now() });
      }
      // A transfer this agent offered: if its addressee declines or lets it ring out, say so.
      if (type === "TransferOffered" && payload.from === agent) sentTransfers.set(payload.conversation, payload.to);
      if (["OfferAccepted", "OfferRejected", "OfferTimedOut", "OfferRescinded"].includes(type)
        && sentTransfers.get(payload.conversation) === payload.agent) {
        sentTransfers.delete(payload.conversation);
        const tab = state.tabs.get(payload.conversation);
        const who = tab ? name(tab.summary) : "a customer";
        if (type === "OfferRejected") notice(`${payload.agent} declined the transfer of ${who}.`);
        if (type === "OfferTimedOut") notice(`${payload.agent} did not answer the transfer of ${who} in time.`);
      }
      if (["OfferAccepted", "OfferRejected", "OfferTimedOut", "OfferRescinded"].includes(type) && mine) {
        state.offers.delete(payload.conversation);
        if (type === "OfferTimedOut") notice(`The offer timed out and went to someone else.`);
      }
      // Team queues: everyone is told; in a grab queue the first grab wins and all hear who.
      if (type === "TeamNotified") {
        state.team.set(payload.conversation, { queue: payload.queue, mode: payload.mode, grabbedBy: null, since: Date.now() });
      }
      if (type === "ConversationGrabbed" || type === "ConversationJoined") {
        const entry = state.team.get(payload.conversation);
        if (entry && payload.agent === agent) state.team.delete(payload.conversation);
        else if (entry && type === "ConversationGrabbed") entry.grabbedBy = payload.agent;
      }
      if (type === "AgentPaused" && payload.agent === agent && payload.automatic) {
        notice(`You were paused (${payload.reason}): you missed an offer. Go ready to take work again.`);
      }
      if (type === "AgentsReminded" && payload.agents?.includes(agent)) {
        remind(payload.conversation);
      }
      const tab = state.tabs.get(payload.conversation);
      if (tab && !tab.entries.has(Number(id))) {
        tab.entries.set(Number(id), { type, payload });
        if (type === "CustomerMessageReceived" && state.selected !== payload.conversation) {
          tab.unread = true;
        }
      }
      // A colleague's conversation joining a waiting list changes only that list.
      if (type === "ConversationEnqueued" && !tab && !state.offers.has(payload.conversation)) {
        waitingSoon();
        return;
      }
      scheduleRefresh();
    },
    (live, error, fresh) => {
      state.live = live;
      showLink(live, error);
      // Following from now (after a restore, or too far behind): positions seen before may be
      // past the server's head, and what the stream told may be stale. Start afresh.
      if (live && fresh) {
        state.after = 0;
        state.team.clear();
        sentTransfers.clear();
      }
      // Back after a cut: the stream resumes where it stopped (or, too far behind, from now),
      // and the lists and the open conversations' histories are read afresh.
      if (live) {
        for (const id of state.tabs.keys()) readHistory(id);
        scheduleRefresh();
      }
    },
  );

  // The waiting list alone: read when a conversation joins it, and every few seconds, as the
  // stream does not say when a colleague takes one (that is for those in it).
  let waitingTimer = null;
  function waitingSoon() {
    waitingTimer ??= setTimeout(async () => {
      waitingTimer = null;
      const waiting = await quietly(() => get(`/v1/waiting?agent=${encodeURIComponent(agent)}&after=${state.after}`));
      if (waiting) state.waiting = waiting.waiting;
      render();
    }, 100);
  }
  setInterval(waitingSoon, WAITING_MS);

  // At most one read of the lists in flight a tenth of a second after a burst begins: a steady
  // stream of events must not put it off for ever.
  let pending = null;
  function scheduleRefresh() {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      refresh();
    }, 100);
  }

  function notice(text) {
    state.notices.push(text);
    render();
  }

  function remind(conversation) {
    const tab = state.tabs.get(conversation);
    const who = tab ? name(tab.summary) : "a customer";
    if ("Notification" in window && Notification.permission === "granted") {
      new Notification("Switchboard", { body: `${who} is waiting for your answer` });
    }
    notice(`${who} is waiting for your answer.`);
  }

  // Focus time is the real figure only if the console says what the agent looks at.
  function focusSelected() {
    if (state.selected && document.hasFocus() && !document.hidden) {
      post(`${base}/focus`, { conversation: state.selected }).catch(() => {});
    }
  }
  window.addEventListener("focus", focusSelected);
  window.addEventListener("blur", () => post(`${base}/blur`).catch(() => {}));
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) post(`${base}/blur`).catch(() => {});
    else focusSelected();
  });
  postEvery(`${base}/heartbeat`, HEARTBEAT_MS);
  // Closing or leaving the page ends the focus at once, rather than when the heartbeat lapses.
  postWhenLeaving(`${base}/blur`);
  // A team admin's stream tells of their teams' conversations only while they are logged in to
  // those queues; the teams' list is read again every few seconds whatever the stream says.
  setInterval(() => {
    if (state.view?.admin_of?.length) scheduleRefresh();
  }, TEAM_BOARD_MS);
  // Countdowns and times tick every second, in place: a redraw under the pointer would eat a click.
  setInterval(() => {
    const now = Date.now();
    for (const span of [...panels.offers.querySelectorAll("[data-since]"), ...panels.waiting.querySelectorAll("[data-since]")]) {
      span.textContent = clock(now - Number(span.dataset.since));
    }
    for (const span of panels.offers.querySelectorAll("[data-until]")) span.textContent = clock(Number(span.dataset.until) - now);
  }, 1000);

  const name = customer;

  const changed = redrawGuard();

  function render() {
    if (changed("presence", [state.view?.presence, state.view?.load, state.view?.name, state.view?.pause_reasons])) renderPresence();
    if (changed("queues", [state.view?.rights, state.view?.queues])) renderQueues();
    if (changed("offers", [[...state.offers.keys()], [...state.team.entries()], state.notices,
      state.waiting.map((w) => w.conversation)])) renderOffers();
    if (changed("waiting", state.waiting.map((w) => [w.conversation, w.queue, w.contact_name, w.handle]))) renderWaiting();
    if (changed("postponed", state.postponed)) renderPostponed();
    if (changed("teamBoard", [state.teamBoard, state.view?.admin_of])) renderTeamBoard();
    renderOutbound();
    if (changed("work", [state.selected, [...state.tabs.entries()].map(([id, tab]) =>
      [id, tab.entries.size, tab.unread, tab.summary]), state.view?.rights, state.view?.close_statuses])) renderWork();
  }

  function renderTeamBoard() {
    const teams = state.view?.admin_of ?? [];
    panels.teamBoard.hidden = teams.length === 0;
    panels.teamBoard.replaceChildren(
      h("h2", {}, `Your teams' conversations (${state.teamBoard.length})`),
      h("p", { class: "muted" }, `As admin of ${teams.join(", ")}: join any of them.`),
      h("ul", { class: "list" }, state.teamBoard.map((row) =>
        h("li", { dataset: { conversation: row.conversation } },
          h("span", {}, `${name(row)} · ${row.queue} · ${row.board_status.replace("_", " ")} · `,
            row.grabbed_by ? `grabbed by ${row.grabbed_by}`
              : row.agents.length ? row.agents.join(", ") : "nobody in it"),
          row.agents.includes(agent) ? h("span", { class: "pill" }, "joined")
            : h("button", { onclick: () => command(`/v1/conversations/${row.conversation}/join`, { agent }) }, "Join")))),
    );
  }

  function renderPostponed() {
    panels.postponed.replaceChildren(
      h("h2", {}, `Postponed (${state.postponed.length})`),
      h("ul", { class: "list" }, state.postponed.map((row) =>
        h("li", { dataset: { conversation: row.conversation } },
          h("span", {}, `${row.contact_name || row.handle || row.contact} · ${row.queue ?? "—"}`),
          h("button", { onclick: () => command(`/v1/conversations/${row.conversation}/resume`, { agent }) }, "Resume")))),
    );
  }

  // Outbound: only to a contact who has written before, which the API checks (and says so).
  function renderOutbound() {
    if (panels.outbound.childElementCount > 0) return;
    const form = h("form", { class: "compose", onsubmit: async (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(event.target));
      const body = { agent, connector: data.connector, contact: data.contact, text: data.text };
      if (data.template) body.template = data.template;
      if (await command("/v1/outbound", body)) event.target.reset();
    } },
      h("input", { name: "connector", placeholder: "Connector (e.g. whatsapp)", required: true }),
      h("input", { name: "contact", placeholder: "Contact's handle (who has written before)", required: true }),
      h("textarea", { name: "text", placeholder: "First message", required: true }),
      h("input", { name: "template", placeholder: "Template (outside the 24-hour window)" }),
      h("button", { type: "submit" }, "Start conversation"));
    panels.outbound.replaceChildren(h("h2", {}, "New outbound conversation"), form);
  }

  function renderPresence() {
    const view = state.view;
    if (!view) return;
    const presence = view.presence;
    const reason = h("select", { id: "pause-reason", "aria-label": "Pause reason",
      onchange: (e) => { state.pauseReason = e.target.value; } },
      (state.view?.pause_reasons ?? []).map((r) => h("option", { value: r, selected: r === state.pauseReason }, r)));
    const load = Object.entries(view.capacity).map(([channel, capacity]) =>
      h("li", {}, h("span", {}, channel), h("span", { class: "pill" }, `${view.load[channel] ?? 0} / ${capacity}`)));
    panels.presence.replaceChildren(
      h("h2", {}, view.name),
      h("p", { id: "presence-state" },
        presence.state === "paused" ? `Paused: ${presence.reason}` : presence.state.replace("_", " ")),
      h("div", { class: "row" },
        h("button", { class: "primary", id: "ready", disabled: presence.state === "ready",
          onclick: () => {
            // Reminders come as notifications where the agent allows them (asked on a click).
            if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
            command(`${base}/ready`);
          } }, "Ready"),
        reason,
        h("label", { class: "muted" }, h("input", { type: "checkbox", id: "paid", checked: state.paid,
          onchange: (e) => { state.paid = e.target.checked; } }), " paid"),
        h("button", { id: "pause", onclick: () => command(`${base}/pause`, { reason: reason.value, paid: Boolean(state.paid) }) }, "Pause")),
      h("h2", {}, "Load"),
      h("ul", { class: "list", id: "load" }, load),
    );
  }

  function renderQueues() {
    const view = state.view;
    if (!view) return;
    panels.queues.replaceChildren(
      h("h2", {}, "Queues"),
      h("ul", { class: "list" }, view.rights.map((queue) => {
        const inside = view.queues.includes(queue);
        const path = `${base}/queues/${encodeURIComponent(queue)}/${inside ? "logout" : "login"}`;
        return h("li", {},
          h("span", {}, queue),
          h("button", { dataset: { queue }, onclick: () => command(path) }, inside ? "Log out" : "Log in"));
      })),
    );
  }

  function renderOffers() {
    const now = Date.now();
    const cards = [...state.offers.entries()].map(([conversation, offer]) => {
      const summary = offer.data.conversation ?? {};
      const left = offer.data.time_left_ms === null ? null : offer.data.time_left_ms - (now - offer.receivedAt);
      const kind = { ConversationOffered: "New conversation", TransferOffered: "Transfer", InviteOffered: "Invitation" }[offer.type];
      return h("div", { class: "card offer", dataset: { conversation } },
        h("h2", {}, `${kind}: ${name(summary)}`),
        h("p", { class: "muted" },
          `Queue ${summary.queue ?? "?"} · ${summary.channel ?? ""} · in queue `,
          h("span", { dataset: { since: Date.parse(summary.started_at) } }, clock(now - Date.parse(summary.started_at))),
          " · offered ", h("span", { dataset: { since: offer.receivedAt } }, clock(now - offer.receivedAt)), " ago"),
        left === null ? null : h("p", {}, "Time left ",
          h("span", { class: "countdown", dataset: { until: offer.receivedAt + offer.data.time_left_ms } }, clock(left))),
        h("div", { class: "row" },
          h("button", { class: "primary", onclick: () => command(`/v1/conversations/${conversation}/accept`, { agent }) }, "Accept"),
          h("button", { class: "danger", onclick: () => command(`/v1/conversations/${conversation}/reject`, { agent }) }, "Reject")));
    });
    const team = [...state.team.entries()].map(([conversation, entry]) => {
      const verb = entry.mode === "grab" ? "Grab" : "Join";
      const row = state.waiting.find((w) => w.conversation === conversation);
      return h("div", { class: "card offer team", dataset: { conversation } },
        h("h2", {}, `${row ? name(row) : "A customer"} in team queue ${entry.queue}`),
        entry.grabbedBy
          ? h("p", { class: "grabbed" }, `Grabbed by ${entry.grabbedBy} `,
            h("button", { onclick: () => { state.team.delete(conversation); render(); } }, "Dismiss"))
          : h("button", { class: "primary", onclick: async () => {
            const answer = await command(`/v1/conversations/${conversation}/${verb.toLowerCase()}`, { agent });
            if (answer) state.team.delete(conversation);
            render();
          } }, verb));
    });
    const notices = state.notices.map((text, n) =>
      h("div", { class: "card notice" }, h("span", {}, text), " ",
        h("button", { onclick: () => { state.notices.splice(n, 1); render(); } }, "Dismiss")));
    panels.offers.replaceChildren(...notices, ...cards, ...team);
  }

  function renderWaiting() {
    panels.waiting.replaceChildren(
      h("h2", {}, `Waiting (${state.waiting.length})`),
      h("ul", { class: "list" }, state.waiting.map((row) =>
        h("li", { dataset: { conversation: row.conversation } },
          h("span", {}, `${row.contact_name || row.handle || row.contact} · ${row.queue} · `,
            h("span", { dataset: { since: Date.parse(row.waiting_since) } }, clock(row.time_in_queue_ms))),
          h("button", { onclick: () => command(`/v1/conversations/${row.conversation}/accept-from-waiting`, { agent }) }, "Accept")))),
    );
  }

  function renderWork() {
    if (state.tabs.size === 0) {
      panels.work.replaceChildren(h("p", { class: "muted" }, "No open conversations. Go ready to receive offers."));
      return;
    }
    const tabs = h("div", { class: "tabs", role: "tablist" }, [...state.tabs.entries()].map(([id, tab]) =>
      h("button", {
        role: "tab", "aria-selected": String(id === state.selected), class: tab.unread ? "unread" : null,
        dataset: { tab: id },
        onclick: () => { state.selected = id; tab.unread = false; focusSelected(); render(); },
      }, name(tab.summary))));
    const tab = state.tabs.get(state.selected);
    // Redrawn whole on every change: what the agent is typing, and where, survive it.
    const typing = document.activeElement?.id === "reply" ? document.activeElement : null;
    const caret = typing ? [typing.selectionStart, typing.selectionEnd] : null;
    panels.work.replaceChildren(tabs, conversationView(state.selected, tab));
    if (caret) {
      const reply = document.getElementById("reply");
      reply.focus();
      reply.setSelectionRange(...caret);
    }
  }

  /** A customer's attachment: a link when the provider gave a web address (never another
   * scheme: the customer chose it), else its kind and the provider's media id. */
  function attachment(a) {
    const label = `${a.kind}${a.mime_type ? ` (${a.mime_type})` : ""}`;
    if (/^https?:\/\//i.test(a.reference)) {
      return h("div", { class: "attachment" },
        h("a", { href: a.reference, target: "_blank", rel: "noopener noreferrer" }, `Attachment: ${label}`));
    }
    return h("div", { class: "attachment muted" }, `Attachment: ${label}: ${a.reference}`);
  }

  function conversationView(id, tab) {
    const entries = [...tab.entries.entries()].sort(([a], [b]) => a - b);
    const history = h("div", { class: "history", id: "history" }, entries.map(([, { type, payload }]) => {
      if (type === "CustomerMessageReceived") {
        return h("div", { class: "message customer" }, payload.text ?? "",
          (payload.attachments ?? []).map(attachment));
      }
      if (type === "AgentMessageSent") {
        return h("div", { class: "message agent", title: payload.agent }, payload.text);
      }
      const line = EVENT_LINES[type];
      return line ? h("div", { class: "event" }, line(payload)) : null;
    }));
    // The channel's rules, as the API states them (the core's own): shown before sending.
    const rules = tab.summary.reply_rules ?? { max_chars: null, template_required: false };
    const text = h("textarea", {
      id: "reply",
      placeholder: rules.template_required
        ? "The 24-hour window has closed: only an approved template may be sent"
        : "Write a reply (Enter sends, Shift+Enter for a new line)",
      disabled: rules.template_required,
    });
    text.value = tab.draft ?? "";
    // The template picker: the connector's approved templates, or a name where it lists none.
    const template = rules.templates?.length
      ? h("select", { id: "template", "aria-label": "Approved template", hidden: !rules.template_required,
        onchange: (e) => { tab.template = e.target.value; } },
        h("option", { value: "" }, "Choose a template…"),
        rules.templates.map((t) => h("option", { value: t, selected: t === tab.template }, t)))
      : h("input", { id: "template", placeholder: "Approved template name", hidden: !rules.template_required,
        value: tab.template ?? "", oninput: (e) => { tab.template = e.target.value; } });
    const counter = h("span", { id: "counter", class: "muted" });
    const sendButton = h("button", { class: "primary", id: "send" }, rules.template_required ? "Send template" : "Send");
    const check = () => {
      const count = [...text.value].length;
      const over = rules.max_chars !== null && count > rules.max_chars;
      counter.textContent = rules.max_chars === null ? "" : `${count} / ${rules.max_chars}`;
      counter.classList.toggle("over", over);
      sendButton.disabled = over;
      sendButton.title = over ? `At most ${rules.max_chars} characters on ${tab.summary.channel}` : "";
      return !over;
    };
    text.addEventListener("input", () => { tab.draft = text.value; check(); });
    check();
    const send = async () => {
      if (rules.template_required) {
        const name = template.value.trim();
        if (!name) return;
        await command(`/v1/conversations/${id}/messages`, { agent, text: `[template ${name}]`, template: name });
        await readHistory(id);
        render();
        return;
      }
      const body = tab.draft ?? "";
      if (!body.trim() || !check()) return;
      tab.draft = "";
      const answer = await command(`/v1/conversations/${id}/messages`, { agent, text: body });
      // Refused: the draft comes back, with the API's reason above it.
      if (!answer) tab.draft = body;
      else await readHistory(id);
      render();
    };
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        send();
      }
    });
    const status = h("select", { id: "status", "aria-label": "Status" },
      h("option", { value: "" }, "Choose a status…"),
      (state.view?.close_statuses ?? []).map((s) => h("option", { value: s, selected: s === tab.status }, s)));
    const close = h("button", { id: "close", class: "danger" }, "Close");
    const why = h("span", { id: "close-why", class: "muted" });
    const update = () => {
      tab.status = status.value;
      close.disabled = !status.value;
      why.textContent = status.value ? "" : "Choose a status before closing.";
      close.title = why.textContent;
    };
    status.addEventListener("change", update);
    close.addEventListener("click", () =>
      command(`/v1/conversations/${id}/close`, { agent, status: status.value }));
    update();
    const important = tab.summary.important;
    // Transfer or invite: to a colleague by id, or to a queue (the best free agent there).
    const kind = h("select", { id: "hand-over-kind", "aria-label": "To",
      onchange: (e) => { tab.handKind = e.target.value; } },
      h("option", { value: "to_agent", selected: tab.handKind !== "to_queue" }, "to agent"),
      h("option", { value: "to_queue", selected: tab.handKind === "to_queue" }, "to queue"));
    const target = h("input", { id: "hand-over-to", placeholder: "agent or queue id", list: "hand-over-queues",
      value: tab.handTo ?? "", oninput: (e) => { tab.handTo = e.target.value; } });
    const queues = h("datalist", { id: "hand-over-queues" },
      (state.view?.rights ?? []).map((q) => h("option", { value: q })));
    const handOver = (what) => {
      const to = target.value.trim();
      if (to) command(`/v1/conversations/${id}/${what}`, { agent, [kind.value]: to });
    };
    sendButton.addEventListener("click", send);
    // Follow the newest message only when there is a new one; otherwise keep where the agent is.
    const grew = entries.length !== tab.shown;
    tab.shown = entries.length;
    const keep = document.getElementById("history")?.scrollTop;
    queueMicrotask(() => { history.scrollTop = grew || keep === undefined ? history.scrollHeight : keep; });
    return h("div", { dataset: { conversation: id } },
      h("div", { class: "row" },
        h("strong", {}, name(tab.summary)),
        h("span", { class: "pill" }, tab.summary.channel),
        h("span", { class: "pill" }, tab.summary.queue ?? ""),
        h("button", { onclick: () => command(`/v1/conversations/${id}/important`, { agent, important: !important }) },
          important ? "★ Important" : "☆ Mark important"),
        h("button", { onclick: () => command(`/v1/conversations/${id}/postpone`, { agent }) }, "Postpone"),
        h("button", { title: "Leave without closing: colleagues in it continue, or it goes back to its queue",
          onclick: () => command(`/v1/conversations/${id}/leave`, { agent }) }, "Leave"),
        kind, target, queues,
        h("button", { onclick: () => handOver("transfer") }, "Transfer"),
        h("button", { onclick: () => handOver("invite") }, "Invite")),
      history,
      h("div", { class: "compose" },
        text,
        h("div", { class: "row" }, template, sendButton, counter, status, close, why)));
  }

  refresh();
}
