// Scenario 1: an agent signs in, logs in to a queue and goes ready, is offered a customer's
// message posted to the API, accepts it, replies, is stopped from closing without a status,
// and closes with one.

import assert from "node:assert/strict";
import { api, explain, launch, page as newPage, readyAgent, shots } from "./browser.mjs";

const browser = await launch();
let page;
try {
  page = await newPage(browser);
  await readyAgent(page, "sb_demo_alice", "support");

  const sent = await api("sb_demo_website", "POST", "/v1/webchat/website/messages", {
    visitor: "v-browser-1",
    name: "Jana",
    message_id: "browser-1",
    text: "Hello, is my order on its way?",
  });
  const conversation = sent.conversation;

  const offer = page.locator(`.offer[data-conversation="${conversation}"]`);
  await offer.waitFor();
  assert.match(await offer.textContent(), /Jana/);
  assert.match(await offer.textContent(), /Time left \d+:\d\d/);
  await offer.getByRole("button", { name: "Accept" }).click();
  await offer.waitFor({ state: "detached" });

  const work = page.locator(`#work [data-conversation="${conversation}"]`);
  await work.waitFor();
  await work.locator(".message.customer", { hasText: "is my order on its way" }).waitFor();
  await page.fill("#reply", "It left our warehouse this morning.");
  await page.press("#reply", "Enter");
  await work.locator(".message.agent", { hasText: "left our warehouse" }).waitFor();
  assert.equal(await page.inputValue("#reply"), "");

  // No status, no close: the button says why, and the conversation stays open.
  assert.equal(await page.isDisabled("#close"), true);
  assert.equal(await page.textContent("#close-why"), "Choose a status before closing.");
  await page.click("#close", { force: true });
  const still = await api("sb_demo_admin", "GET", `/v1/conversations/${conversation}`);
  assert.equal(still.status, "active");
  if (shots) await page.screenshot({ path: `${shots}/agent-console.png`, fullPage: true });

  await page.selectOption("#status", "resolved");
  assert.equal(await page.isDisabled("#close"), false);
  await page.click("#close");
  await work.waitFor({ state: "detached" });
  const closed = await api("sb_demo_admin", "GET", `/v1/conversations/${conversation}`);
  assert.equal(closed.status, "closed");
  assert.equal(closed.close_status, "resolved");
  console.log(`scenario 1 passed: conversation ${conversation} answered and closed in the browser`);
} catch (error) {
  await explain(page, "agent-failure");
  throw error;
} finally {
  await browser.close();
}
