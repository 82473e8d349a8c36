// The inspector of one aggregate: time travel through its states, a version at a time (the
// slider, the step buttons or a number), with the event that moved it there and the diff it
// made; and a command console that sends a command and shows its events or the rejection.

import * as api from "../api.js";
import { h, link, num, replace, streamHref } from "../dom.js";
import { diff } from "../diff.js";
import { jsonView } from "../json_view.js";
import { errorBox, setQuery } from "../nav.js";
import { eventCard } from "./events.js";

function show(value) {
  return value === undefined ? "—" : JSON.stringify(value);
}

function diffList(changes) {
  if (changes.length === 0) return h("p", { class: "muted", id: "diff-empty" }, "The event changed nothing in the state.");
  return h("ul", { class: "diff", id: "diff" }, changes.map((c) => h("li", { class: `diff-${c.kind}` },
    h("code", { class: "diff-path" }, c.path), " ",
    c.kind === "added" ? ["added ", h("code", {}, show(c.after))]
      : c.kind === "removed" ? ["removed (was ", h("code", {}, show(c.before)), ")"]
        : [h("code", {}, show(c.before)), " → ", h("code", {}, show(c.after))])));
}

function timeTravel(module, id, version, onVersion) {
  const base = `/v1/aggregates/${api.seg(module)}/${api.seg(id)}`;
  const slider = h("input", { id: "tt-slider", type: "range", min: 0, max: version, value: version, "aria-label": "Version" });
  const number = h("input", { id: "tt-version", type: "number", min: 0, max: version, value: version });
  const at = h("div", { id: "tt-at", "aria-live": "polite" });
  let current = version;
  let ticket = 0;

  async function go(v) {
    v = Math.max(0, Math.min(version, Number(v)));
    current = v;
    slider.value = v;
    number.value = v;
    setQuery({ at: v === version ? "" : v });
    onVersion(v);
    const mine = ++ticket;
    try {
      const [state, steps] = await Promise.all([
        api.get(base, { at: v }),
        v > 0 ? api.get(`${base}/history`, { from: Math.max(1, v - 1), to: v }) : Promise.resolve({ steps: [] }),
      ]);
      if (mine !== ticket) return;
      const step = steps.steps.find((s) => s.version === v);
      const before = steps.steps.find((s) => s.version === v - 1);
      const beforeState = v === 1 ? (await api.get(base, { at: 0 })).state : before?.state;
      if (mine !== ticket) return;
      replace(at,
        h("h3", {}, `State at version ${num(v)}`, v === version ? " (now)" : ""),
        step ? h("div", { class: "moved-by" }, h("h4", {}, "The event that moved it here"), eventCard(step.event)) : null,
        step ? [h("h4", {}, "What it changed"), diffList(diff(beforeState, step.state))] : null,
        steps.failure ? errorBox({ message: `The module failed at version ${steps.failure.version} (${steps.failure.type}): ${steps.failure.error}` }) : null,
        h("h4", {}, "The whole state"),
        h("div", { id: "tt-state", "data-json": JSON.stringify(state.state) }, jsonView(state.state, { label: `the state at version ${v}` })));
    } catch (error) {
      if (mine === ticket) replace(at, errorBox(error));
    }
  }

  slider.addEventListener("input", () => go(slider.value));
  number.addEventListener("change", () => go(number.value));
  const controls = h("div", { class: "tt-controls" },
    h("button", { type: "button", id: "tt-first", onclick: () => go(0) }, "Start"),
    h("button", { type: "button", id: "tt-previous", onclick: () => go(current - 1) }, "◀ Previous event"),
    slider,
    h("button", { type: "button", id: "tt-next", onclick: () => go(current + 1) }, "Next event ▶"),
    h("button", { type: "button", id: "tt-last", onclick: () => go(version) }, "Now"),
    h("label", { for: "tt-version" }, "Version "), number);
  /** The aggregate moved on to `v`: the range grows, and the view goes there. */
  function grow(v) {
    version = v;
    slider.max = v;
    number.max = v;
    return go(v);
  }
  return { section: h("section", { "aria-labelledby": "tt-title" }, h("h2", { id: "tt-title" }, "Time travel"), controls, at), go, grow };
}

