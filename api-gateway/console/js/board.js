// The supervisor's board: the status board (live), the queues' figures and waiting lists, the
// agents, missed interactions, the interaction list with its filters and exports, and a
// conversation's history. Everything comes from the API within the signed-in key's rights (the
// server filters; the page never widens or narrows what it is given) and from the dashboard
// stream, which resumes with Last-Event-ID after a cut.

import { get, post, follow, download, history } from "./api.js";
import { h, attempt, clock, customer, quietly, redrawGuard, showError, showLink } from "./dom.js";
import { queueChart } from "./chart.js";

/** Minutes per interval of the queues' charts. */
const CHART_STEP = 30;
/** How many closed conversations the Closed column keeps. */
const CLOSED_KEPT = 200;

const COLUMNS = [
  ["rep_needed", "Rep Needed"],
  ["pending", "Pending"],
  ["soon_overdue", "Soon to be overdue"],
  ["overdue", "Overdue"],
  ["answered", "Answered"],
  ["closed", "Closed"],
];

const INTERACTION_COLUMNS = [
  ["time", "Time"], ["queue", "Queue"], ["user", "User"], ["contact", "Contact"],
  ["external_contact", "External contact"], ["title", "Title"], ["answered", "Answered"],
  ["wait_time", "Wait time"], ["duration", "Duration"], ["ended_by", "Ended by"], ["connector", "Connector"],
  ["missed", "Missed"], ["missed_time", "Missed time"], ["direction", "Direction"],
];

