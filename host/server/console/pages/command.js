// A command from the command log: its type and data, when and by which module version it was
// decided, its verdict, and the events it produced.

import * as api from "../api.js";
import { aggregateHref, h, link, num, replace, streamHref, time } from "../dom.js";
import { jsonView } from "../json_view.js";
import { eventCard } from "./events.js";
import { shortHash } from "./common.js";

export default {
  title: "Command",
  nav: "streams",
  path: /^\/ui\/commands\/([^/]+)$/,
  async render(main, [id]) {
    const c = await api.get(`/v1/commands/${api.seg(id)}`);
    replace(main,
      h("h1", {}, "Command ", h("code", { id: "command-type" }, c.type)),
      h("dl", { class: "facts" },
        h("dt", {}, "Id"), h("dd", {}, h("code", {}, c.id)),
        h("dt", {}, "Aggregate"), h("dd", {}, link(aggregateHref(c.aggregate, c.aggregate_id), `${c.aggregate} ${c.aggregate_id}`)),
        h("dt", {}, "Stream"), h("dd", {}, link(streamHref(c.stream), c.stream)),
        h("dt", {}, "Decided at version"), h("dd", {}, num(c.decided_at)),
        h("dt", {}, "Time"), h("dd", {}, time(c.time)),
        h("dt", {}, "Module version"), h("dd", {}, shortHash(c.module_hash)),
        h("dt", {}, "Verdict"), h("dd", {}, c.verdict, c.message ? `: ${c.message}` : null),
        c.idempotency_key ? [h("dt", {}, "Idempotency key"), h("dd", {}, h("code", {}, c.idempotency_key))] : null),
      h("h2", {}, "Data"), jsonView(c.data, { label: "the command's data" }),
      h("h2", {}, `Events it produced (${c.events.length})`),
      c.events.length ? c.events.map((e) => eventCard(e, { showStream: true })) : h("p", { class: "muted" }, "None."));
  },
};
