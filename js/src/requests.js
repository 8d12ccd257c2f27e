// "Last request wins" (pure, no DOM). Changes that make Python recompute are sent at once while
// Python is idle; while it is busy only the latest value of each key is held, and everything held
// is sent in one batch when busy turns false. The UI stays responsive meanwhile.

/** Traits whose change makes Python recompute (docs/widget_protocol.md). */
export const RECOMPUTE_KEYS = ["layer", "method", "target_class", "sample", "compare_method"];

export class LastRequestWins {
  /**
   * @param {(changes: Object<string, any>) => void} send  called with { key: value, ... } to send
   * @param {{ busy?: boolean }} [options]
   */
  constructor(send, { busy = false } = {}) {
    this.send = send;
    this.busy = !!busy;
    this.held = new Map();
  }

  /** Ask for key = value: sent now when idle (returns true), held when busy (returns false). */
  request(key, value) {
    if (this.busy) {
      this.held.set(key, value);
      return false;
    }
    this.send({ [key]: value });
    return true;
  }

  /**
   * Ask for several keys at once ({ key: value, ... }): sent together in one batch when idle
   * (returns true), each held when busy (returns false), so they still travel together later.
   */
  requestAll(changes) {
    if (this.busy) {
      for (const [k, v] of Object.entries(changes)) this.held.set(k, v);
      return false;
    }
    this.send({ ...changes });
    return true;
  }

  /** Track Python's busy flag; turning idle flushes what was held (returns the sent batch or null). */
  setBusy(busy) {
    this.busy = !!busy;
    return this.busy ? null : this.flush();
  }

  /** Send everything held as one batch (null when nothing is held). */
  flush() {
    if (this.held.size === 0) return null;
    const changes = Object.fromEntries(this.held);
    this.held.clear();
    this.send(changes);
    return changes;
  }

  /** Whether a value for `key` is held. */
  has(key) {
    return this.held.has(key);
  }

  /** The held value for `key` (undefined when none). */
  get(key) {
    return this.held.get(key);
  }

  /** A copy of everything held, as an object. */
  pending() {
    return Object.fromEntries(this.held);
  }

  /** Drop everything held without sending. */
  clear() {
    this.held.clear();
  }
}
