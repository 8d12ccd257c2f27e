// A fake anywidget model for tests (node and the browser harness): get / set / on / off /
// save_changes / send, with logs of what the widget set, saved and sent.
//
//   set(k, v)        as the front end does: stores, fires "change:k" (when the value changed),
//                    and marks k to be sent by the next save_changes()
//   update(k, v)     as a message from Python does: stores and fires "change:k", nothing to save
//   saves            [{ key: value, ... }] one entry per save_changes() with pending changes
//   sets             [[key, value], ...] every set() call
//   sent             [{ content, buffers }] every send()

export function sameValue(a, b) {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return Number.isNaN(a) && Number.isNaN(b);
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b) || a instanceof ArrayBuffer || b instanceof ArrayBuffer) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => sameValue(a[k], b[k]));
}

function copy(v) {
  if (Array.isArray(v)) return v.map(copy);
  if (v && typeof v === "object" && !ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)]));
  }
  return v;
}

export class FakeModel {
  constructor(state = {}) {
    this.state = { ...state };
    this.listeners = new Map();
    this.pending = new Map();
    this.sets = [];
    this.saves = [];
    this.sent = [];
  }

  get(key) {
    return this.state[key];
  }

  set(key, value) {
    this.sets.push([key, copy(value)]);
    if (this._store(key, value)) this.pending.set(key, value);
  }

  update(key, value) {
    this._store(key, value);
  }

  _store(key, value) {
    if (sameValue(this.state[key], value)) return false;
    this.state[key] = value;
    this.emit(`change:${key}`, value);
    return true;
  }

  save_changes() {
    if (this.pending.size === 0) return;
    this.saves.push(Object.fromEntries([...this.pending].map(([k, v]) => [k, copy(v)])));
    this.pending.clear();
  }

  send(content, callbacks, buffers) {
    this.sent.push({ content: copy(content), buffers });
  }

  on(event, callback) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(callback);
  }

  off(event, callback) {
    if (event === undefined) return this.listeners.clear();
    if (callback === undefined) return this.listeners.delete(event);
    this.listeners.get(event)?.delete(callback);
  }

  emit(event, ...args) {
    for (const f of [...(this.listeners.get(event) ?? [])]) f(...args);
  }

  /** Number of registered listeners (all events, or one). */
  listenerCount(event) {
    if (event !== undefined) return this.listeners.get(event)?.size ?? 0;
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  /** Everything saved so far merged into one object (later saves win). */
  savedState() {
    return Object.assign({}, ...this.saves);
  }
}
