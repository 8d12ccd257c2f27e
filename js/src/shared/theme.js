// The notebook's theme, as the widget's element sees it: "dark" when the background behind `el` is dark.
// JupyterLab and Notebook 7 mark the theme on <body data-jp-theme-light="true|false">; VS Code and other
// hosts only set colours, so without that attribute the luminance of the first opaque background up the
// tree decides (its luma below 40% of white: dark). `watchTheme` calls `onChange(theme)` at once and again
// whenever it changes.

import { luminance } from "../colormaps.js";

/** "rgb(1, 2, 3)" / "rgba(1, 2, 3, 0.5)" -> [[1, 2, 3], alpha], or null. */
export function parseColour(text) {
  const m = /rgba?\(([^)]+)\)/.exec(text || "");
  if (!m) return null;
  const parts = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
  return [parts.slice(0, 3), parts.length > 3 ? parts[3] : 1];
}

export function themeOf(el) {
  const flag = document.body?.dataset?.jpThemeLight;
  if (flag === "true" || flag === "false") return flag === "true" ? "light" : "dark";
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const colour = parseColour(getComputedStyle(node).backgroundColor);
    if (colour && colour[1] > 0.5) return luminance(colour[0]) < 0.4 * 255 ? "dark" : "light";
  }
  return "light";
}

export function watchTheme(el, onChange) {
  let current = null;
  const check = () => {
    const theme = themeOf(el);
    if (theme !== current) {
      current = theme;
      onChange(theme);
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class", "style"] });
  check();
  return () => observer.disconnect();
}
