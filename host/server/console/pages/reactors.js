// Reactors: each one's state, position and lag, the intents it issued and executed, the stall
// alarm and its last error; a fault's event (linked); its parked events, each linked to its
// stream, with retry and discard; retry all, and a reset from a position (each confirmed
// first). Polled a second after the last poll ended; a parked list is drawn again only when it
// changes, and a reply older than the last one drawn is dropped.

import * as api from "../api.js";
import { confirmButton, figure, h, link, num, replace, streamHref, time } from "../dom.js";
import { errorBox } from "../nav.js";
import { eventAt, table } from "./common.js";

const EVERY_MS = 1000;
// The most parked events a card lists; the CLI pages through the rest.
const PARKED_SHOWN = 100;

function badge(status) {
  const labels = { live: "live", catching_up: "catching up", faulted: "faulted", stopped: "stopped" };
  const lag = status.state === "catching_up" ? ` (${num(status.lag)} behind)` : "";
  return h("span", { class: `badge state-${status.state}` }, `${labels[status.state] ?? status.state}${lag}`);
}

/** What a retry did, in words. */
function retried(report) {
  const failed = report.failed.map((f) => `position ${f.position}: ${f.error}`);
  return h("p", { class: failed.length ? "error" : "ok", role: "status" },
    `${num(report.succeeded)} retried and let go; ${num(failed.length)} failed again`,
    failed.length ? h("ul", {}, failed.map((f) => h("li", {}, f))) : null);
}

