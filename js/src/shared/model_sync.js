// Model sync shared by every widget: one listener recorder with symmetric cleanup, one
// "last request wins" queue for the traits that make Python recompute, and one table of display
// traits (browser-only state) with an echo-safe model -> view rule and one commit policy:
// debounced while a control is dragged, flushed on "change" and on dispose.

import { LastRequestWins } from "../requests.js";

export const COMMIT_DELAY = 150; // ms: a drag is synced to Python at most this often

/** Deep equality of JSON-like values (what traits hold). */
export function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * createSync(model) -> sync
 *   sync.on(event, f)             model.on, undone by dispose
 *   sync.listen(node, type, f, o) addEventListener, undone by dispose
 *   sync.request(changes)         recompute traits: sent now, or held while Python is busy
 *   sync.shown(key)               the value a control shows: the held request, else the model's
 *   sync.queue                    the LastRequestWins queue (pending(), has(), ...)
 *   sync.dispose()                flush display commits, remove every listener
 */
export function createSync(model) {
  const modelListeners = [];
  const domListeners = [];
  const disposers = [];
  const queue = new LastRequestWins((changes) => {
    for (const [k, v] of Object.entries(changes)) model.set(k, v);
    model.save_changes();
  }, { busy: !!model.get("busy") });

  const sync = {
    model,
    queue,
    on(event, f) {
      model.on(event, f);
      modelListeners.push([event, f]);
    },
    listen(node, type, f, options) {
      node.addEventListener(type, f, options);
      domListeners.push([node, type, f, options]);
    },
    /** Run `f` on dispose (before listeners are removed). */
    onDispose(f) {
      disposers.push(f);
    },
    request(changes) {
      queue.requestAll(changes);
    },
    shown(key) {
      return queue.has(key) ? queue.get(key) : model.get(key);
    },
    dispose() {
      for (const f of disposers) {
        try {
          f();
        } catch {
          // the model may already be closed
        }
      }
      for (const [event, f] of modelListeners) model.off(event, f);
      for (const [node, type, f, options] of domListeners) node.removeEventListener(type, f, options);
      modelListeners.length = 0;
      domListeners.length = 0;
    },
  };
  return sync;
}

/**
 * The display state of a widget: `table` maps a state key to { trait, read? } (read normalises the
 * model's value; the default copies arrays). Returns { view, commit, flush, follow }:
 *   view                    the current values, initialised from the model
 *   commit(keys, {delay})   sync these keys to Python: now, or debounced by `delay` ms
 *   flush()                 send what a debounced commit still holds
 *   follow(handler)         call handler(key, value) when Python changes a key (own echoes skipped)
 */
export function displayState(sync, table) {
  const { model } = sync;
  const readers = Object.fromEntries(Object.entries(table).map(([key, spec]) => [key, () => {
    const v = model.get(spec.trait);
    return spec.read ? spec.read(v) : Array.isArray(v) ? [...v] : v;
  }]));
  const view = Object.fromEntries(Object.keys(table).map((key) => [key, readers[key]()]));
  const dirty = new Set();
  let timer = null;

  function flush() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (!dirty.size) return;
    for (const key of dirty) {
      const v = view[key];
      model.set(table[key].trait, Array.isArray(v) ? [...v] : v);
    }
    dirty.clear();
    model.save_changes();
  }

  function commit(keys, { delay = 0 } = {}) {
    for (const k of keys) dirty.add(k);
    if (delay > 0) {
      if (timer === null) timer = setTimeout(flush, delay);
      return;
    }
    flush();
  }

  function follow(handler) {
    for (const key of Object.keys(table)) {
      sync.on(`change:${table[key].trait}`, () => {
        const v = readers[key]();
        if (same(v, view[key])) return; // our own echo
        view[key] = v;
        dirty.delete(key);
        handler(key, v);
      });
    }
  }

  sync.onDispose(flush);
  return { view, commit, flush, follow };
}

/**
 * The model events every widget follows the same way: `explained` traits (and busy, which may
 * flush held requests) call onExplained(); the input shape re-runs onImage(); error / notice
 * refresh the messages; the maps' signs redraw; the channel count updates the controls.
 */
export function followModel(sync, { explained, onExplained, onImage, messages, redraw, updateControls }) {
  for (const name of explained) sync.on(`change:${name}`, onExplained);
  sync.on("change:busy", () => {
    sync.queue.setBusy(!!sync.model.get("busy"));
    onExplained();
  });
  sync.on("change:input_shape", onImage);
  for (const name of ["error", "notice"]) sync.on(`change:${name}`, messages);
  for (const name of ["cam_signed", "compare_signed"]) sync.on(`change:${name}`, redraw);
  sync.on("change:n_channels", updateControls);
}
