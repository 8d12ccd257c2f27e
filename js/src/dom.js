// Tiny DOM helpers shared by the widgets.

/** Create an element: attributes (strings; `false`/null skipped), then children (nodes or text). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) node.append(c);
  }
  return node;
}

/** A labelled control: <label class="cam-field"><span>text</span>control...</label>. */
export function field(text, ...controls) {
  return h("label", { class: "cam-field" }, h("span", { class: "cam-field-label" }, text), ...controls);
}

/**
 * Replace the options of a <select> with [{ value, label, title?, disabled? }] (only when they
 * changed, so an open list is not disturbed) and select `value`.
 */
export function setOptions(select, options, value) {
  const key = JSON.stringify(options);
  if (select.dataset.options !== key) {
    select.replaceChildren(...options.map((o) => h("option", { value: o.value, title: o.title, disabled: !!o.disabled }, o.label)));
    select.dataset.options = key;
  }
  setSelectValue(select, value);
}

/** Select `value` in a <select>, adding an option for it when it is not among the choices. */
export function setSelectValue(select, value) {
  const v = String(value ?? "");
  if (![...select.options].some((o) => o.value === v)) {
    if (v === "") return;
    select.append(h("option", { value: v, "data-extra": true }, v));
  }
  select.value = v;
}

/** Show or hide an element with the `hidden` attribute. */
export function show(node, visible) {
  node.hidden = !visible;
}
