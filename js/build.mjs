// Builds every bundle of bundles.json into ../cam_widgets/static/<name>.js and <name>.css
// (`node build.mjs`, or `node build.mjs --watch`), then writes the list of outputs so that the
// Makefile and the wheel build check the same files.
import { build, context } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";

const here = new URL(".", import.meta.url).pathname;
const bundles = Object.entries(JSON.parse(readFileSync(`${here}bundles.json`, "utf8"))).filter(([k]) => !k.startsWith("_"));
const out = `${here}../cam_widgets/static`;
const watch = process.argv.includes("--watch");
const options = bundles.flatMap(([name, { js, css }]) => [
  { entryPoints: [`${here}${js}`], outfile: `${out}/${name}.js`, format: "esm", target: "es2020" },
  { entryPoints: [`${here}${css}`], outfile: `${out}/${name}.css` },
].map((o) => ({ ...o, bundle: true, minify: !watch, logLevel: "warning" })));

if (watch) {
  for (const o of options) await (await context(o)).watch();
  console.log(`watching ${bundles.length} bundles`);
} else {
  await Promise.all(options.map((o) => build(o)));
  writeFileSync(`${out}/bundles.txt`, `${bundles.flatMap(([name]) => [`${name}.js`, `${name}.css`]).join("\n")}\n`);
  console.log(`built ${bundles.map(([name]) => name).join(", ")}`);
}
