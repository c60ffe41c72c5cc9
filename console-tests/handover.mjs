// The agent postpones a conversation and resumes it from the postponed list, offers it to a
// colleague who declines (and is told so), then transfers it to another queue: each through the
// console, each checked against the API.

import assert from "node:assert/strict";
import {
  api, choose, click, fill, find, gone, logged, page as newPage, press, readyAgent, scenario,
} from "./browser.mjs";

const ADMIN = "sb_demo_admin";
await scenario("handover", async (browser) => {
  const page = await newPage(browser);
  await readyAgent(page, "sb_demo_alice", "support");
  const sent = await api(ADMIN, "POST", "/v1/webchat/website/messages", {
    visitor: "v-hand", name: "Olga", message_id: "h-1", text: "Can you check later?",
  });
  const id = sent.conversation;
  await press(page, `.offer[data-conversation="${id}"]`, "Accept");
  const work = `#work [data-conversation="${id}"]`;
  await find(page, work);

  await press(page, work, "Postpone");
  await find(page, `#postponed [data-conversation="${id}"]`);
  await gone(page, work);
  assert.equal((await api(ADMIN, "GET", `/v1/conversations/${id}`)).status, "postponed");

  await press(page, `#postponed [data-conversation="${id}"]`, "Resume");
  await find(page, work);
  await gone(page, `#postponed [data-conversation="${id}"]`);

  // Offered to Bob, who declines: Alice is told, and keeps the conversation.
  for (const step of ["queues/support/login", "ready"]) await api(ADMIN, "POST", `/v1/agents/bob/${step}`);
  await choose(page, "#hand-over-kind", "to_agent");
  await fill(page, "#hand-over-to", "bob");
  await press(page, work, "Transfer");
  await logged("TransferOffered", 0, (payload) => payload.conversation === id && payload.to === "bob");
  await api(ADMIN, "POST", `/v1/conversations/${id}/reject`, { agent: "bob" });
  await find(page, ".notice", "bob declined the transfer of Olga");
  await find(page, work);
  assert.deepEqual((await api(ADMIN, "GET", `/v1/conversations/${id}`)).agents, ["alice"]);
  await api(ADMIN, "POST", "/v1/agents/bob/queues/support/logout");

  await choose(page, "#hand-over-kind", "to_queue");
  await fill(page, "#hand-over-to", "sales");
  await press(page, work, "Transfer");
  await gone(page, work);
  const moved = await api(ADMIN, "GET", `/v1/conversations/${id}`);
  assert.equal(moved.queue, "sales");
  assert.deepEqual(moved.agents, []);

  // Another customer; the agent leaves without closing: it goes back to its queue.
  const next = await api(ADMIN, "POST", "/v1/webchat/website/messages", {
    visitor: "v-hand-2", name: "Pavel", message_id: "h-2", text: "Hi",
  });
  await press(page, `.offer[data-conversation="${next.conversation}"]`, "Accept");
  const second = `#work [data-conversation="${next.conversation}"]`;
  await press(page, second, "Leave");
  await gone(page, second);
  assert.deepEqual((await api(ADMIN, "GET", `/v1/conversations/${next.conversation}`)).agents, []);

  // A paid pause, with its reason.
  await choose(page, "#pause-reason", "training");
  await click(page, "#paid");
  await click(page, "#pause");
  await find(page, "#presence-state", "Paused: training");
  const alice = await api(ADMIN, "GET", "/v1/agents/alice");
  assert.equal(alice.presence.state, "paused");
  assert.equal(alice.presence.paid, true);
  console.log("postpone, resume, transfer to a queue, leave and a paid pause passed");
});
