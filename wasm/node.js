// node.js — DenseLab in Node: where the WASM core, the model and the class index
// are, whether this file runs from the repository (after ./build.sh) or from the
// npm package (`import { openDenseLab, files } from 'denselab/node'`).
//
//   const lab = await openDenseLab();
//   const model = lab.loadModelFile(fs.readFileSync(files.model));
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createDenseLab } from './denselab.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// The package is flat: the core, models/ and package.json sit beside this file
// (wasm/package.js lays it out). The repository keeps them under build/.
const packaged = fs.existsSync(path.join(here, 'denselab_core.wasm'));
const root = packaged ? here : path.resolve(here, '..');

export const files = packaged ? {
  core: path.join(here, 'denselab_core.mjs'),
  wasm: path.join(here, 'denselab_core.wasm'),
  model: path.join(here, 'models/densenet121.dlm'),
  labels: path.join(here, 'models/imagenet_class_index.json'),
  coreThreads: path.join(here, 'denselab_core_mt.mjs'),       // the threaded build (threads > 1)
  wasmThreads: path.join(here, 'denselab_core_mt.wasm'),
} : {
  core: path.join(root, 'build/wasm/wasm/denselab_core.mjs'),
  wasm: path.join(root, 'build/wasm/wasm/denselab_core.wasm'),
  model: path.join(root, 'build/models/densenet121.dlm'),
  labels: path.join(root, 'build/models/imagenet_class_index.json'),
  coreThreads: path.join(root, 'build/wasm-mt/wasm/denselab_core_mt.mjs'),
  wasmThreads: path.join(root, 'build/wasm-mt/wasm/denselab_core_mt.wasm'),
};

// The one version number: package.json's (also shown by the page and the native CLI).
export const VERSION = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;

// A DenseLab instance on the local WASM core (createDenseLab's options pass through):
// threads > 1 loads the threaded build, which runs one image on that many threads.
export async function openDenseLab(options = {}) {
  const [core, wasm] = options.threads > 1 ? [files.coreThreads, files.wasmThreads] : [files.core, files.wasm];
  if (!fs.existsSync(wasm)) throw new Error(`${path.relative(process.cwd(), wasm)} is missing: run ./build.sh`);
  return createDenseLab({ wasmBinary: fs.readFileSync(wasm), coreUrl: pathToFileURL(core).href, ...options });
}
