// A worker's own copy of the model: fetched by the worker, loaded into its WASM heap, checked
// against the checksum the page saw, and the JS copy released, so the tab holds the model once
// per instance that runs it (and never on the page).
// download() reads the file straight into one buffer of its size (no chunks left behind for an idle
// worker's garbage collection), and release() frees that buffer at once.
import { release } from './denselab.js';
import { download } from './loading.js';

export async function fetchModelFile(lab, modelUrl, checksum) {
  const bytes = await download(modelUrl);
  const file = lab.loadModelFile(bytes);
  release(bytes);
  if (checksum !== undefined && file.checksum !== checksum) {
    file.free();
    throw new Error(`${modelUrl} changed on the server since the page loaded it: reload the page`);
  }
  return file;
}
