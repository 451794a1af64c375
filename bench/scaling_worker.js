// scaling_worker.js — one DenseLab WASM instance in a worker thread (bench/scaling.js):
// builds the S=32 feature network, then extracts features of the gray images it is sent.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { createDenseLab } from '../wasm/denselab.js';
import { featureNet } from '../wasm/experiment.js';

const { core, wasm, model } = workerData;
const lab = await createDenseLab({ wasmBinary: fs.readFileSync(wasm), coreUrl: pathToFileURL(core).href });
const file = lab.loadModelFile(fs.readFileSync(model));
const net = featureNet(lab, file, 32);
parentPort.on('message', ({ gray, count }) => {
  try {
    lab.grayFeatures(net, gray, 28, 28, count, { batch: 32 });
    parentPort.postMessage({ ok: true, heapBytes: lab.heapBytes() });
  } catch (e) { parentPort.postMessage({ ok: false, error: e.message }); }
});
parentPort.postMessage({ ready: true });