export function supervisorBoard(root, me) {
  const state = {
    rows: new Map(), // conversation → board row
    queues: new Map(), // queue → figures
    series: [], // per queue, today interval by interval
    agents: new Map(), // agent → summary
    waiting: [],
    missed: [],
    team: "",
    status: "",
    joined: "",
    after: 0,
    interactions: { filter: {}, sort: "time", order: "desc", pages: [null], page: 0, rows: [], next: null },
  };

  const panels = {
    filters: h("div", { class: "row", id: "board-filters" }),
    board: h("div", { class: "columns", id: "board" }),
    queues: h("section", { class: "card", id: "queues" }),
    agents: h("section", { class: "card", id: "agents" }),
    missed: h("section", { class: "card", id: "missed" }),
    interactions: h("section", { class: "card", id: "interactions" }),
    history: h("section", { class: "card", id: "history-panel", hidden: true }),
    audit: h("section", { class: "card", id: "audit", hidden: true }),
  };
  root.replaceChildren(
    h("section", { class: "card" }, h("h2", {}, "Status board"), panels.filters, panels.board),
    panels.history,
    h("div", { class: "grid-2" }, panels.queues, panels.agents),
    panels.missed,
    panels.interactions,
    panels.audit,
  );

  async function load() {
    // Open conversations only: the closed ones of all time would grow without bound; those that
    // close while the board is open join the Closed column live.
    const [open, queues, agents, waiting, missed] = await Promise.all([
      quietly(() => get(`/v1/board?after=${state.after}`)),
      quietly(() => get(`/v1/queues?after=${state.after}`)),
      quietly(() => get(`/v1/agents?after=${state.after}`)),
      quietly(() => get(`/v1/waiting?after=${state.after}`)),
      quietly(() => get(`/v1/missed?after=${state.after}`)),
    ]);
    // The stream runs while these are read, and what it brought is newer: a read fills in only
    // what the stream has not told of yet.
    for (const row of open?.conversations ?? []) {
      if (!state.rows.has(row.conversation)) state.rows.set(row.conversation, row);
    }
    for (const figures of queues?.queues ?? []) {
      if (!state.queues.has(figures.queue)) state.queues.set(figures.queue, figures);
    }
    for (const agent of agents?.agents ?? []) {
      if (!state.agents.has(agent.agent)) state.agents.set(agent.agent, agent);
    }
    state.waiting = waiting?.waiting ?? [];
    state.missed = missed?.missed ?? [];
    render();
  }

  // The charts are read again when a queue's figures change, at most every few seconds, and
  // each minute anyway so that the day moves on.
  let seriesTimer = null;
  let seriesRead = 0;
  async function readSeries() {
    // Today in the browser's time zone, which the chart's hours are in.
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    const read = ++seriesRead;
    const answer = await quietly(() =>
      get(`/v1/queues/series?since=${encodeURIComponent(midnight.toISOString())}&step_minutes=${CHART_STEP}&after=${state.after}`));
    // Answers can arrive out of order: only the newest read's is shown.
    if (answer && read === seriesRead) state.series = answer.queues;
    render();
  }
  function seriesSoon() {
    seriesTimer ??= setTimeout(() => {
      seriesTimer = null;
      readSeries();
    }, 2000);
  }
  setInterval(readSeries, 60_000);

  // Live: a conversation row, a queue's figures or an agent after each run of events.
  let refreshLists = null;
  follow(
    "/v1/dashboard/stream",
    (type, data, id) => {
      if (id !== null) state.after = Math.max(state.after, Number(id));
      if (type === "conversation") {
        state.rows.set(data.conversation, data);
        forgetOldClosed();
        if (data.conversation === historyOf) historySoon();
      }
      if (type === "queue") {
        state.queues.set(data.queue, data);
        seriesSoon();
      }
      if (type === "agent") state.agents.set(data.agent, data);
      // The waiting and missed lists are read again, at most a few times a second.
      if (refreshLists) return render();
      refreshLists = setTimeout(async () => {
        refreshLists = null;
        const [waiting, missed] = await Promise.all([
          quietly(() => get(`/v1/waiting?after=${state.after}`)),
          quietly(() => get(`/v1/missed?after=${state.after}`)),
        ]);
        if (waiting) state.waiting = waiting.waiting;
        if (missed) state.missed = missed.missed;
        render();
      }, 200);
      render();
    },
    (live, error, fresh) => {
      showLink(live, error);
      // Following from now, not from where it stopped: what the page holds may have changed
      // unseen, so it is all read again rather than merged.
      if (live && fresh) {
        state.after = 0;
        state.rows.clear();
        state.queues.clear();
        state.agents.clear();
      }
      if (live) {
        load();
        readSeries();
        if (historyOf) showHistory(historyOf);
      }
    },
  );
  // The Closed column keeps the newest closed conversations: a board open all week must not
  // hold every conversation of the week.
  function forgetOldClosed() {
    const closed = [...state.rows.values()].filter((r) => r.board_status === "closed");
    if (closed.length <= CLOSED_KEPT) return;
    closed.sort((a, b) => Date.parse(a.closed_at ?? 0) - Date.parse(b.closed_at ?? 0));
    for (const row of closed.slice(0, closed.length - CLOSED_KEPT)) state.rows.delete(row.conversation);
  }

  // The clocks tick in place; the panels are redrawn only when their rows change.
  setInterval(() => {
    const now = Date.now();
    for (const span of panels.board.querySelectorAll("[data-since]")) {
      span.textContent = `customer wrote ${clock(now - Number(span.dataset.since))} ago`;
    }
    for (const span of [...panels.agents.querySelectorAll("[data-since]"), ...panels.queues.querySelectorAll("[data-since]")]) {
      span.textContent = clock(now - Number(span.dataset.since));
    }
  }, 1000);

  const name = customer;

  const changed = redrawGuard();

  function render() {
    renderFilters();
    if (changed("board", [[...state.rows.values()], state.team, state.status, state.joined])) renderBoard();
    if (changed("queues", [[...state.queues.values()], state.waiting, state.series])) renderQueues();
    if (changed("agents", [...state.agents.values()])) renderAgents();
    if (changed("missed", state.missed)) renderMissed();
  }

  let filtersFor = null;
  function renderFilters() {
    const teams = [...new Set([...state.rows.values()].map((r) => r.queue).filter(Boolean))].sort();
    // Rebuilt only when their choices change: a rebuild would close an open dropdown.
    const key = JSON.stringify([teams, [...state.agents.keys()].sort()]);
    if (key === filtersFor) return;
    filtersFor = key;
    const team = h("select", { id: "team", "aria-label": "Team",
      onchange: (e) => { state.team = e.target.value; renderBoard(); } },
      h("option", { value: "" }, "All teams"),
      teams.map((t) => h("option", { value: t, selected: t === state.team }, t)));
    const status = h("select", { id: "status-filter", "aria-label": "Status",
      onchange: (e) => { state.status = e.target.value; renderBoard(); } },
      h("option", { value: "" }, "All statuses"),
      COLUMNS.map(([value, label]) => h("option", { value, selected: value === state.status }, label)));
    const joined = h("select", { id: "joined", "aria-label": "Joined by",
      onchange: (e) => { state.joined = e.target.value; renderBoard(); } },
      h("option", { value: "" }, "Everyone's"),
      [...state.agents.keys()].sort().map((a) => h("option", { value: a, selected: a === state.joined }, `Joined by ${a}`)));
    panels.filters.replaceChildren(team, status, joined);
  }

  function renderBoard() {
    const now = Date.now();
    const rows = [...state.rows.values()].filter((r) =>
      (!state.team || r.queue === state.team) && (!state.status || r.board_status === state.status)
      && (!state.joined || r.agents.includes(state.joined)));
    panels.board.replaceChildren(...COLUMNS.map(([status, label]) => {
      // In the server's order: most urgent first, then the customer who has waited longest.
      const cards = rows.filter((r) => r.board_status === status)
        .map((row) => h("li", { class: "board-card", dataset: { conversation: row.conversation },
          onclick: () => showHistory(row.conversation) },
          h("strong", {}, name(row)),
          h("span", { class: "muted" }, `${row.queue ?? "—"} · ${row.channel}`),
          h("span", { class: "muted" }, inIt(row)),
          row.status !== "closed" && row.last_customer_message_at
            ? h("span", { class: "muted", dataset: { since: Date.parse(row.last_customer_message_at) } },
              `customer wrote ${clock(now - Date.parse(row.last_customer_message_at))} ago`)
            : null));
      return h("div", { class: "column", dataset: { status } },
        h("h3", {}, `${label} (${cards.length})`), h("ul", { class: "list" }, cards));
    }));
  }

  /** Who is in a conversation; in a grab queue, who won it first. */
  function inIt(row) {
    const others = row.agents.filter((a) => a !== row.grabbed_by);
    if (row.grabbed_by) return `Grabbed by ${row.grabbed_by}${others.length ? `, with ${others.join(", ")}` : ""}`;
    return row.agents.length ? row.agents.join(", ") : "nobody yet";
  }

  function renderQueues() {
    const waitingBy = Map.groupBy
      ? Map.groupBy(state.waiting, (w) => w.queue)
      : state.waiting.reduce((m, w) => m.set(w.queue, [...(m.get(w.queue) ?? []), w]), new Map());
    panels.queues.replaceChildren(
      h("h2", {}, "Queues today"),
      h("table", {},
        h("thead", {}, h("tr", {}, ["Queue", "Waiting", "Longest wait", "Answered", "Missed", "Average wait"].map((t) => h("th", {}, t)))),
        h("tbody", {}, [...state.queues.values()].map((q) => h("tr", { dataset: { queue: q.queue } },
          h("td", {}, q.queue), h("td", {}, String(q.waiting)), h("td", {}, clock(q.longest_wait_ms)),
          h("td", {}, String(q.answered)), h("td", {}, String(q.missed)),
          h("td", {}, q.average_wait_ms === null ? "—" : clock(q.average_wait_ms)))))),
      h("div", { class: "charts" }, state.series.map((series) => {
        const { chart, summary } = queueChart(series, CHART_STEP);
        return h("figure", { class: "queue-chart", dataset: { queue: series.queue } },
          h("figcaption", {}, h("strong", {}, series.queue), " ", h("span", { class: "summary" }, summary)),
          chart);
      })),
      state.series.length === 0 ? null : h("p", { class: "muted legend" },
        h("span", { class: "key waiting" }), "most waiting at once ",
        h("span", { class: "key answered" }), "answered ",
        h("span", { class: "key in-time" }), `answered in time, per ${CHART_STEP} minutes`),
      ...[...waitingBy.entries()].map(([queue, rows]) => h("div", { class: "waiting-list", dataset: { queue } },
        h("h3", {}, `Waiting in ${queue}`),
        h("ol", {}, rows.map((w) => h("li", {},
          `${w.contact_name || w.handle || w.contact}: `,
          h("span", { dataset: { since: Date.parse(w.waiting_since) } }, clock(Date.now() - Date.parse(w.waiting_since))),
          " in queue",
          w.estimated_wait_ms === null ? "" : `, about ${clock(w.estimated_wait_ms)} to go`))))),
    );
  }

  function renderAgents() {
    const now = Date.now();
    panels.agents.replaceChildren(
      h("h2", {}, "Agents"),
      h("table", {},
        h("thead", {}, h("tr", {}, ["Agent", "State", "For", "Load"].map((t) => h("th", {}, t)))),
        h("tbody", {}, [...state.agents.values()].map((a) => h("tr", { dataset: { agent: a.agent } },
          h("td", {}, a.agent),
          h("td", {}, a.presence.state === "paused" ? `paused: ${a.presence.reason}` : a.presence.state.replace("_", " ")),
          h("td", {}, a.presence_since
            ? h("span", { dataset: { since: Date.parse(a.presence_since) } }, clock(now - Date.parse(a.presence_since)))
            : "—"),
          h("td", {}, Object.entries(a.load).map(([c, n]) => `${c} ${n}`).join(", ") || "—"))))),
    );
  }

  function renderMissed() {
    panels.missed.replaceChildren(
      h("h2", {}, `Missed, not yet contacted back (${state.missed.length})`),
      h("ul", { class: "list" }, state.missed.map((m) => h("li", {},
        h("span", {}, `${m.contact_name || m.handle || m.contact} · ${m.queue ?? "—"} · waited ${clock(m.wait_ms)}`),
        h("span", { class: "muted" }, new Date(m.missed_at).toLocaleString())))),
    );
  }

  // The history shown follows the conversation: read again when the stream says it changed.
  let historyOf = null;
  let historyTimer = null;
  function historySoon() {
    historyTimer ??= setTimeout(() => {
      historyTimer = null;
      if (historyOf) showHistory(historyOf);
    }, 300);
  }

  let historyRead = 0;
  async function showHistory(conversation) {
    historyOf = conversation;
    const read = ++historyRead;
    const answer = await quietly(() => history(conversation));
    if (!answer || read !== historyRead) return;
    panels.history.hidden = false;
    panels.history.dataset.conversation = conversation;
    panels.history.replaceChildren(
      h("div", { class: "row" }, h("h2", {}, "History"),
        h("button", { onclick: () => { historyOf = null; panels.history.hidden = true; } }, "Hide")),
      h("ol", { class: "history-list" }, answer.events.map((e) => h("li", {},
        h("span", { class: "muted" }, `${e.time} `), h("strong", {}, e.type), " ",
        e.payload.text ?? "", e.payload.agent ? ` (${e.payload.agent})` : ""))),
    );
  }

  // The interaction list: filters, sort by any column, pages, and exports with the same filters.
  function query(extra = {}) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries({ ...state.interactions.filter, ...extra })) {
      if (value !== "" && value !== undefined && value !== null) params.set(key, value);
    }
    params.set("sort", state.interactions.sort);
    params.set("order", state.interactions.order);
    return params;
  }

  async function loadInteractions() {
    const list = state.interactions;
    const params = query({ limit: 20 });
    const cursor = list.pages[list.page];
    if (cursor) params.set("cursor", cursor);
    const page = await quietly(() => get(`/v1/interactions?${params}`));
    if (!page) {
      // The form stays, to retry or change the filters; the banner says what went wrong.
      renderInteractions();
      return;
    }
    list.rows = page.interactions;
    list.next = page.next;
    renderInteractions();
  }

  function renderInteractions() {
    const list = state.interactions;
    const field = (name, label, type = "text") => h("label", {}, label, " ",
      h("input", { name, type, value: list.typed?.[name] ?? "" }));
    const choice = (name, label, options) => h("label", {}, label, " ",
      h("select", { name }, h("option", { value: "" }, "any"),
        options.map((o) => h("option", { value: o, selected: list.filter[name] === o }, o))));
    const form = h("form", { id: "interaction-filters", class: "row", onsubmit: (event) => {
      event.preventDefault();
      showError(null);
      const data = new FormData(event.target);
      list.filter = {};
      // What was typed stays in the form; the API gets instants.
      list.typed = Object.fromEntries(data.entries());
      for (const [key, value] of data.entries()) {
        if (!value) continue;
        list.filter[key] = key === "from" || key === "to" ? new Date(value).toISOString() : value;
      }
      list.pages = [null];
      list.page = 0;
      loadInteractions();
    } },
      field("from", "From", "datetime-local"), field("to", "To", "datetime-local"),
      field("user", "User"), field("queue", "Queue"), field("contact", "Contact"), field("sender", "Sender"),
      choice("direction", "Direction", ["inbound", "outbound"]),
      choice("answered", "Answered", ["true", "false"]),
      choice("missed", "Missed", ["no", "missed", "contacted_back"]),
      h("button", { type: "submit", class: "primary" }, "Apply"),
      h("button", { type: "button", id: "export-csv",
        onclick: () => attempt(() => download(`/v1/interactions/export?${query({ format: "csv" })}`, "interactions.csv")) }, "Export CSV"),
      h("button", { type: "button", id: "export-xlsx",
        onclick: () => attempt(() => download(`/v1/interactions/export?${query({ format: "xlsx" })}`, "interactions.xlsx")) }, "Export XLSX"));
    const headers = INTERACTION_COLUMNS.map(([key, label]) => h("th", {},
      h("button", { class: "link-button", onclick: () => {
        list.order = list.sort === key && list.order === "asc" ? "desc" : "asc";
        list.sort = key;
        list.pages = [null];
        list.page = 0;
        loadInteractions();
      } }, label + (list.sort === key ? (list.order === "asc" ? " ▲" : " ▼") : ""))));
    const cell = (row, key) => {
      if (key === "wait_time") return clock(row.wait_time_ms);
      if (key === "duration") return clock(row.duration_ms);
      if (key === "time") return new Date(row.time).toLocaleString();
      if (key === "missed_time") return row.missed_time ? new Date(row.missed_time).toLocaleString() : "—";
      return String(row[key] ?? "—");
    };
    panels.interactions.replaceChildren(
      h("h2", {}, "Interactions"), form,
      h("div", { class: "wide" }, h("table", { id: "interaction-rows" }, h("thead", {}, h("tr", {}, headers)),
        h("tbody", {}, list.rows.map((row) => h("tr", { dataset: { conversation: row.conversation },
          onclick: () => showHistory(row.conversation) },
          INTERACTION_COLUMNS.map(([key]) => h("td", {}, cell(row, key)))))))),
      h("div", { class: "row" },
        h("button", { disabled: list.page === 0, onclick: () => { list.page -= 1; loadInteractions(); } }, "Previous"),
        h("span", { class: "muted" }, `Page ${list.page + 1}`),
        h("button", { disabled: !list.next, onclick: () => {
          list.pages[list.page + 1] = list.next;
          list.page += 1;
          loadInteractions();
        } }, "Next")),
    );
  }

  async function audit() {
    if (me.role !== "auditor" && me.role !== "admin") return;
    const report = await quietly(() => get("/v1/audit/verify"));
    if (!report) return;
    panels.audit.hidden = false;
    panels.audit.replaceChildren(
      h("h2", {}, "The log's hash chain"),
      h("p", { id: "chain" }, report.first_break === null
        ? `The chain holds: ${report.checked} events checked, head at position ${report.head.position}.`
        : `The chain breaks at position ${report.first_break}: ${report.reason}`),
      h("p", { class: "muted" }, `Keep this checkpoint elsewhere: ${JSON.stringify(report.head)}`),
    );
  }

  // The stream's first connection loads the board (and every reconnection reloads it).
  loadInteractions();
  audit();
}
