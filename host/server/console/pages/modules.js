// Modules: each one's kind, versions, hash, upload time and how its calls stand; removing one (confirmed
// first); and a new version dropped onto the page (or chosen with the file picker), planned
// over the stored history before it is uploaded.

import * as api from "../api.js";
import { confirmButton, h, num, replace, time } from "../dom.js";
import { jsonView } from "../json_view.js";
import { errorBox } from "../nav.js";
import { shortHash, table } from "./common.js";

/** A module name from a file name: `bank-account.wasm` is `bank_account`. */
function nameOf(file) {
  return file.name.replace(/\.wasm$/, "").replace(/-/g, "_").toLowerCase();
}

/** When a version was uploaded; a version kept before times were recorded has none. */
function uploaded(version) {
  return version.uploaded_at === undefined
    ? h("span", { class: "muted" }, "time not recorded")
    : h("time", { datetime: new Date(version.uploaded_at).toISOString() }, time(version.uploaded_at));
}

function planSummary(report) {
  const lines = [];
  if (report.replay) {
    const r = report.replay;
    lines.push(`Replay over ${num(r.streams)} of ${num(r.streams_total)} streams (${num(r.events)} events): ${num(r.equal)} equal, ${num(r.differ)} differ, ${num(r.failed)} failed.`);
  }
  if (report.redecide) {
    const d = report.redecide;
    lines.push(`${num(d.commands)} of ${num(d.commands_total)} commands decided again: ${num(d.same)} the same, ${num(d.different)} different, ${num(d.flipped)} flipped, ${num(d.failed)} failed.`);
  }
  if (report.changes !== undefined) lines.push(report.changes ? "It changes what the serving version does: read the differences below." : "It changes nothing the history shows.");
  return lines.map((l) => h("p", { class: "plan-line" }, l));
}

function uploader(reload) {
  const file = h("input", { id: "module-file", type: "file", accept: ".wasm,application/wasm", "aria-label": "A module's .wasm file" });
  const name = h("input", { id: "module-name", type: "text", autocomplete: "off", pattern: "[a-z][a-z0-9_]*" });
  const result = h("div", { id: "upload-result", "aria-live": "polite" });
  let bytes = null;
  const zone = h("div", { class: "drop-zone", id: "drop-zone" },
    h("p", {}, "Drop a module's .wasm file here, or choose it: "), file);

  async function take(f) {
    if (!f) return;
    bytes = new Uint8Array(await f.arrayBuffer());
    if (!name.value) name.value = nameOf(f);
    replace(result, h("p", { class: "muted" }, `${f.name}: ${num(bytes.length)} bytes. Plan it, or upload it.`));
  }
  file.addEventListener("change", () => take(file.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); take(e.dataTransfer.files[0]); });

  async function send(method, path, query) {
    if (!bytes || !name.value) {
      replace(result, h("p", { class: "error", role: "alert" }, "Choose a .wasm file and a module name first."));
      return null;
    }
    return api.call(method, path, { raw: bytes, query });
  }
  async function plan() {
    replace(result, h("p", { class: "muted" }, "Planning over the stored history…"));
    try {
      const report = await send("POST", `/v1/modules/${api.seg(name.value)}/plan`);
      if (report) replace(result, h("h3", {}, "Plan"), planSummary(report), jsonView(report, { label: "the plan report" }));
    } catch (error) {
      replace(result, errorBox(error));
    }
  }
  async function upload(force) {
    replace(result, h("p", { class: "muted" }, "Uploading…"));
    try {
      const info = await send("PUT", `/v1/modules/${api.seg(name.value)}`, force ? { force: "true" } : {});
      if (!info) return;
      replace(result, h("p", { class: "ok", id: "upload-ok" }, `Loaded ${info.name} v${info.version} (${info.kind}).`));
      reload();
    } catch (error) {
      replace(result, errorBox(error),
        error.body?.failures ? jsonView(error.body.failures, { label: "the events it cannot read" }) : null,
        error.code === "incompatible_with_history"
          ? confirmButton("Upload anyway", "Upload it anyway? Commands on the streams it cannot read will fail.", () => upload(true), { class: "danger" })
          : null);
    }
  }
  return h("section", { "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, "Deploy a version"),
    zone,
    h("div", { class: "field" }, h("label", { for: "module-name" }, "Module name"), name),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "module-plan", onclick: plan }, "Plan"),
      h("button", { type: "button", id: "module-upload", onclick: () => upload(false) }, "Upload")),
    result);
}

export default {
  title: "Modules",
  nav: "modules",
  path: /^\/ui\/modules\/?$/,
  async render(main) {
    const holder = h("div", { id: "module-list" });
    const problem = h("div", {});
    async function reload() {
      const list = await api.get("/v1/modules");
      const details = await Promise.all(list.modules.map((m) => api.get(`/v1/modules/${api.seg(m.name)}`).catch(() => ({ versions: [] }))));
      const versions = (d) => d.versions.length < 2
        ? `v${d.versions[0]?.version ?? "?"}`
        : h("details", {}, h("summary", {}, `v${d.versions[0].version} (${d.versions.length} kept)`),
            h("ul", { class: "versions" }, d.versions.map((v) => h("li", {}, `v${v.version} `, v.kind, " ", shortHash(v.hash), " ", uploaded(v)))));
      const latestUpload = (d) => d.versions[0] ? uploaded(d.versions[0]) : "";
      replace(holder, list.modules.length === 0
        ? h("p", { class: "muted" }, "No modules are loaded.")
        : table("Loaded modules", ["Module", "Kind", "Versions", "Hash", "Uploaded", "Calls", ""], list.modules.map((m, i) => [
            h("strong", {}, m.name), m.kind, versions(details[i]), shortHash(m.hash), latestUpload(details[i]),
            m.probation?.active ? h("span", { class: "badge state-faulted" }, "on probation") : `${num(m.probation?.offences ?? 0)} offences`,
            confirmButton("Remove", `Remove module ${m.name}? It stops serving; its streams and events stay.`, async () => {
              try { await api.call("DELETE", `/v1/modules/${api.seg(m.name)}`); await reload(); } catch (error) { replace(problem, errorBox(error)); }
            }, { class: "danger", "aria-label": `Remove ${m.name}` }),
          ]), { id: "modules-table" }));
    }
    replace(main, h("h1", {}, "Modules"), problem, holder, uploader(reload));
    await reload();
  },
};
