// Entry point: sign in with an API key, then open the console the key's role is for.

import { get, rememberKey, forgetKey, savedKey } from "./api.js";
import { showError } from "./dom.js";
import { agentConsole } from "./agent.js";

const app = document.getElementById("app");
const signIn = document.getElementById("sign-in");

async function open() {
  let me;
  try {
    me = await get("/v1/me");
  } catch (error) {
    forgetKey();
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
  } else {
    app.textContent = `The ${me.role}'s board is not built yet; the API serves everything it will show.`;
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
