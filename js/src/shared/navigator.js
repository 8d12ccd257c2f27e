// Where the widget looks: axis, slice, crosshair, zoom and zoom centre (all in the input's real
// voxel indices), shared by every panel of a widget, so that zoom and pan are linked across
// panels. Panels are registered with the axis they slice along; gestures on any of them update the
// one state, which is synced to Python (debounced while dragging or wheeling).

import { clampIndex, clampVoxel, sliceDims, viewAxes } from "../slicing.js";
import { createMapPanel } from "./map_panel.js";
import { COMMIT_DELAY, displayState, same } from "./model_sync.js";
import {
  clampCenter, clampZoom, displayIndex, keyStep, panBy, panelTransform, realShape, roundCenter, voxelToDisplay,
  zoomAbout,
} from "./navigation.js";

const list = (v) => (Array.isArray(v) ? [...v] : []);
const NAV_TRAITS = {
  axis: { trait: "axis", read: (v) => clampIndex(v ?? 0, 3) },
  slice: { trait: "slice_index", read: Number },
  crosshair: { trait: "crosshair", read: list },
  zoom: { trait: "zoom", read: clampZoom },
  zoomCenter: { trait: "zoom_center", read: list },
  showCrosshair: { trait: "show_crosshair", read: Boolean },
  opacity: { trait: "opacity", read: Number },
  colormap: { trait: "colormap" },
};

/**
 * createNavigator(sync, { traits, onChange }) -> nav
 * traits: extra display traits of the widget ({ key: { trait, read } }); onChange(kind) is called
 * with "view" (pixels must be redrawn) or "zoom" (only transforms and crosshairs moved).
 */
export { list };

