// Scenario 4: an Instagram DM reply over 1000 characters cannot be sent: the counter says so
// and Send is disabled, as the channel's rules (stated by the API) require.

import assert from "node:assert/strict";
import {
  acceptOffer, api, click, disabled, fill, find, page as newPage, readyAgent, scenario, textOf,
  webhook,
} from "./browser.mjs";

await scenario("instagram", async (browser) => {
  const page = await newPage(browser);
  await readyAgent(page, "sb_demo_alice", "support");

  // A customer writes on Instagram, through the provider's signed webhook.
  await webhook("instagram", "demo-meta-app-secret", {
    object: "instagram",
    entry: [{ id: "17841400000000000", time: Date.now(), messaging: [{
      sender: { id: "6912345678901234" }, recipient: { id: "17841400000000000" }, timestamp: Date.now(),
      message: { mid: "aWdfZAG1faXRlbToxOmJyb3dzZXI", text: "Is the red one in stock?" },
    }] }],
  });
  await acceptOffer(page, "instagram_dm");
  await find(page, "#reply");
  await fill(page, "#reply", "x".repeat(1001));
  assert.equal(await textOf(page, "#counter"), "1001 / 1000");
  assert.equal(await disabled(page, "#send"), true);
  // Enter does not send it either.
  const before = await api("sb_demo_admin", "GET", "/v1/log?limit=1");
  await page.focus("#reply");
  await page.keyboard.press("Enter");
  await new Promise((resolve) => setTimeout(resolve, 300));
  const after = await api("sb_demo_admin", "GET", "/v1/log?limit=1");
  assert.equal(after.head, before.head, "nothing was sent");
  // At 1000 it goes.
  await fill(page, "#reply", "y".repeat(1000));
  assert.equal(await disabled(page, "#send"), false);
  await click(page, "#send");
  await find(page, ".message.agent", "yyyy");
  console.log("scenario 4 passed: 1001 characters stopped, 1000 sent");
});
