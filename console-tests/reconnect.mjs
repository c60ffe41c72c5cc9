// A console that loses its connection says so, reconnects by itself, and catches up on what it
// missed without losing or doubling anything: the offer made while it was cut off arrives once,
// and the messages written meanwhile appear once each.

import assert from "node:assert/strict";
import {
  api, count, find, page as newPage, press, readyAgent, scenario, textsOf,
} from "./browser.mjs";

const ADMIN = "sb_demo_admin";
await scenario("reconnect", async (browser) => {
  const page = await newPage(browser);
  await readyAgent(page, "sb_demo_alice", "support");

  await page.setOfflineMode(true);
  await find(page, "#link", "Disconnected");
  const sent = await api(ADMIN, "POST", "/v1/webchat/website/messages", {
    visitor: "v-cut", name: "Radek", message_id: "r-1", text: "Are you there?",
  });
  await page.setOfflineMode(false);
  await find(page, "#link", "Live");

  const offer = `.offer[data-conversation="${sent.conversation}"]`;
  await find(page, offer);
  assert.equal(await count(page, offer), 1);
  await press(page, offer, "Accept");
  const work = `#work [data-conversation="${sent.conversation}"]`;
  await find(page, work);

  // Cut off again while the customer writes twice.
  await page.setOfflineMode(true);
  await find(page, "#link", "Disconnected");
  for (const [n, text] of [[2, "Hello?"], [3, "Anyone?"]]) {
    await api(ADMIN, "POST", "/v1/webchat/website/messages", { visitor: "v-cut", message_id: `r-${n}`, text });
  }
  await page.setOfflineMode(false);
  await find(page, "#link", "Live");
  await find(page, `${work} .message.customer`, "Anyone?");
  const messages = await textsOf(page, `${work} .message.customer`);
  assert.deepEqual(messages, ["Are you there?", "Hello?", "Anyone?"]);

  // A server restored from a backup does not know the position the console resumes from (400):
  // the console follows from now, reads its state afresh, and goes on working.
  await page.setRequestInterception(true);
  let refused = 0;
  page.on("request", (request) => {
    if (request.isInterceptResolutionHandled()) return;
    const headers = request.headers();
    // Every resumption is refused: only a console that drops its position gets through.
    if (request.url().endsWith("/stream") && headers["last-event-id"]) {
      refused += 1;
      request.continue({ headers: { ...headers, "last-event-id": "999999999" } }).catch(() => {});
    } else {
      request.continue().catch(() => {});
    }
  });
  await page.setOfflineMode(true);
  await find(page, "#link", "Disconnected");
  await page.setOfflineMode(false);
  await find(page, "#link", "Live");
  assert.ok(refused >= 1, "the resumption was refused");
  await api(ADMIN, "POST", "/v1/webchat/website/messages", { visitor: "v-cut", message_id: "r-4", text: "Still there?" });
  await find(page, `${work} .message.customer`, "Still there?");
  assert.deepEqual(await textsOf(page, `${work} .message.customer`), ["Are you there?", "Hello?", "Anyone?", "Still there?"]);
  console.log("reconnect passed: nothing lost, nothing doubled, and a refused resumption starts afresh");
});
