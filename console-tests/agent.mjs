// Scenario 1: an agent signs in, logs in to a queue and goes ready, is offered a customer's
// message posted to the API, accepts it, replies, is stopped from closing without a status,
// and closes with one.

import assert from "node:assert/strict";
import {
  api, base, choose, click, count, disabled, fill, find, gone, logged, page as newPage, press,
  readyAgent, scenario, screenshot, signIn, textOf, valueOf,
} from "./browser.mjs";

await scenario("agent", async (browser) => {
  const page = await newPage(browser);
  // A key the server refuses is shown in the API's words, not as a blank page.
  await signIn(page, "sb_not_a_key");
  await find(page, "#error", /key/i);
  const refused = await fetch(`${base}/v1/me`, { headers: { authorization: "Bearer sb_not_a_key" } });
  assert.equal(await textOf(page, "#error"), (await refused.json()).detail);

  await readyAgent(page, "sb_demo_alice", "support");
  // The console beats (from a worker, which a hidden tab does not slow down).
  await logged("AgentHeartbeatRecorded", 0, (payload) => payload.agent === "alice");

  const sent = await api("sb_demo_website", "POST", "/v1/webchat/website/messages", {
    visitor: "v-browser-1",
    name: "Jana",
    message_id: "browser-1",
    text: "Hello, is my order on its way?",
  });
  const conversation = sent.conversation;

  const offer = `.offer[data-conversation="${conversation}"]`;
  await find(page, offer, "Jana");
  assert.match(await textOf(page, offer), /Time left \d+:\d\d/);
  await press(page, offer, "Accept");
  await gone(page, offer);

  const work = `#work [data-conversation="${conversation}"]`;
  await find(page, `${work} .message.customer`, "is my order on its way");
  await fill(page, "#reply", "It left our warehouse this morning.");
  await page.focus("#reply");
  await page.keyboard.press("Enter");
  await find(page, `${work} .message.agent`, "left our warehouse");
  assert.equal(await valueOf(page, "#reply"), "");

  // Attachments: a web address is a link; anything else (another scheme included) is only text.
  await api("sb_demo_website", "POST", "/v1/webchat/website/messages", {
    visitor: "v-browser-1", message_id: "browser-2", kind: "image", text: "",
    attachments: [
      { kind: "image", reference: "https://media.example/parcel.jpg", mime_type: "image/jpeg" },
      { kind: "file", reference: "javascript:alert(1)" },
    ],
  });
  await find(page, `${work} .message.customer a[href="https://media.example/parcel.jpg"]`, "image (image/jpeg)");
  await find(page, `${work} .message.customer .attachment`, "file: javascript:alert(1)");
  assert.equal(await count(page, `${work} a[href^="javascript"]`), 0);

  // No status, no close: the button says why, and the conversation stays open.
  assert.equal(await disabled(page, "#close"), true);
  assert.equal(await textOf(page, "#close-why"), "Choose a status before closing.");
  await page.$eval("#close", (button) => button.click());
  const still = await api("sb_demo_admin", "GET", `/v1/conversations/${conversation}`);
  assert.equal(still.status, "active");
  await screenshot(page, "agent-console");

  await choose(page, "#status", "resolved");
  assert.equal(await disabled(page, "#close"), false);
  await click(page, "#close");
  await gone(page, work);
  const closed = await api("sb_demo_admin", "GET", `/v1/conversations/${conversation}`);
  assert.equal(closed.status, "closed");
  assert.equal(closed.close_status, "resolved");
  // Leaving the page ends the agent's focus at once.
  const { head } = await api("sb_demo_admin", "GET", "/v1/log?limit=1");
  await page.goto("about:blank");
  await logged("ActivityBlurred", head, (payload) => payload.agent === "alice");
  console.log(`scenario 1 passed: conversation ${conversation} answered and closed in the browser`);
});
