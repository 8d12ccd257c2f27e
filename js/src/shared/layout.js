// Layout that follows the notebook's width: the panel size is derived from the widget's width
// (ResizeObserver), so panels scale with the page and nothing wraps.

export const BAR_WIDTH = 64; // CSS px of a colour bar with its labels
export const GAP = 16;

/**
 * The larger side (CSS px) of each of `n` panels in a row of `width` px, between `min` and `max`.
 * Widgets size for the most panels a row can hold (e.g. main + compare), so that turning a panel
 * on or off never resizes the others.
 */
export function panelSide(width, n, { min = 140, max = 460, extra = BAR_WIDTH } = {}) {
  const side = Math.floor((width - n * (extra + GAP)) / n);
  return Math.max(min, Math.min(max, side));
}

/** Call f(width) now and whenever `node` changes width (ResizeObserver; disconnected on dispose). */
export function observeWidth(sync, node, f) {
  let last = -1;
  const run = (width) => {
    const w = Math.round(width);
    if (w > 0 && w !== last) {
      last = w;
      f(w);
    }
  };
  if (typeof ResizeObserver !== "undefined") {
    const observer = new ResizeObserver((entries) => run(entries[0].contentRect.width));
    observer.observe(node);
    sync.onDispose(() => observer.disconnect());
  }
  return () => run(node.getBoundingClientRect().width || 0);
}
