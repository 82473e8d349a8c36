// Events as the stream and command pages show them: a card per event with its type, version,
// position and time, its data and metadata as foldable JSON, and links to where it came from.

import { aggregateHref, h, link, num, streamHref, time } from "../dom.js";
import { jsonView } from "../json_view.js";

/** The command page of a command id. */
export function commandHref(id) {
  return `/ui/commands/${encodeURIComponent(id)}`;
}

/** The aggregate a stream belongs to, if its category is a loaded aggregate module. */
export function aggregateOf(stream, aggregates) {
  const cut = stream.indexOf("-");
  if (cut < 1) return null;
  const module = stream.slice(0, cut);
  return aggregates.has(module) ? aggregateHref(module, stream.slice(cut + 1)) : null;
}

/** One event as a card. */
export function eventCard(e, { showStream = false } = {}) {
  const commandId = e.metadata?.command_id;
  return h("article", { class: "event", "data-version": e.version, "data-position": e.position },
    h("header", {},
      h("h3", {}, h("code", { class: "event-type" }, e.type)),
      h("span", { class: "muted" },
        showStream ? [link(streamHref(e.stream), e.stream), " · "] : null,
        `version ${num(e.version)} · position ${num(e.position)} · ${time(e.recorded_at)}`,
        e.upcast_from ? ` · upcast from ${e.upcast_from}` : null),
      commandId ? link(commandHref(commandId), "Command and its events") : null),
    h("div", { class: "event-body" },
      h("div", {}, h("h4", {}, "Data"), jsonView(e.data, { label: `the data of version ${e.version}` })),
      h("div", {}, h("h4", {}, "Metadata"), jsonView(e.metadata, { label: `the metadata of version ${e.version}` }))));
}
