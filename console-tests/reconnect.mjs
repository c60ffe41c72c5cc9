// A console that loses its connection says so, reconnects by itself, and catches up on what it
// missed without losing or doubling anything: the offer made while it was cut off arrives once,
// and the messages written meanwhile appear once each.

import assert from "node:assert/strict";
import { api, explain, launch, page as newPage, readyAgent } from "./browser.mjs";

const ADMIN = "sb_demo_admin";
const browser = await launch();
let page;
try {
  page = await newPage(browser);
  await readyAgent(page, "sb_demo_alice", "support");

  await page.context().setOffline(true);
  await page.locator("#link", { hasText: "Disconnected" }).waitFor();
  const sent = await api(ADMIN, "POST", "/v1/webchat/website/messages", {
    visitor: "v-cut", name: "Radek", message_id: "r-1", text: "Are you there?",
  });
  await page.context().setOffline(false);
  await page.locator("#link", { hasText: "Live" }).waitFor();

  const offer = page.locator(`.offer[data-conversation="${sent.conversation}"]`);
  await offer.waitFor();
  assert.equal(await offer.count(), 1);
  await offer.getByRole("button", { name: "Accept" }).click();
  const work = page.locator(`#work [data-conversation="${sent.conversation}"]`);
  await work.waitFor();

  // Cut off again while the customer writes twice.
  await page.context().setOffline(true);
  await page.locator("#link", { hasText: "Disconnected" }).waitFor();
  for (const [n, text] of [[2, "Hello?"], [3, "Anyone?"]]) {
    await api(ADMIN, "POST", "/v1/webchat/website/messages", { visitor: "v-cut", message_id: `r-${n}`, text });
  }
  await page.context().setOffline(false);
  await page.locator("#link", { hasText: "Live" }).waitFor();
  await work.locator(".message.customer", { hasText: "Anyone?" }).waitFor();
  const messages = await work.locator(".message.customer").allTextContents();
  assert.deepEqual(messages, ["Are you there?", "Hello?", "Anyone?"]);
  console.log("reconnect passed: nothing lost, nothing doubled");
} catch (error) {
  await explain(page, "reconnect-failure");
  throw error;
} finally {
  await browser.close();
}
