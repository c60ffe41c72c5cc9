// What every browser scenario shares: the browser (Debian's Chromium or Firefox ESR, named by
// $BROWSER, driven by puppeteer-core, which never downloads a browser of its own: Chromium over
// the DevTools protocol, Firefox over WebDriver BiDi), the server under test, the API for the
// customer's side, and a few waits that read like what a person checks on the page.
//
// Every wait polls the page until what it looks for is there (or 30 s pass): the console redraws
// its panels, so an element found a moment ago may have been replaced by an equal one.

import puppeteer from "puppeteer-core";
import { createHmac } from "node:crypto";
import { mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const base = process.env.SWITCHBOARD_URL?.replace(/\/$/, "");
export const shots = process.env.SCREENSHOTS;
/** "chromium" or "firefox". */
export const browserName = process.env.BROWSER || "chromium";

if (!base) {
  throw new Error("SWITCHBOARD_URL is not set: run through api-gateway/tests/console_in_browser.rs");
}

const TIMEOUT_MS = 30_000;

export async function launch() {
  if (browserName === "firefox") {
    return puppeteer.launch({
      browser: "firefox",
      executablePath: process.env.FIREFOX || "/usr/lib/firefox-esr/firefox-esr",
      headless: true,
    });
  }
  return puppeteer.launch({
    browser: "chrome",
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** Runs scenario `name`: launches the browser, runs `body(browser)`, and after a failure shows
 * what every page it opened showed (`explain`) before the error ends the script; the browser is
 * closed either way. */
export async function scenario(name, body) {
  const browser = await launch();
  try {
    await body(browser);
  } catch (error) {
    for (const [n, page] of (browser.scenarioPages ?? []).entries()) await explain(page, `${name}-failure-${n}`);
    throw error;
  } finally {
    await browser.close();
  }
}

/** A page in a context of its own (its own storage, as a second person at another desk), which
 * fails the scenario on any uncaught script error, logs console errors and missing files (a
 * refused request is one, and some scenarios make them on purpose), and keeps its downloads
 * apart. */
export async function page(browser) {
  const downloads = await mkdtemp(join(tmpdir(), "switchboard-downloads-"));
  const context = await browser.createBrowserContext({
    downloadBehavior: { policy: "allow", downloadPath: downloads },
  });
  const page = await context.newPage();
  (browser.scenarioPages ??= []).push(page);
  page.downloads = downloads;
  page.setDefaultTimeout(TIMEOUT_MS);
  await page.setViewport({ width: 1280, height: 800 });
  page.on("console", (message) => {
    if (message.type() === "error") console.error(`console error: ${message.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() === 404) console.error(`not found: ${response.url()}`);
  });
  page.on("pageerror", (error) => {
    console.error(`page error: ${error.message ?? error}`);
    process.exitCode = 1;
  });
  return page;
}

function pattern(text) {
  if (text === undefined) return [null, ""];
  if (text instanceof RegExp) return [text.source, text.flags];
  return [text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), ""];
}

/** Waits for a shown element matching `selector` whose text holds `text` (a string or a RegExp),
 * and returns it. */
export async function find(page, selector, text) {
  const [source, flags] = pattern(text);
  const handle = await page.waitForFunction(
    (selector, source, flags) => {
      const wanted = source === null ? null : new RegExp(source, flags);
      return [...document.querySelectorAll(selector)]
        .find((e) => e.checkVisibility() && (!wanted || wanted.test(e.textContent))) ?? null;
    },
    { polling: 100 },
    selector,
    source,
    flags,
  );
  return handle.asElement();
}

/** Waits until nothing matches `selector`. */
export async function gone(page, selector) {
  await page.waitForFunction((selector) => !document.querySelector(selector), { polling: 100 }, selector);
}

/** Clicks the element matching `selector` (whose text holds `text`, if given), once it is there;
 * found again if a redraw replaced it between finding and clicking. */
export async function click(page, selector, text) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const element = await find(page, selector, text);
    try {
      await element.click();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Clicks the button labelled `name` inside `scope`. */
export async function press(page, scope, name) {
  await click(page, `${scope} button`, new RegExp(`^\\s*${pattern(name)[0]}\\s*$`));
}

export async function count(page, selector) {
  return page.$$eval(selector, (elements) => elements.length);
}

export async function textOf(page, selector) {
  return page.$eval(selector, (element) => element.textContent);
}

export async function textsOf(page, selector) {
  return page.$$eval(selector, (elements) => elements.map((e) => e.textContent));
}

export async function valueOf(page, selector) {
  return page.$eval(selector, (element) => element.value);
}

export async function disabled(page, selector) {
  return page.$eval(selector, (element) => element.disabled);
}

/** Sets a field's value as a paste would (one input event, one change event), once the field is
 * there. Found and set in one step inside the page: a handle found first could be replaced by a
 * redraw before it is set, and a field no longer shown would take the value. */
export async function fill(page, selector, value) {
  await find(page, selector);
  await page.evaluate((selector, value) => {
    const element = document.querySelector(selector);
    element.focus();
    element.value = value;
    element.dispatchEvent(new Event("input", { bubbles: true }));
    element.dispatchEvent(new Event("change", { bubbles: true }));
  }, selector, value);
}

/** Chooses the option of value `value` in a select, in one step as `fill` does. */
export async function choose(page, selector, value) {
  await find(page, selector);
  await page.evaluate((selector, value) => {
    const element = document.querySelector(selector);
    if (![...element.options].some((option) => option.value === value)) {
      throw new Error(`${selector} has no option ${value}`);
    }
    element.value = value;
    element.dispatchEvent(new Event("input", { bubbles: true }));
    element.dispatchEvent(new Event("change", { bubbles: true }));
  }, selector, value);
}

/** Runs `action` (a click that starts a download) and returns the text of the file `name` it
 * saves (its bytes, with `encoding` null). Browsers write a download under a temporary name first (Chromium's `.crdownload`,
 * Firefox's `.part` beside a placeholder), so it waits for the final name and a size that holds
 * still. */
export async function download(page, action, name, encoding = "utf8") {
  await action();
  const path = join(page.downloads, name);
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    try {
      const names = await readdir(page.downloads);
      const partial = names.some((n) => n.endsWith(".part") || n.endsWith(".crdownload"));
      const size = (await stat(path)).size;
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (!partial && size > 0 && (await stat(path)).size === size) return readFile(path, encoding ? { encoding } : {});
    } catch (error) {
      if (error.code !== "ENOENT") throw error;
    }
    if (Date.now() > deadline) throw new Error(`no download ${name} arrived in ${page.downloads}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function signIn(page, key) {
  await page.goto(`${base}/`);
  await fill(page, "#key", key);
  await click(page, "#sign-in button[type=submit]");
}

/** Delivers a provider's webhook `payload` to `connector`, signed as Meta signs (HMAC-SHA256 of
 * the body with the app secret), and checks it was taken. */
export async function webhook(connector, secret, payload) {
  const body = JSON.stringify(payload);
  const signature = createHmac("sha256", secret).update(body).digest("hex");
  const delivered = await fetch(`${base}/v1/connectors/${connector}/webhook`, {
    method: "POST", body,
    headers: { "content-type": "application/json", "x-hub-signature-256": `sha256=${signature}` },
  });
  if (delivered.status !== 200) throw new Error(`webhook ${connector}: ${delivered.status} ${await delivered.text()}`);
}

/** Accepts the offer whose card mentions `text` (a channel, a name); returns its conversation. */
export async function acceptOffer(page, text) {
  const offer = await find(page, ".offer", text);
  const conversation = await offer.evaluate((element) => element.dataset.conversation);
  await press(page, `.offer[data-conversation="${conversation}"]`, "Accept");
  return conversation;
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

/** Waits (up to 10 s) for an event of `type` after log position `after` that `matches`, reading
 * the global log with the admin's key; returns it. */
export async function logged(type, after, matches = () => true) {
  const deadline = Date.now() + 10_000;
  let from = after;
  for (;;) {
    const page = await api("sb_demo_admin", "GET", `/v1/log?after=${from}&wait_ms=1000`);
    const found = page.events.find((e) => e.type === type && matches(e.payload));
    if (found) return found;
    from = page.next_after;
    if (Date.now() > deadline) throw new Error(`no ${type} in the log after position ${after}`);
  }
}

/** After a failure: what the page showed (its error banner, its main area) and a screenshot. */
export async function explain(page, name) {
  if (!page) return;
  console.error(`error banner: ${await textOf(page, "#error").catch(() => "")}`);
  console.error(`page: ${await page.$eval("main", (m) => m.innerText).catch(() => "")}`);
  if (shots) {
    await page.screenshot({ path: `${shots}/${name}-${browserName}.png`, fullPage: true }).catch(() => {});
  }
}

/** A screenshot of the page as it is, for CI's output. */
export async function screenshot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}-${browserName}.png`, fullPage: true });
}

/** Signs `key`'s agent in, logs them in to `queue`, makes them ready, and waits for the live
 * stream: where every agent scenario starts. */
export async function readyAgent(page, key, queue) {
  await signIn(page, key);
  await click(page, `#queues button[data-queue=${queue}]`);
  await find(page, `#queues button[data-queue=${queue}]`, "Log out");
  await click(page, "#ready");
  await find(page, "#presence-state", "ready");
  await find(page, "#link", "Live");
}
