// Small helpers for building the page: elements from a tag, attributes and children, and the
// error banner. No framework: the console is a handful of lists that are redrawn whole.

import { Problem } from "./api.js";

/** `h("button", { onclick, class: "primary" }, "Accept")` */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, value);
  }
  element.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

/** Shows the API's message (or hides the banner with `null`). */
export function showError(error) {
  const banner = document.getElementById("error");
  if (!error) {
    banner.hidden = true;
    return;
  }
  banner.textContent = error.message || String(error);
  banner.hidden = false;
}

/** Runs an action, showing its refusal (the API's own words) instead of failing silently. A
 * message shown stays until the user's next action clears it (`showError(null)`), so that a
 * background read does not wipe a refusal before it is read. */
export async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  }
}

/** Runs a background read: the API's refusals are shown, but a network failure is not (the
 * connection indicator already says the console is cut off, and it catches up when back). */
export async function quietly(action) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof Problem) showError(error);
    return undefined;
  }
}

/** "1:05" for 65,000 ms. */
export function clock(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** Whom a row or a summary is about: their name, else their handle, else their pseudonym. */
export function customer(row) {
  return row.contact_name || row.handle || row.contact;
}

/** Says in the bar whether the live stream is connected, and shows a refusal that ended it. */
export function showLink(live, error) {
  const link = document.getElementById("link");
  link.hidden = false;
  link.textContent = live ? "Live" : "Disconnected: reconnecting…";
  link.classList.toggle("down", !live);
  if (error && (error.status === 401 || error.status === 403)) showError(error);
}

/**
 * `changed(panel, what)` is true when `what` differs from what the panel last showed. Panels are
 * rebuilt only then: a rebuild between the press and the release of a button swallows the click.
 */
export function redrawGuard() {
  const drawn = new Map();
  return (panel, what) => {
    const key = JSON.stringify(what);
    if (drawn.get(panel) === key) return false;
    drawn.set(panel, key);
    return true;
  };
}
