// Entry point: sign in with an API key, then open the console the key's role is for.

import { get, rememberKey, forgetKey, savedKey } from "./api.js";
import { showError } from "./dom.js";
import { agentConsole } from "./agent.js";
import { supervisorBoard } from "./board.js";

const app = document.getElementById("app");
const signIn = document.getElementById("sign-in");

async function open() {
  let me;
  try {
    me = await get("/v1/me");
  } catch (error) {
    // Only a key the server refuses is forgotten; a network failure keeps it for a retry.
    if (error.status === 401) forgetKey();
    showError(error);
    return;
  }
  showError(null);
  document.getElementById("who").textContent = `${me.name} (${me.role})`;
  const signOut = document.getElementById("sign-out");
  signOut.hidden = false;
  signOut.onclick = () => {
    forgetKey();
    location.reload();
  };
  signIn.remove();
  if (me.role === "agent") {
    agentConsole(app, me.agent);
  } else if (me.role === "connector") {
    app.textContent = "A connector's key has no console: it brings customers' messages in over the API.";
  } else {
    supervisorBoard(app, me);
  }
}

signIn.addEventListener("submit", (event) => {
  event.preventDefault();
  rememberKey(document.getElementById("key").value.trim());
  open();
});

if (savedKey()) {
  open();
}
