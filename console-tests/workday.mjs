// An agent's working day, the parts the other scenarios leave out: an offer that rings out and
// the automatic pause it brings; accepting from the waiting list without an offer; a tab marked
// when its customer writes while another is open, with a reminder; Shift+Enter for a new line;
// marking important; inviting a colleague, who accepts; transferring to a colleague, who
// accepts; and a colleague rejecting an offer.

import assert from "node:assert/strict";
import {
  api, choose, click, count, fill, find, gone, page as newPage, press, readyAgent, scenario,
  valueOf,
} from "./browser.mjs";

const ADMIN = "sb_demo_admin";
const writes = (visitor, name, id, text, connector = "desk-chat") =>
  api(ADMIN, "POST", `/v1/webchat/${connector}/messages`, { visitor, name, message_id: id, text });
const summary = (conversation) => api(ADMIN, "GET", `/v1/conversations/${conversation}`);

await scenario("workday", async (browser) => {
  const pages = {};
  const ann = (pages.ann = await newPage(browser));
  await readyAgent(ann, "sb_test_ann", "desk");
  await click(ann, "#queues button[data-queue=ring]");
  await find(ann, "#queues button[data-queue=ring]", "Log out");

  // An offer rings out (the ring queue gives two seconds): it goes, and Ann is told she was
  // paused.
  const adam = await writes("v-adam", "Adam", "w-1", "First question", "ring-chat");
  await find(ann, `.offer[data-conversation="${adam.conversation}"]`, /Time left/);
  await gone(ann, `.offer[data-conversation="${adam.conversation}"]`);
  await find(ann, ".notice", "You were paused (missed offer)");
  await find(ann, "#presence-state", "Paused: missed offer");

  // Paused, she takes it from the waiting list all the same, and then the next one.
  await press(ann, `#waiting [data-conversation="${adam.conversation}"]`, "Accept");
  await find(ann, `#work [data-conversation="${adam.conversation}"]`);
  const bea = await writes("v-bea", "Bea", "w-2", "Second question");
  await press(ann, `#waiting [data-conversation="${bea.conversation}"]`, "Accept");
  await find(ann, `[data-tab="${bea.conversation}"]`);

  // Adam's tab is open; Bea writes again: her tab is marked, and Ann is reminded.
  await writes("v-bea", "Bea", "w-3", "Are you there?");
  await find(ann, `[data-tab="${bea.conversation}"].unread`);
  await find(ann, ".notice", "Bea is waiting for your answer");
  await click(ann, `[data-tab="${bea.conversation}"]`);
  await find(ann, `#work [data-conversation="${bea.conversation}"] .message.customer`, "Are you there?");
  assert.equal(await count(ann, `[data-tab="${bea.conversation}"].unread`), 0);

  // Shift+Enter starts a new line; Enter sends both.
  await ann.focus("#reply");
  await ann.keyboard.type("Line one");
  await ann.keyboard.down("Shift");
  await ann.keyboard.press("Enter");
  await ann.keyboard.up("Shift");
  assert.equal(await valueOf(ann, "#reply"), "Line one\n");
  await ann.keyboard.type("line two");
  await ann.keyboard.press("Enter");
  await find(ann, ".message.agent", "Line one\nline two");

  // Important.
  await click(ann, `#work [data-conversation="${bea.conversation}"] button`, "Mark important");
  await find(ann, `#work [data-conversation="${bea.conversation}"] button`, "★ Important");
  assert.equal((await summary(bea.conversation)).important, true);

  // Ben comes in; Ann invites him to Bea's conversation, and he accepts.
  const ben = (pages.ben = await newPage(browser));
  await readyAgent(ben, "sb_test_ben", "desk");
  await choose(ann, "#hand-over-kind", "to_agent");
  await fill(ann, "#hand-over-to", "ben");
  await press(ann, `#work [data-conversation="${bea.conversation}"]`, "Invite");
  await find(ben, `.offer[data-conversation="${bea.conversation}"]`, "Invitation: Bea");
  await press(ben, `.offer[data-conversation="${bea.conversation}"]`, "Accept");
  await find(ben, `[data-tab="${bea.conversation}"]`);
  assert.deepEqual((await summary(bea.conversation)).agents, ["ann", "ben"]);

  // Dora writes; Ann (paused) takes her from the waiting list and transfers her to Ben, who
  // accepts: Dora leaves Ann's tabs.
  const dora = await writes("v-dora", "Dora", "w-5", "A question for an expert");
  await press(ann, `#waiting [data-conversation="${dora.conversation}"]`, "Accept");
  await click(ann, `[data-tab="${dora.conversation}"]`);
  await find(ann, `#work [data-conversation="${dora.conversation}"]`);
  await choose(ann, "#hand-over-kind", "to_agent");
  await fill(ann, "#hand-over-to", "ben");
  await press(ann, `#work [data-conversation="${dora.conversation}"]`, "Transfer");
  await find(ben, `.offer[data-conversation="${dora.conversation}"]`, "Transfer: Dora");
  await press(ben, `.offer[data-conversation="${dora.conversation}"]`, "Accept");
  await gone(ann, `[data-tab="${dora.conversation}"]`);
  await find(ben, `[data-tab="${dora.conversation}"]`);
  assert.deepEqual((await summary(dora.conversation)).agents, ["ben"]);

  // A new customer is offered to Ben (Ann is paused); he rejects it, and it waits.
  const cyril = await writes("v-cyril", "Cyril", "w-4", "Hello");
  await press(ben, `.offer[data-conversation="${cyril.conversation}"]`, "Reject");
  await gone(ben, `.offer[data-conversation="${cyril.conversation}"]`);
  const waiting = await summary(cyril.conversation);
  assert.equal(waiting.status, "waiting", JSON.stringify(waiting));
  assert.equal(waiting.offered_to, null, JSON.stringify(waiting));
  console.log("workday passed: ring-out pause, waiting list, unread tab, reminder, new line, important, invite, transfer, reject");
});
