// A JSON diff a person can read: the paths that changed, each with its value before and after.

/** Changes from `before` to `after`: [{path, kind: "added"|"removed"|"changed", before, after}]. */
export function diff(before, after, path = "") {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => {
      const p = path ? `${path}.${k}` : k;
      if (!(k in before)) return [{ path: p, kind: "added", after: after[k] }];
      if (!(k in after)) return [{ path: p, kind: "removed", before: before[k] }];
      return diff(before[k], after[k], p);
    });
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((v, i) => diff(v, after[i], `${path}[${i}]`));
  }
  if (before === undefined) return [{ path: path || "(state)", kind: "added", after }];
  return [{ path: path || "(state)", kind: "changed", before, after }];
}
