// onnx_model.js — the ONNX graph of DenseNet121 for the ONNX Runtime peer of the benchmark,
// written by the product's exporter (onnx/export.h, through lab.exportOnnx) from our model file
// (converted from the same TF.js export; the final ReLU restored): the network alone, as the
// Keras arguments ask (includeTop, pooling, inputShape):
//   input 'image' [N, H, W, 3] float32, RGB 0..255 NHWC (preprocess_input is in the graph)
//   -> output 'output' [N, 1000] (softmax) or [N, 1024] (pooled).
import fs from 'node:fs';
import { files, openDenseLab } from '../wasm/node.js';

// -> { bytes: Uint8Array (the .onnx file), inputShape: [h, w, 3] }. lab: a DenseLab to use
// (default: a new single-threaded one).
export async function buildDenseNetOnnx(opts = {}, lab = null) {
  lab ??= await openDenseLab();
  const file = lab.loadModelFile(fs.readFileSync(files.model));
  try {
    return { bytes: lab.exportOnnx(file, opts).bytes, inputShape: opts.inputShape ?? [224, 224, 3] };
  } finally { file.free(); }
}
