// Scenarios 2, 5 and 6, on the supervisor's board (a supervisor of the support queue only):
// a conversation moves from Rep Needed to Pending to Closed without a reload, and the queue's
// chart counts it answered in time; a conversation of the sales queue never shows; and the
// interaction list's CSV export holds the filtered rows. On the way: the agents table, the views
// by status, team and agent, the waiting list, the missed list, sorting, the live history, and
// an auditor's check of the hash chain.

import assert from "node:assert/strict";
import {
  api, choose, click, count, download, fill, find, gone, page as newPage, scenario, screenshot,
  signIn,
} from "./browser.mjs";

const ADMIN = "sb_demo_admin";
await scenario("board", async (browser) => {
  const page = await newPage(browser);
  await signIn(page, "sb_demo_supervisor");
  await find(page, "#link", "Live");
  const card = (status, conversation) =>
    find(page, `.column[data-status=${status}] [data-conversation="${conversation}"]`);

  // (2) Rep Needed → Pending → Closed, live.
  const jana = await api(ADMIN, "POST", "/v1/webchat/website/messages", {
    visitor: "v-jana", name: "Jana", message_id: "b-1", text: "Where is my parcel?",
  });
  await card("rep_needed", jana.conversation);
  for (const step of ["queues/support/login", "ready"]) {
    await api(ADMIN, "POST", `/v1/agents/alice/${step}`);
  }
  await api(ADMIN, "POST", `/v1/conversations/${jana.conversation}/accept`, { agent: "alice" });
  await card("pending", jana.conversation);
  // The queue's chart counts the answer, taken well within the target of a minute.
  const chart = "#queues .queue-chart[data-queue=support]";
  await find(page, `${chart} .summary`, "Answered within 60 s: 1 of 1 (100%)");
  assert.ok((await count(page, `${chart} rect.in-time`)) >= 1);
  await screenshot(page, "supervisor-board");
  // The agents: Alice ready, one web chat.
  await find(page, "#agents [data-agent=alice]", /ready[\s\S]*webchat 1/);
  // Its history, opened from the card, follows it live.
  await click(page, `.column[data-status=pending] [data-conversation="${jana.conversation}"]`);
  await find(page, "#history-panel", "Where is my parcel?");
  await api(ADMIN, "POST", `/v1/conversations/${jana.conversation}/close`, { agent: "alice", status: "resolved" });
  await card("closed", jana.conversation);
  await find(page, "#history-panel", "ConversationClosed");

  // (5) A conversation of a queue the supervisor has no rights to never shows.
  const hidden = await api(ADMIN, "POST", "/v1/webchat/sales-chat/messages", {
    visitor: "v-petr", name: "Petr", message_id: "b-2", text: "A quote, please",
  });
  const seen = await api(ADMIN, "POST", "/v1/webchat/website/messages", {
    visitor: "v-eva", name: "Eva", message_id: "b-3", text: "Hello",
  });
  await card("rep_needed", seen.conversation);
  assert.equal(await count(page, `[data-conversation="${hidden.conversation}"]`), 0);
  assert.doesNotMatch(await page.$eval("main", (main) => main.innerText), /Petr/);
  assert.equal(await count(page, "#queues .queue-chart[data-queue=sales]"), 0);

  // The views: by status, by team, and joined by an agent.
  const eva = `.column [data-conversation="${seen.conversation}"]`;
  await choose(page, "#status-filter", "rep_needed");
  await find(page, eva);
  assert.equal(await count(page, `.column [data-conversation="${jana.conversation}"]`), 0);
  await choose(page, "#status-filter", "");
  await choose(page, "#team", "support");
  await find(page, eva);
  await choose(page, "#joined", "alice");
  await gone(page, eva);
  await choose(page, "#joined", "");
  await choose(page, "#team", "");
  await find(page, eva);
  // Eva waits in support's list; then she leaves unanswered, and is missed.
  await find(page, "#queues .waiting-list[data-queue=support] li", "Eva");
  await api(ADMIN, "POST", "/v1/webchat/website/left", { visitor: "v-eva" });
  await find(page, "#missed li", "Eva");

  // (6) The interaction list, filtered by contact, exports exactly its rows.
  await fill(page, "#interaction-filters input[name=contact]", "Jana");
  await click(page, "#interaction-filters button[type=submit]");
  await find(page, `#interaction-rows [data-conversation="${jana.conversation}"]`);
  assert.equal(await count(page, `#interaction-rows [data-conversation="${seen.conversation}"]`), 0);
  // The product's columns, Title, Connector and Missed time among them.
  const titles = await page.$$eval("#interaction-rows thead th", (cells) => cells.map((c) => c.textContent.trim()));
  assert.deepEqual(titles.map((t) => t.replace(/ [▲▼]$/, "")), ["Time", "Queue", "User", "Contact", "External contact",
    "Title", "Answered", "Wait time", "Duration", "Ended by", "Connector", "Missed", "Missed time", "Direction"]);
  await find(page, `#interaction-rows [data-conversation="${jana.conversation}"]`, "website");
  // Sorting by a column.
  await click(page, "#interaction-rows thead button", "Wait time");
  await find(page, "#interaction-rows thead button", "Wait time ▲");
  const csv = await download(page, () => click(page, "#export-csv"), "interactions.csv");
  const lines = csv.trim().split(/\r?\n/);
  assert.match(lines[0], /^Time,Queue,User,Contact/);
  assert.ok(lines.length >= 2, csv);
  for (const line of lines.slice(1)) assert.match(line, /Jana/, csv);
  assert.doesNotMatch(csv, /Eva|Petr/);
  // The XLSX export, with the same filters, is a workbook (a zip).
  const xlsx = await download(page, () => click(page, "#export-xlsx"), "interactions.xlsx", null);
  assert.equal(xlsx.subarray(0, 2).toString("latin1"), "PK");

  // An auditor sees the hash chain's check.
  const auditor = await newPage(browser);
  await signIn(auditor, "sb_demo_auditor");
  await find(auditor, "#chain", /The chain holds: \d+ events checked/);
  console.log(`scenarios 2, 5 and 6 passed: ${lines.length - 1} exported rows`);
});
