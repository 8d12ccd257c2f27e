// The methods as the selects and the busy indicator name them, from Python's `method_info` trait
// (cam_widgets/widgets/method_info.py): each method's label as its paper writes it ("Score-CAM",
// "Seg-HiRes-Grad-CAM"), its paper and kind, and why it does not apply to the widget's targets.
// Pure functions of plain values (no DOM), so node tests can check them.

/** The label of method `name` ("Score-CAM"); the name itself when Python sent none. */
export function methodLabel(info, name) {
  return (info ?? {})[name]?.label || name || "";
}

/** The option tooltip: "Score-CAM · Wang et al. 2020 · perturbation" (+ " · class-agnostic"). */
export function methodTitle(info, name) {
  const entry = (info ?? {})[name];
  if (!entry) return name;
  const parts = [entry.label || name, entry.paper, entry.kind];
  if (entry.class_agnostic) parts.push("class-agnostic: the same map for every target");
  if (entry.unavailable) parts.push(entry.unavailable);
  return parts.filter(Boolean).join(" · ");
}

/**
 * The options of a method select: every method Python offers (`methods`, in its order), labelled,
 * then the methods that do not apply (in `info` with an `unavailable` reason) as disabled options,
 * "CAM (n/a for pixel sets)", so the select says why one is missing.
 */
export function methodOptions(methods, info) {
  const offered = (methods ?? []).map((name) => ({ value: name, label: methodLabel(info, name), title: methodTitle(info, name) }));
  const shown = new Set(methods ?? []);
  const disabled = Object.entries(info ?? {})
    .filter(([name, entry]) => entry.unavailable && !shown.has(name))
    .map(([name, entry]) => ({
      value: name, label: `${entry.label || name} (${entry.unavailable.split(":")[0]})`, title: methodTitle(info, name), disabled: true,
    }));
  return [...offered, ...disabled];
}

/** What a title shows as the layer of method `name`'s map: "all biases" for FullGrad, else `layer`. */
export function layerText(info, name, layer) {
  return (info ?? {})[name]?.layer || layer || "";
}

/**
 * The busy indicator's text: "computing…", or while a slow method reports its forward batches
 * "Score-CAM 37 / 512" ("compare: Ablation-CAM 3 / 64" for the compare map), and " (2 queued)" when
 * requests are held.
 */
export function busyText(progress, queued = 0) {
  let text = "computing…";
  if (progress && Number(progress.total) > 0) {
    const what = `${progress.label || progress.method || ""} ${progress.done} / ${progress.total}`.trim();
    text = progress.which === "compare" ? `compare: ${what}` : what;
  }
  return queued ? `${text} (${queued} queued)` : text;
}

/** The fraction a progress message reports, 0..1 (0 without one). */
export function progressFraction(progress) {
  const total = Number(progress?.total);
  if (!(total > 0)) return 0;
  return Math.min(Math.max(Number(progress.done) / total, 0), 1);
}
