// The console's shell: signs in when the server needs a key, then shows the page the address
// names. Each page is a module under pages/ exporting {title, path, render}; a page's render
// gets the main element and the address's parameters, and returns what to do when it is left
// (closing its subscriptions). Links within the console change pages without a reload.

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { errorBox, go } from "./nav.js";
import overview from "./pages/overview.js";
import streams from "./pages/streams.js";
import stream from "./pages/stream.js";
import aggregate from "./pages/aggregate.js";
import projections from "./pages/projections.js";
import reactors from "./pages/reactors.js";
import modules from "./pages/modules.js";
import command from "./pages/command.js";

const PAGES = [overview, streams, stream, command, aggregate, projections, reactors, modules];
const main = document.getElementById("page");
let leave = () => {};
/** Counts page changes: a page still rendering when another is asked for is dropped. */
let shown = 0;

/** The page an address names, and its parameters. */
function route(pathname) {
  for (const page of PAGES) {
    const match = pathname.match(page.path);
    if (!match) continue;
    try {
      return { page, params: match.slice(1).map(decodeURIComponent) };
    } catch {
      return null;
    }
  }
  return null;
}

async function show() {
  leave();
  leave = () => {};
  const found = route(window.location.pathname);
  for (const a of document.querySelectorAll("#nav a")) {
    const current = found && a.dataset.page === found.page.nav;
    if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (!found) {
    document.title = "Not found · cairn";
    replace(main, h("h1", {}, "Not found"), h("p", {}, "The console has no page at this address. ", h("a", { href: "/ui/" }, "Go to the overview.")));
    return;
  }
  document.title = `${found.page.title} · cairn`;
  replace(main, h("p", { class: "muted" }, "Loading…"));
  // The page renders into a slot of its own, shown only if no other page was asked for
  // meanwhile; a page dropped so closes what it opened.
  const mine = ++shown;
  const slot = h("div", { class: "page" });
  let close = () => {};
  try {
    const query = new URLSearchParams(window.location.search);
    close = (await found.page.render(slot, found.params, query)) ?? (() => {});
  } catch (error) {
    replace(slot, h("h1", {}, found.page.title), errorBox(error));
  }
  if (mine !== shown) {
    close();
    return;
  }
  leave = close;
  replace(main, slot);
}


document.addEventListener("click", (e) => {
  const a = e.target.closest?.("a[href]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  const url = new URL(a.href, window.location.href);
  if (url.origin !== window.location.origin || !url.pathname.startsWith("/ui/") || url.pathname.startsWith("/ui/assets/")) return;
  e.preventDefault();
  go(url.pathname + url.search);
});
window.addEventListener("popstate", show);
window.addEventListener("cairn:navigate", () => { show(); main.focus({ preventScroll: true }); });

let signingIn = null;

/** Asks for the key if the server needs it and this browser has not given it; once at a time. */
function signInFirst() {
  signingIn ??= askForKey().finally(() => { signingIn = null; });
  return signingIn;
}

async function askForKey() {
  const status = await api.session();
  const signOut = document.getElementById("sign-out");
  signOut.hidden = !status.key_required || !status.signed_in;
  signOut.onclick = async () => { await api.signOut(); window.location.reload(); };
  if (status.signed_in) return;
  const dialog = document.getElementById("sign-in");
  const form = document.getElementById("sign-in-form");
  const field = document.getElementById("sign-in-key");
  const problem = document.getElementById("sign-in-error");
  replace(main, h("p", { class: "muted" }, "Sign in to use the console."));
  dialog.showModal();
  field.focus();
  await new Promise((resolve) => {
    form.onsubmit = async (e) => {
      e.preventDefault();
      try {
        await api.signIn(field.value);
        field.value = "";
        dialog.close();
        signOut.hidden = false;
        resolve();
      } catch (error) {
        problem.hidden = false;
        problem.textContent = error.status === 401 ? "That is not this server's key." : error.message;
        field.select();
      }
    };
    dialog.oncancel = (e) => e.preventDefault();
  });
}

api.whenUnauthorized(() => {
  if (!signingIn) signInFirst().then(show);
});

await signInFirst();
await show();
