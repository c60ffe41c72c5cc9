// Past WhatsApp's 24-hour window, free text is disabled and the connector's approved templates
// are offered instead. The window is the API's to state (GET /v1/conversations/{id} says
// `template_required`); this scenario has the API's answer say it closed, as it would a day
// after the customer's last message, and checks the console follows it and sends a template (the
// core's own refusals past the window are tested in routing-core, where time is data). Then
// outbound conversations: refused to a stranger, started with a customer who wrote before.

import assert from "node:assert/strict";
import {
  acceptOffer, api, choose, click, disabled, fill, find, gone, logged, page as newPage, readyAgent,
  scenario, webhook,
} from "./browser.mjs";

await scenario("window", async (browser) => {
  const page = await newPage(browser);
  // The console reads the conversation's reply rules: here they say the window has closed.
  await page.setRequestInterception(true);
  // A request can be dropped under the handler (the page reloads, the browser closes): that is
  // no failure of the scenario, so nothing here may reject unhandled.
  page.on("request", async (request) => {
    if (request.isInterceptResolutionHandled()) return;
    try {
      if (request.method() !== "GET" || !/\/v1\/conversations\/[0-9a-f-]{36}(\?|$)/.test(request.url())) {
        await request.continue();
        return;
      }
      const real = await fetch(request.url(), { headers: request.headers() });
      const answer = await real.json();
      if (answer.reply_rules) answer.reply_rules = { ...answer.reply_rules, template_required: true, window_closes_at: null };
      await request.respond({ status: real.status, contentType: "application/json", body: JSON.stringify(answer) });
    } catch (error) {
      console.error(`interception: ${error.message}`);
    }
  });
  await readyAgent(page, "sb_demo_alice", "support");

  await webhook("whatsapp", "demo-whatsapp-app-secret", {
    object: "whatsapp_business_account",
    entry: [{ id: "102290129340398", changes: [{ field: "messages", value: {
      messaging_product: "whatsapp",
      metadata: { display_phone_number: "15550783881", phone_number_id: "106540352242922" },
      contacts: [{ profile: { name: "Jana" }, wa_id: "420600111222" }],
      messages: [{ from: "420600111222", id: "wamid.browser-1", timestamp: `${Math.floor(Date.now() / 1000)}`,
        type: "text", text: { body: "Where is my order?" } }],
    } }] }],
  });
  const conversation = await acceptOffer(page, "whatsapp");
  await find(page, "select#template");
  assert.equal(await disabled(page, "#reply"), true, "no free text once the window has closed");
  const options = await page.$$eval("select#template option", (all) => all.map((o) => o.value));
  assert.deepEqual(options, ["", "order_update", "follow_up"]);
  const { head } = await api("sb_demo_admin", "GET", "/v1/log?limit=1");
  await choose(page, "select#template", "order_update");
  await click(page, "#send");
  const sent = await logged("AgentMessageSent", head, (payload) => payload.conversation === conversation);
  assert.equal(sent.payload.template, "order_update");

  // Outbound: only to a contact who has written before through the connector. Jana has; a
  // stranger has not, and the API's refusal is shown in its own words.
  await choose(page, "#status", "resolved");
  await click(page, "#close");
  await gone(page, `#work [data-conversation="${conversation}"]`);
  const outbound = async (contact) => {
    await fill(page, "#outbound input[name=connector]", "whatsapp");
    await fill(page, "#outbound input[name=contact]", contact);
    await fill(page, "#outbound textarea[name=text]", "Your parcel has arrived.");
    await click(page, "#outbound button[type=submit]");
  };
  await outbound("420600999999");
  await find(page, "#error", "has never written through connector 'whatsapp'");
  await outbound("420600111222");
  await find(page, "#work [data-conversation] .message.agent", "Your parcel has arrived.");
  console.log("window passed: past the window only an approved template goes out; outbound only to who wrote");
});
