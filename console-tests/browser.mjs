// What every browser scenario shares: Debian's Chromium driven by playwright-core (which never
// downloads a browser of its own), the server under test, and the API for the customer's side.

import { chromium } from "playwright-core";

export const base = process.env.SWITCHBOARD_URL?.replace(/\/$/, "");
export const shots = process.env.SCREENSHOTS;

if (!base) {
  throw new Error("SWITCHBOARD_URL is not set: run through api-gateway/tests/console_in_browser.rs");
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** A page that fails the scenario on any script error or console error. */
export async function page(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("console", (message) => {
    if (message.type() === "error") console.error(`console error: ${message.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() === 404) console.error(`not found: ${response.url()}`);
  });
  page.on("pageerror", (error) => {
    console.error(`page error: ${error.message}`);
    process.exitCode = 1;
  });
  return page;
}

export async function signIn(page, key) {
  await page.goto(`${base}/`);
  await page.fill("#key", key);
  await page.click("#sign-in button[type=submit]");
}

/** Calls the API with `key`, as a connector or a script would. */
export async function api(key, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const answer = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return answer;
}

/** After a failure: what the page showed (its error banner, its main area) and a screenshot. */
export async function explain(page, name) {
  if (!page) return;
  const banner = await page.locator("#error").textContent().catch(() => "");
  console.error(`error banner: ${banner}`);
  console.error(`page: ${await page.locator("main").innerText().catch(() => "")}`);
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true }).catch(() => {});
}

/** Signs `key`'s agent in, logs them in to `queue`, makes them ready, and waits for the live
 * stream: where every agent scenario starts. */
export async function readyAgent(page, key, queue) {
  await signIn(page, key);
  const button = page.locator(`#queues button[data-queue=${queue}]`);
  await button.click();
  await page.locator(`#queues button[data-queue=${queue}]`, { hasText: "Log out" }).waitFor();
  await page.click("#ready");
  await page.locator("#presence-state", { hasText: "ready" }).waitFor();
  await page.locator("#link", { hasText: "Live" }).waitFor();
}