export function createNavigator(sync, { traits = {}, onChange }) {
  const state = displayState(sync, { ...NAV_TRAITS, ...traits });
  const { view } = state;
  const panels = []; // { panel, axis: () => number }
  let shown = null; // the display shape of the image
  let real = null; // the input's real shape

  const nav = {
    view,
    state,
    get shown() { return shown; },
    get real() { return real; },
    is3d: () => !!shown && shown.length === 3,
    /** Slices along `axis` (real count; 1 in 2D). */
    sliceCount(axis = view.axis) {
      return shown && shown.length === 3 ? real[axis] : 1;
    },
    /** The display index of real index `i` along `axis`. */
    displaySlice(axis, i) {
      return shown.length === 3 ? displayIndex(i, real[axis], shown[axis]) : 0;
    },
    /** The real index at which the view along `axis` slices: the main slice, or the crosshair's. */
    indexOn(axis) {
      return axis === view.axis ? view.slice : view.crosshair[axis];
    },
    /**
     * A map panel (shared/map_panel.js: options = { testid, className, colorbar }) slicing along axis(),
     * with the linked zoom / pan / reset gestures; its pointer events go to
     * pointer(type, event, point, axis, index, panel), index the real slice it shows.
     */
    panel(options, axis, pointer) {
      const panel = createMapPanel(sync, {
        ...options,
        handlers: {
          onPointer: (type, event, point) => pointer(type, event, point, axis(), nav.indexOn(axis()), panel),
          ...handlers(() => panel.scale, axis),
        },
      });
      panels.push({ panel, axis });
      return panel;
    },
    /** Set the image's display shape and the input's shape; returns the keys it had to correct. */
    setShape(displayShape, inputShape) {
      shown = displayShape ? [...displayShape] : null;
      real = shown ? realShape(inputShape, shown) : null;
      return normalise();
    },
    place,
    moveCrosshair,
    setSlice,
    setAxis,
    onKey,
    commit: state.commit,
  };

  /** Crosshair, slice and zoom centre made valid for the current shape (centre when unset). */
  function normalise() {
    if (!shown) return [];
    const before = JSON.stringify([view.crosshair, view.slice, view.axis, view.zoomCenter]);
    const unset = !Array.isArray(view.crosshair) || view.crosshair.length !== real.length;
    view.crosshair = clampVoxel(view.crosshair, real);
    if (shown.length === 3) {
      const inRange = Number.isInteger(view.slice) && view.slice >= 0 && view.slice < real[view.axis];
      if (unset || !inRange) view.slice = view.crosshair[view.axis];
      view.crosshair[view.axis] = view.slice;
    } else {
      view.slice = 0;
      view.axis = 0;
    }
    if (view.zoomCenter.length && view.zoomCenter.length !== real.length) view.zoomCenter = [];
    return JSON.stringify([view.crosshair, view.slice, view.axis, view.zoomCenter]) !== before
      ? ["crosshair", "slice", "axis", "zoomCenter"] : [];
  }

  /** Put every panel's zoom transform and crosshair where the state says (no pixel redraw). */
  function place() {
    if (!shown) return;
    const shownCross = voxelToDisplay(view.crosshair, real, shown);
    for (const { panel, axis } of panels) {
      const a = axis();
      if (a === null || panel.el.hidden) continue;
      const { rows, cols } = sliceDims(shown, a);
      panel.setTransform(panelTransform({ zoom: view.zoom, center: view.zoomCenter, real, axis: a, rows, cols, scale: panel.scale }));
      const { rowAxis, colAxis } = viewAxes(shown.length, a);
      panel.setCrosshair(view.showCrosshair ? { x: shownCross[colAxis] + 0.5, y: shownCross[rowAxis] + 0.5 } : null);
    }
  }

  function zoomed(keys) {
    place();
    onChange("zoom");
    state.commit(keys, { delay: COMMIT_DELAY });
  }

  /** Wheel / pan / double-click handlers for a panel slicing along axis(), at scale() CSS px per pixel. */
  function handlers(scale, axis) {
    const geometry = () => {
      const a = axis();
      const { rows, cols } = sliceDims(shown, a);
      return { zoom: view.zoom, center: view.zoomCenter, real, axis: a, rows, cols, scale: scale() };
    };
    return {
      onWheel(factor, x, y) {
        if (!shown) return;
        const next = zoomAbout(geometry(), factor, x, y);
        if (next.zoom === view.zoom && same(next.center, view.zoomCenter)) return;
        view.zoom = next.zoom;
        view.zoomCenter = next.zoom === 1 ? [] : roundCenter(next.center);
        zoomed(["zoom", "zoomCenter"]);
      },
      onPan(dx, dy) {
        if (!shown || view.zoom <= 1) return;
        view.zoomCenter = roundCenter(panBy(geometry(), dx, dy));
        zoomed(["zoomCenter"]);
      },
      onPanEnd() {
        state.flush();
      },
      onReset: resetZoom,
    };
  }

  function resetZoom() {
    if (view.zoom === 1 && !view.zoomCenter.length) return;
    view.zoom = 1;
    view.zoomCenter = [];
    place();
    onChange("zoom");
    state.commit(["zoom", "zoomCenter"]);
  }
  nav.resetZoom = resetZoom;

  /** Move the crosshair to a real voxel (the main slice follows in 3D). */
  function moveCrosshair(voxel, { delay = 0 } = {}) {
    if (same(voxel, view.crosshair)) return false;
    view.crosshair = [...voxel];
    const keys = ["crosshair"];
    if (shown.length === 3 && view.slice !== voxel[view.axis]) {
      view.slice = voxel[view.axis];
      keys.push("slice");
    }
    onChange("view");
    state.commit(keys, { delay });
    return true;
  }

  function setSlice(index, { final = true } = {}) {
    if (!nav.is3d()) return;
    const s = clampIndex(index, real[view.axis]);
    const changed = s !== view.slice;
    view.slice = s;
    view.crosshair[view.axis] = s;
    if (changed) onChange("view");
    if (changed || final) state.commit(["slice", "crosshair"], { delay: final ? 0 : COMMIT_DELAY });
  }

  function setAxis(a) {
    view.axis = clampIndex(a, 3);
    if (nav.is3d()) view.slice = view.crosshair[view.axis];
    onChange("view");
    state.commit(["axis", "slice"]);
  }

  /** Arrow / page keys step the slice; returns the step object for other keys (or null). */
  function onKey(event) {
    const step = keyStep(event.key);
    if (!step) return null;
    if (step.slice !== undefined) {
      if (!nav.is3d()) return null;
      setSlice(view.slice + step.slice);
    }
    return step;
  }

  /** Python changed a display trait: keep the coupled ones consistent, then redraw. */
  state.follow((key, v) => {
    if (shown && shown.length === 3) {
      if (key === "slice") view.crosshair[view.axis] = clampIndex(v, real[view.axis]);
      if (key === "crosshair" && Array.isArray(v) && v.length === 3) view.slice = clampIndex(v[view.axis], real[view.axis]);
      if (key === "axis") view.slice = view.crosshair[view.axis] ?? view.slice;
    }
    if (key === "zoomCenter" && shown && v.length) view.zoomCenter = clampCenter(v, real, view.zoom);
    normalise();
    const kind = key === "zoom" || key === "zoomCenter" || key === "showCrosshair" ? "zoom" : "view";
    if (kind === "zoom") place(); // no redraw: only the transforms and crosshairs move
    onChange(kind, key);
  });

  return nav;
}
