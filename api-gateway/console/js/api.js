// The console's only way to the server: the public HTTP API and its live streams, with the
// signed-in key. It knows no rule of the engine; every refusal shown is the API's own message.

const KEY = "switchboard.key";

export function savedKey() {
  return sessionStorage.getItem(KEY);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

export function rememberKey(key) {
  sessionStorage.setItem(KEY, key);
}

/** An API refusal: the problem+json document's title and detail, as the server wrote them. */
export class Problem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function answer(response) {
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    throw new Problem(response.status, typeof body === "object" ? body : { detail: body });
  }
  return body;
}

function headers(extra = {}) {
  const key = savedKey();
  return key ? { authorization: `Bearer ${key}`, ...extra } : extra;
}

export async function get(path) {
  return answer(await fetch(path, { headers: headers() }));
}

export async function post(path, body = null) {
  return answer(
    await fetch(path, {
      method: "POST",
      headers: headers({ "content-type": "application/json" }),
      body: JSON.stringify(body),
    }),
  );
}

/** A conversation's whole history, page after page (the API gives at most 1000 events a page). */
export async function history(conversation) {
  const events = [];
  let after = 0;
  for (;;) {
    const page = await get(`/v1/conversations/${conversation}/history?after_version=${after}`);
    events.push(...page.events);
    if (!page.more) return { ...page, events };
    after = page.next_after_version;
  }
}

/** Posts to `path` as the page goes away (closed, reloaded, navigated from, signed out of): the
 * browser still sends it. The key is taken now, as signing out forgets it before the page goes. */
export function postWhenLeaving(path) {
  const sent = headers({ "content-type": "application/json" });
  window.addEventListener("pagehide", () => {
    fetch(path, { method: "POST", headers: sent, body: "null", keepalive: true }).catch(() => {});
  });
}

/** Posts to `path` every `everyMs` from a worker: a hidden tab's own timers are slowed to once a
 * minute or less, which would let a heartbeat lapse while the agent works in another window. */
export function postEvery(path, everyMs) {
  const worker = new Worker("/console/js/beat.js");
  worker.postMessage({ url: new URL(path, location.href).href, key: savedKey(), everyMs });
  return () => worker.terminate();
}

/** Downloads what `path` answers as a file named `name`. */
export async function download(path, name) {
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) {
    await answer(response);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}

/**
 * Follows a Server-Sent Events stream with the key in a header (which `EventSource` cannot send).
 * Each message goes to `onMessage(type, data, id)`. When the connection drops it reconnects with
 * `Last-Event-ID` set to the last id received, so nothing is missed and nothing comes twice;
 * `onStatus(live, error, fresh)` says whether it is connected, and `fresh` that it follows from
 * now rather than from where it stopped (the first time, or when the server could not resume):
 * the caller then forgets what it holds and reads it all again. Returns a function that stops it.
 */
export function follow(path, onMessage, onStatus) {
  let stopped = false;
  let lastId = null;
  let controller = null;
  let retryMs = 500;
  let heardAt = Date.now();
  let wake = null;
  // A connection can die without closing (a network gone, a laptop asleep): the server writes
  // at least every 15 s, so silence twice that long means it is gone.
  const watchdog = setInterval(() => {
    if (Date.now() - heardAt > SILENCE_MS) controller?.abort();
  }, 5000);
  window.addEventListener("offline", () => controller?.abort());
  window.addEventListener("online", () => wake?.());

  async function connect() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const extra = lastId === null ? {} : { "last-event-id": lastId };
        const response = await fetch(path, { headers: headers(extra), signal: controller.signal });
        if (!response.ok) {
          const problem = await answer(response).catch((error) => error);
          // A stream refused for good (no key, no rights): say so, and stop trying.
          if (response.status === 401 || response.status === 403) {
            onStatus(false, problem);
            return;
          }
          // Too far behind to resume (410), or a position the server does not know (400, as
          // after a restore from a backup): start again from now; the caller reloads its state.
          if (response.status === 410 || (response.status === 400 && lastId !== null)) {
            lastId = null;
          }
          throw problem;
        }
        onStatus(true, null, lastId === null);
        retryMs = 500;
        heardAt = Date.now();
        await read(response.body, () => { heardAt = Date.now(); }, (type, data, id) => {
          if (id !== null) {
            lastId = id;
          }
          onMessage(type, data, id);
        });
      } catch (error) {
        if (stopped) {
          return;
        }
        onStatus(false, error);
      }
      if (stopped) {
        return;
      }
      onStatus(false);
      // Wait before trying again, unless the browser says the network is back.
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, retryMs);
      });
      wake = null;
      retryMs = Math.min(retryMs * 2, 5000);
    }
  }

  connect();
  return () => {
    stopped = true;
    clearInterval(watchdog);
    controller?.abort();
  };
}

/** How long a stream may be silent before it is taken for dead (the server writes every 15 s). */
const SILENCE_MS = 35_000;

/** Reads an SSE body, calling `heard()` for anything received (keep-alive comments too) and
 * `emit(type, data, id)` per message. */
async function read(body, heard, emit) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    heard();
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "message";
      let id = null;
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("id:")) id = line.slice(3).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) {
        emit(type, JSON.parse(data.join("\n")), id);
      }
    }
  }
}