async function knownCommandTypes(module, id) {
  // Modules do not list their commands; the command log shows those this aggregate was sent.
  const stream = `${module}-${id}`;
  const page = await api.get(`/v1/streams/${api.seg(stream)}`, { direction: "backward", limit: 50 });
  const ids = [...new Set(page.events.map((e) => e.metadata?.command_id).filter(Boolean))].slice(0, 10);
  const commands = await Promise.all(ids.map((c) => api.get(`/v1/commands/${api.seg(c)}`).catch(() => null)));
  const examples = new Map();
  for (const c of commands) if (c && !examples.has(c.type)) examples.set(c.type, c.data);
  return examples;
}

function commandConsole(module, id, examples, afterSend) {
  const types = h("datalist", { id: "command-types" }, [...examples.keys()].map((t) => h("option", { value: t })));
  const type = h("input", { id: "command-type", list: "command-types", required: true, autocomplete: "off", value: [...examples.keys()][0] ?? "" });
  const data = h("textarea", { id: "command-data", rows: 6, spellcheck: "false" });
  const result = h("div", { id: "command-result", "aria-live": "polite" });
  const fill = () => { if (examples.has(type.value)) data.value = JSON.stringify(examples.get(type.value), null, 2); };
  fill();
  type.addEventListener("change", fill);
  const form = h("form", { id: "command-form", onsubmit: async (e) => {
    e.preventDefault();
    let payload;
    try {
      payload = data.value.trim() ? JSON.parse(data.value) : null;
    } catch (error) {
      replace(result, h("p", { class: "error", role: "alert" }, `The data is not JSON: ${error.message}`));
      return;
    }
    replace(result, h("p", { class: "muted" }, "Sending…"));
    try {
      const reply = await api.post(`/v1/aggregates/${api.seg(module)}/${api.seg(id)}/commands`, { type: type.value, data: payload });
      replace(result,
        h("p", { class: "ok", id: "command-accepted" }, `Accepted: version ${num(reply.version)}, ${reply.events.length} event${reply.events.length === 1 ? "" : "s"}.`),
        reply.events.map((e) => eventCard(e)));
      afterSend(reply.version);
    } catch (error) {
      replace(result, h("div", { class: "rejection", id: "command-rejected", role: "alert" },
        h("strong", {}, error.code === "rejected" ? "Rejected by the module: " : "Refused: "),
        h("span", { class: "message" }, error.message), h("code", { class: "code" }, ` ${error.code}`)));
    }
  } },
    h("div", { class: "field" }, h("label", { for: "command-type" }, "Command type"), type, types),
    h("div", { class: "field" }, h("label", { for: "command-data" }, "Data (JSON)"), data),
    h("button", { type: "submit", id: "command-send" }, "Send"));
  return h("section", { "aria-labelledby": "console-title" },
    h("h2", { id: "console-title" }, "Send a command"),
    examples.size === 0 ? h("p", { class: "muted" }, "Type the command's name as the module reads it; its data is the command's JSON.") : null,
    form, result);
}

export default {
  title: "Aggregate",
  nav: "streams",
  path: /^\/ui\/aggregates\/([^/]+)\/([^/]+)$/,
  async render(main, [module, id], query) {
    const now = await api.get(`/v1/aggregates/${api.seg(module)}/${api.seg(id)}`);
    const examples = await knownCommandTypes(module, id).catch(() => new Map());
    const heading = h("p", { class: "muted", id: "aggregate-version" });
    const setHeading = (v) => replace(heading, `Version ${num(now.version)} now`, v !== now.version ? `; showing version ${num(v)}` : "", ". Stream ", link(streamHref(now.stream), now.stream), ".");
    const travel = timeTravel(module, id, now.version, setHeading);
    const sent = commandConsole(module, id, examples, (version) => {
      now.version = version;
      travel.grow(version);
    });
    replace(main, h("h1", {}, "Aggregate ", h("code", {}, module), " ", h("code", { id: "aggregate-id" }, id)), heading, travel.section, sent);
    const at = Number.parseInt(query.get("at") ?? "", 10);
    await travel.go(Number.isNaN(at) ? now.version : at);
  },
};
