// A worker's own copy of the model: fetched by the worker, loaded into its WASM heap, checked
// against the checksum the page saw, and the JS copy released, so the tab holds the model once
// per instance that runs it (and never on the page).
import { release } from './denselab.js';

export async function fetchModelFile(lab, modelUrl, checksum) {
  const response = await fetch(modelUrl);
  if (!response.ok) throw new Error(`could not download ${modelUrl}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const file = lab.loadModelFile(bytes);
  release(bytes);
  if (checksum !== undefined && file.checksum !== checksum) {
    file.free();
    throw new Error(`${modelUrl} changed on the server since the page loaded it: reload the page`);
  }
  return file;
}
