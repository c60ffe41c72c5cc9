// Scenarios 2, 5 and 6, on the supervisor's board (a supervisor of the support queue only):
// a conversation moves from Rep Needed to Pending to Closed without a reload; a conversation of
// the sales queue never shows; and the interaction list's CSV export holds the filtered rows.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { api, explain, launch, page as newPage, signIn, shots } from "./browser.mjs";

const ADMIN = "sb_demo_admin";
const browser = await launch();
let page;
try {
  page = await newPage(browser);
  await signIn(page, "sb_demo_supervisor");
  await page.locator("#link", { hasText: "Live" }).waitFor();
  const card = (status, conversation) =>
    page.locator(`.column[data-status=${status}] [data-conversation="${conversation}"]`);

  // (2) Rep Needed → Pending → Closed, live.
  const jana = await api(ADMIN, "POST", "/v1/webchat/website/messages", {
    visitor: "v-jana", name: "Jana", message_id: "b-1", text: "Where is my parcel?",
  });
  await card("rep_needed", jana.conversation).waitFor();
  for (const step of ["queues/support/login", "ready"]) {
    await api(ADMIN, "POST", `/v1/agents/alice/${step}`);
  }
  await api(ADMIN, "POST", `/v1/conversations/${jana.conversation}/accept`, { agent: "alice" });
  await card("pending", jana.conversation).waitFor();
  if (shots) await page.screenshot({ path: `${shots}/supervisor-board.png`, fullPage: true });
  await api(ADMIN, "POST", `/v1/conversations/${jana.conversation}/close`, { agent: "alice", status: "resolved" });
  await card("closed", jana.conversation).waitFor();

  // (5) A conversation of a queue the supervisor has no rights to never shows.
  const hidden = await api(ADMIN, "POST", "/v1/webchat/sales-chat/messages", {
    visitor: "v-petr", name: "Petr", message_id: "b-2", text: "A quote, please",
  });
  const seen = await api(ADMIN, "POST", "/v1/webchat/website/messages", {
    visitor: "v-eva", name: "Eva", message_id: "b-3", text: "Hello",
  });
  await card("rep_needed", seen.conversation).waitFor();
  assert.equal(await page.locator(`[data-conversation="${hidden.conversation}"]`).count(), 0);
  assert.doesNotMatch(await page.locator("main").innerText(), /Petr/);

  // (6) The interaction list, filtered by contact, exports exactly its rows.
  await page.fill("#interaction-filters input[name=contact]", "Jana");
  await page.click("#interaction-filters button[type=submit]");
  await page.locator(`#interaction-rows [data-conversation="${jana.conversation}"]`).waitFor();
  assert.equal(await page.locator(`#interaction-rows [data-conversation="${seen.conversation}"]`).count(), 0);
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
  const csv = await readFile(await download.path(), "utf8");
  const lines = csv.trim().split(/\r?\n/);
  assert.match(lines[0], /^Time,Queue,User,Contact/);
  assert.ok(lines.length >= 2, csv);
  for (const line of lines.slice(1)) assert.match(line, /Jana/, csv);
  assert.doesNotMatch(csv, /Eva|Petr/);
  console.log(`scenarios 2, 5 and 6 passed: ${lines.length - 1} exported rows`);
} catch (error) {
  await explain(page, "board-failure");
  throw error;
} finally {
  await browser.close();
}
