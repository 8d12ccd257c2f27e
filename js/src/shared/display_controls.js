// Display controls shared by the widgets (browser-only state): slice, axis, opacity, colormap,
// channel, crosshair toggle, zoom reset, the keyboard/mouse help and the PNG button. The widget
// owns the state and passes callbacks; `update(state)` makes the controls show it.

import { OVERLAY_COLORMAPS } from "../colormaps.js";
import { field, h, setOptions, setSelectValue, show } from "../dom.js";
import { AXIS_LETTERS, VIEW_NAMES } from "../slicing.js";
import { COMMIT_DELAY } from "./model_sync.js";
import { HELP_TEXT } from "./navigation.js";

/**
 * createDisplayControls(sync, on) with on = { slice(index, final), axis(a), opacity(v, final),
 * colormap(name), channel(value), crosshair(visible), resetZoom(), png(scale) }.
 */
export function createDisplayControls(sync, on) {
  const slice = h("input", { type: "range", min: 0, max: 0, step: 1, value: 0, class: "cam-slice", "data-testid": "slice-slider" });
  const sliceValue = h("output", { class: "cam-value", "data-testid": "slice-value" });
  const sliceLabel = h("span", { class: "cam-field-label" }, "slice");
  const sliceField = h("label", { class: "cam-field" }, sliceLabel, slice, sliceValue);
  const axis = h("select", { class: "cam-axis", "data-testid": "axis-select", title: "Axis the main view slices along" },
    ...VIEW_NAMES.map((name, a) => h("option", { value: a }, `${name} (${AXIS_LETTERS[a]})`)));
  const axisField = field("axis", axis);
  const opacity = h("input", { type: "range", min: 0, max: 1, step: 0.01, class: "cam-opacity", "data-testid": "opacity-slider", title: "Opacity of the map" });
  const colormap = h("select", { class: "cam-colormap", "data-testid": "colormap-select" },
    ...OVERLAY_COLORMAPS.map((c) => h("option", { value: c }, c)));
  const channel = h("select", { class: "cam-channel", "data-testid": "channel-select", title: "Input channel shown" });
  const channelField = field("channel", channel);
  const cross = h("input", { type: "checkbox", class: "cam-show-crosshair", "data-testid": "crosshair-checkbox", title: "Show the crosshair" });
  const zoomReset = h("button", { type: "button", class: "cam-zoom-reset", "data-testid": "zoom-reset", title: "Fit the image (double-click a panel)" }, "fit");
  const zoomValue = h("output", { class: "cam-value cam-zoom-value", "data-testid": "zoom-value" });
  const help = h("span", { class: "cam-help", "data-testid": "help", title: HELP_TEXT, tabindex: 0, role: "note", "aria-label": HELP_TEXT }, "?");
  const png = h("button", { type: "button", class: "cam-png", "data-testid": "png-button", title: "Download the panels as PNG (the same picture as save_png(path, scale))" }, "PNG");
  const pngScale = h("select", { class: "cam-png-scale", "data-testid": "png-scale", title: "Scale of the PNG" },
    ...[1, 2, 4, 8].map((k) => h("option", { value: k, selected: k === 2 }, `${k}×`)));
  const fields = {
    slice: sliceField, axis: axisField, opacity: field("opacity", opacity), colormap: field("colormap", colormap),
    channel: channelField, crosshair: field("crosshair", cross), zoom: h("span", { class: "cam-field" }, zoomValue, zoomReset),
    help, png: h("span", { class: "cam-field" }, png, pngScale),
  };

  sync.listen(slice, "input", () => on.slice(Number(slice.value), false));
  sync.listen(slice, "change", () => on.slice(Number(slice.value), true));
  sync.listen(axis, "change", () => on.axis(Number(axis.value)));
  sync.listen(opacity, "input", () => on.opacity(Number(opacity.value), false));
  sync.listen(opacity, "change", () => on.opacity(Number(opacity.value), true));
  sync.listen(colormap, "change", () => on.colormap(colormap.value));
  sync.listen(channel, "change", () => on.channel(/^\d+$/.test(channel.value) ? Number(channel.value) : channel.value));
  sync.listen(cross, "change", () => on.crosshair(cross.checked));
  sync.listen(zoomReset, "click", () => on.resetZoom());
  sync.listen(png, "click", () => on.png(Number(pngScale.value)));

  /**
   * state = { is3d, axis, slice, sliceCount, opacity, colormap, signed, showCrosshair, zoom,
   *           nChannels, channel, sliceLabel }
   */
  function update(s) {
    show(axisField, !!s.is3d && s.axisControl !== false);
    show(sliceField, !!s.is3d);
    if (s.is3d) {
      axis.value = String(s.axis);
      slice.max = String(Math.max(s.sliceCount - 1, 0));
      slice.value = String(s.slice);
      sliceValue.textContent = `${s.slice}/${Math.max(s.sliceCount - 1, 0)}`;
      sliceLabel.textContent = `slice ${AXIS_LETTERS[s.axis]}`;
    }
    opacity.value = String(s.opacity);
    setSelectValue(colormap, s.colormap);
    colormap.disabled = !!s.signed;
    colormap.title = s.signed ? "Signed maps use RdBu (blue < 0 < red)" : "Colormap of the map";
    cross.checked = !!s.showCrosshair;
    zoomValue.textContent = `${Number(s.zoom).toFixed(s.zoom < 10 ? 2 : 1)}×`;
    zoomReset.disabled = !(s.zoom > 1);
    const n = Number(s.nChannels ?? 1);
    show(channelField, n > 1);
    if (n > 1) {
      const options = [{ value: "mean", label: "mean" }];
      if (n === 3) options.unshift({ value: "rgb", label: "RGB" });
      for (let c = 0; c < n; c++) options.push({ value: String(c), label: `channel ${c}` });
      setOptions(channel, options, String(s.channel));
    }
  }

  return { fields, controls: { slice, axis, opacity, colormap, channel, cross, zoomReset, png, pngScale }, update };
}

/**
 * The display controls bound to a widget's navigator (shared/navigator.js): each control changes
 * `nav.view` and commits it. redraw() redraws the pixels; png(scale) asks for the picture; beforeMove()
 * runs before the slice or axis changes (the picker drops a stroke in progress). `refresh()` makes
 * the controls show the navigator's state.
 */
export function bindDisplayControls(sync, nav, { redraw, png, beforeMove = () => {} }) {
  const { view } = nav;
  const set = (key, value, { draw = true, place = false, delay = 0 } = {}) => {
    view[key] = value;
    if (draw) redraw();
    if (place) nav.place();
    nav.commit([key], { delay });
  };
  const controls = createDisplayControls(sync, {
    slice: (i, final) => { beforeMove(); nav.setSlice(i, { final }); },
    axis: (a) => { beforeMove(); nav.setAxis(a); },
    opacity: (v, final) => set("opacity", v, { delay: final ? 0 : COMMIT_DELAY }),
    colormap: (c) => set("colormap", c),
    channel: (c) => set("channel", c, { draw: false }), // Python sends the image of that channel
    crosshair: (on) => set("showCrosshair", on, { draw: false, place: true }),
    resetZoom: () => nav.resetZoom(),
    png,
  });
  controls.refresh = () => controls.update({
    is3d: nav.is3d(), axis: view.axis, slice: view.slice, sliceCount: nav.sliceCount(), opacity: view.opacity,
    colormap: view.colormap, signed: !!sync.model.get("cam_signed"), showCrosshair: view.showCrosshair, zoom: view.zoom,
    nChannels: sync.model.get("n_channels"), channel: view.channel,
  });
  return controls;
}