function card(name) {
  const base = `/v1/reactors/${api.seg(name)}`;
  const body = h("div", { class: "reactor-body" });
  const fault = h("div", { class: "fault-slot" });
  const parked = h("div", { class: "parked" });
  const said = h("div", { class: "said", "aria-live": "polite" });
  const from = h("input", { id: `reset-from-${name}`, type: "number", min: 0, value: 0, "aria-label": `Position to reset ${name} from` });
  let parkedShown = null;
  let faultShown = null;

  async function act(doing) {
    try {
      replace(said, await doing());
      await refresh();
    } catch (error) {
      replace(said, errorBox(error));
    }
  }

  const el = h("article", { class: "reactor", id: `reactor-${name}`, "data-name": name },
    h("header", {}, h("h2", {}, name), h("span", { class: "state-slot" })),
    body, fault,
    h("h3", {}, "Parked events"), parked,
    h("div", { class: "actions" },
      confirmButton("Retry all parked", `Retry every event reactor ${name} parked? Each stream's are taken in order, from its first, until one fails again.`,
        () => act(async () => retried(await api.post(`${base}/parked/retry-all`))),
        { class: "retry-all", "aria-label": `Retry all parked events of ${name}` }),
      h("span", { class: "reset-from" },
        h("label", { for: `reset-from-${name}` }, "Reset from position "), from,
        confirmButton("Reset", `Reset reactor ${name}? It reacts again to every event after the position with an empty state; commands it sent before are answered by their keys, not executed again.`,
          () => act(async () => {
            await api.post(`${base}/reset`, undefined, { from: from.value || "0" });
            return h("p", { class: "ok", role: "status" }, `Reset from position ${num(Number(from.value || 0))}.`);
          }),
          { class: "reset danger", "aria-label": `Reset ${name}` }))),
    said);

  function parkedRow(entry) {
    const at = entry.position;
    return [
      h("span", {}, num(at)),
      entry.stream ? link(streamHref(entry.stream), entry.stream) : h("span", { class: "muted" }, "(not kept)"),
      h("code", {}, entry.event_type || "?"),
      reasonOf(entry),
      num(entry.attempts),
      h("span", { class: "fault-error" }, entry.last_error || ""),
      time(entry.parked_at),
      h("span", {},
        confirmButton("Retry", `Retry the event parked at position ${at}? The events of its stream parked behind it follow, in order.`,
          () => act(async () => retried(await api.post(`${base}/parked/${at}/retry`))),
          { class: "retry", "aria-label": `Retry position ${at}` }),
        " ",
        confirmButton("Discard", `Discard the event parked at position ${at}? The reactor will never react to it.`,
          () => act(async () => {
            const gone = await api.call("DELETE", `${base}/parked/${at}`);
            return h("p", { class: "ok", role: "status" }, `${num(gone.discarded)} discarded at position ${num(at)}.`);
          }),
          { class: "discard danger", "aria-label": `Discard position ${at}` })),
    ];
  }

  function reasonOf(entry) {
    if (entry.reason === "behind") {
      return h("span", { title: "An earlier event of its stream is parked; it waits behind it" }, "behind");
    }
    if (entry.intents) {
      return h("span", { title: "Its commands failed for the host; a retry executes them again, under their keys" }, "commands failed");
    }
    return h("span", { title: "react failed on it after its retries; a retry reacts to it again" }, "react failed");
  }

  let asked = 0;
  async function showParked() {
    const mine = ++asked;
    const list = await api.get(`${base}/parked?limit=${PARKED_SHOWN}`);
    if (mine !== asked) return;
    const key = JSON.stringify(list.parked);
    if (key === parkedShown) return;
    parkedShown = key;
    if (list.parked.length === 0) {
      replace(parked, h("p", { class: "muted" }, "Nothing is parked."));
      return;
    }
    const last = list.parked[list.parked.length - 1].position;
    replace(parked, table(`Events ${name} parked, in log order`,
      ["Position", "Stream", "Type", "Reason", "Attempts", "Last error", "Parked at", ""],
      list.parked.map(parkedRow)),
      list.parked.length === PARKED_SHOWN
        ? h("p", { class: "muted" }, `The first ${PARKED_SHOWN}; \`cairn reactors parked ${name} --after ${last}\` lists more.`)
        : null);
  }

  async function showFault(f) {
    const key = f ? `${f.position}:${f.error}` : null;
    if (key === faultShown) return;
    faultShown = key;
    if (!f) { fault.replaceChildren(); return; }
    const e = await eventAt(f.position).catch(() => null);
    if (faultShown !== key) return;
    replace(fault, h("div", { class: "fault", role: "alert" },
      h("h3", {}, "Faulted"),
      h("p", {}, "On the event at position ", num(f.position),
        e ? [" (", h("code", {}, e.type), ") in ", link(`${streamHref(e.stream)}?from=${e.version}&direction=forward`, `${e.stream} version ${e.version}`)] : null, ":"),
      h("pre", { class: "fault-error" }, f.error),
      h("p", { class: "hint" }, "It stays faulted until a new version is deployed (which tries the event again) or it is reset.")));
  }

  async function update(status) {
    el.querySelector(".state-slot").replaceChildren(badge(status));
    el.dataset.state = status.state;
    replace(body,
      h("div", { class: "figures" },
        figure("Version", num(status.version)),
        figure("Position", `${num(status.position)} of ${num(status.head)}`),
        figure("Lag", `${num(status.lag)} events`),
        figure("Intents issued", num(status.intents_issued), { "data-figure": "issued" }),
        figure("Executed", num(status.intents_executed), { "data-figure": "executed" }),
        figure("Parked", num(status.parked), { "data-figure": "parked" }),
        figure("Skipped", num(status.skipped))),
      status.stalled ? h("p", { class: "stalled", role: "alert" }, "Stalled: the log moved on and this reactor has not.") : null,
      status.last_error ? h("p", {}, "Last error: ", h("span", { class: "fault-error" }, status.last_error)) : null);
    await Promise.all([showFault(status.fault), showParked()]);
  }

  async function refresh() {
    await update(await api.get(base));
  }
  return { el, update };
}

export default {
  title: "Reactors",
  nav: "reactors",
  path: /^\/ui\/reactors\/?$/,
  async render(main) {
    const cards = new Map();
    const holder = h("div", { id: "reactors" });
    replace(main, h("h1", {}, "Reactors"), holder);
    let left = false;
    let timer = null;
    async function poll() {
      const list = await api.get("/v1/reactors");
      const loaded = new Set(list.reactors.map((s) => s.name));
      for (const [name, c] of cards) {
        if (!loaded.has(name)) { c.el.remove(); cards.delete(name); }
      }
      if (list.reactors.length === 0) {
        replace(holder, h("p", { class: "muted" }, "No reactors are loaded."));
        return;
      }
      for (const status of list.reactors) {
        if (!cards.has(status.name)) {
          const c = card(status.name);
          cards.set(status.name, c);
          if (cards.size === 1) holder.replaceChildren();
          holder.append(c.el);
        }
        await cards.get(status.name).update(status);
      }
    }
    async function again() {
      await poll().catch(() => {});
      if (!left) timer = setTimeout(again, EVERY_MS);
    }
    await poll();
    timer = setTimeout(again, EVERY_MS);
    return () => { left = true; clearTimeout(timer); };
  },
};
