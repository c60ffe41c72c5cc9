// The agent postpones a conversation and resumes it from the postponed list, then transfers it
// to another queue: each through the console, each checked against the API.

import assert from "node:assert/strict";
import { api, explain, launch, page as newPage, readyAgent } from "./browser.mjs";

const ADMIN = "sb_demo_admin";
const browser = await launch();
let page;
try {
  page = await newPage(browser);
  await readyAgent(page, "sb_demo_alice", "support");
  const sent = await api(ADMIN, "POST", "/v1/webchat/website/messages", {
    visitor: "v-hand", name: "Olga", message_id: "h-1", text: "Can you check later?",
  });
  const id = sent.conversation;
  await page.locator(`.offer[data-conversation="${id}"]`).getByRole("button", { name: "Accept" }).click();
  const work = page.locator(`#work [data-conversation="${id}"]`);
  await work.waitFor();

  await work.getByRole("button", { name: "Postpone" }).click();
  await page.locator(`#postponed [data-conversation="${id}"]`).waitFor();
  await work.waitFor({ state: "detached" });
  assert.equal((await api(ADMIN, "GET", `/v1/conversations/${id}`)).status, "postponed");

  await page.locator(`#postponed [data-conversation="${id}"]`).getByRole("button", { name: "Resume" }).click();
  await work.waitFor();
  await page.locator(`#postponed [data-conversation="${id}"]`).waitFor({ state: "detached" });

  await page.selectOption("#hand-over-kind", "to_queue");
  await page.fill("#hand-over-to", "sales");
  await work.getByRole("button", { name: "Transfer" }).click();
  await work.waitFor({ state: "detached" });
  const moved = await api(ADMIN, "GET", `/v1/conversations/${id}`);
  assert.equal(moved.queue, "sales");
  assert.deepEqual(moved.agents, []);

  // Another customer; the agent leaves without closing: it goes back to its queue.
  const next = await api(ADMIN, "POST", "/v1/webchat/website/messages", {
    visitor: "v-hand-2", name: "Pavel", message_id: "h-2", text: "Hi",
  });
  await page.locator(`.offer[data-conversation="${next.conversation}"]`).getByRole("button", { name: "Accept" }).click();
  const second = page.locator(`#work [data-conversation="${next.conversation}"]`);
  await second.getByRole("button", { name: "Leave" }).click();
  await second.waitFor({ state: "detached" });
  assert.deepEqual((await api(ADMIN, "GET", `/v1/conversations/${next.conversation}`)).agents, []);

  // A paid pause, with its reason.
  await page.selectOption("#pause-reason", "training");
  await page.check("#paid");
  await page.click("#pause");
  await page.locator("#presence-state", { hasText: "Paused: training" }).waitFor();
  const alice = await api(ADMIN, "GET", "/v1/agents/alice");
  assert.equal(alice.presence.state, "paused");
  assert.equal(alice.presence.paid, true);
  console.log("postpone, resume, transfer to a queue, leave and a paid pause passed");
} catch (error) {
  await explain(page, "handover-failure");
  throw error;
} finally {
  await browser.close();
}
