// Scenario 3: two agents of a grab team race for one conversation in two browser pages;
// exactly one gets it, and the other is told who did. The team's admin sees who won, on their
// teams' list and on an administrator's board, and joins it.

import assert from "node:assert/strict";
import {
  api, count, find, page as newPage, press, readyAgent, scenario, screenshot, signIn,
} from "./browser.mjs";

const ADMIN = "sb_demo_admin";
await scenario("grab", async (browser) => {
  const pages = {};
  for (const agent of ["ann", "ben"]) {
    const page = await newPage(browser);
    await readyAgent(page, `sb_test_${agent}`, "experts");
    pages[agent] = page;
  }
  const sent = await api(ADMIN, "POST", "/v1/webchat/experts-chat/messages", {
    visitor: "v-race", name: "Karel", message_id: "race-1", text: "Who can help me first?",
  });
  const card = `.team[data-conversation="${sent.conversation}"]`;
  await Promise.all(["ann", "ben"].map((agent) => find(pages[agent], `${card} button`, "Grab")));
  // Both grab at once.
  await Promise.all(["ann", "ben"].map((agent) => press(pages[agent], card, "Grab")));

  const tab = `#work [data-conversation="${sent.conversation}"]`;
  const winner = await Promise.any(["ann", "ben"].map((agent) => find(pages[agent], tab).then(() => agent)));
  const loser = winner === "ann" ? "ben" : "ann";
  // The API agrees: one agent in it, the winner (read once the grab is in the read models).
  let summary;
  for (let tries = 0; tries < 50; tries += 1) {
    summary = await api(ADMIN, "GET", `/v1/conversations/${sent.conversation}`);
    if (summary.agents.length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(summary.agents, [winner], JSON.stringify(summary));
  // The loser is told who won: by the stream (the card) or by the API's refusal (the banner).
  await find(pages[loser], ".grabbed, #error", new RegExp(`grabbed by '?${winner}'?`, "i"));
  assert.equal(await count(pages[loser], tab), 0);
  await screenshot(pages[loser], "grab-race-loser");

  // Cleo administers the team: her list shows who won, and she joins.
  pages.cleo = await newPage(browser);
  await signIn(pages.cleo, "sb_test_cleo");
  const row = `#team-board [data-conversation="${sent.conversation}"]`;
  await find(pages.cleo, row, `grabbed by ${winner}`);
  pages.board = await newPage(browser);
  await signIn(pages.board, ADMIN);
  await find(pages.board, `.column [data-conversation="${sent.conversation}"]`, `Grabbed by ${winner}`);
  await press(pages.cleo, row, "Join");
  await find(pages.cleo, `#work [data-conversation="${sent.conversation}"]`);
  await find(pages.board, `.column [data-conversation="${sent.conversation}"]`, `Grabbed by ${winner}, with cleo`);
  const joined = await api(ADMIN, "GET", `/v1/conversations/${sent.conversation}`);
  assert.deepEqual(joined.agents, ["cleo", winner].sort(), JSON.stringify(joined));
  console.log(`scenario 3 passed: ${winner} grabbed it, ${loser} was told, cleo joined`);
});
