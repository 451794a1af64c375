// fashion-block.test.js — fine-tuning's rows from the Fashion page's feature pass: one run of
// DenseNet121(include_top=False, pooling='avg') gives the pooled features AND each image's
// conv5_block1 input (dl_net_tap_input), bit-identical to the features alone and to the frozen
// part's own network (what `node wasm/cli.js fashion --classifier finetune` trains on); the
// page's blockFloats(S) is that network's row size for every S the page offers; a tap on a
// network without conv5_block1 gives a reason and leaves the instance working.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { model, requireBuilt, root } from './helpers.js';
import { createDenseLab } from '../wasm/denselab.js';
import { blockFloats, blockNet, checksum, featureNet } from '../wasm/experiment.js';
import { FASHION } from '../web/defaults.js';

const core = path.join(root, 'build/wasm/wasm/denselab_core.mjs');
const wasm = path.join(root, 'build/wasm/wasm/denselab_core.wasm');

let ctx;
async function setup() {
  if (ctx) return ctx;
  requireBuilt(core, wasm, model);
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(wasm), coreUrl: pathToFileURL(core).href });
  ctx = { lab, file: lab.loadModelFile(fs.readFileSync(model)) };
  return ctx;
}

// count gray 28 x 28 images with some structure (a bright item on a dark background).
function grayImages(count) {
  const g = new Uint8Array(count * 784);
  for (let i = 0; i < g.length; i++) { const p = i % 784, y = p / 28 | 0, x = p % 28; g[i] = (x * 7 + y * 13 + (i / 784 | 0) * 31) % 256 * (x > 4 && x < 24 ? 1 : 0.1); }
  return g;
}

test('blockFloats(S) is the frozen part\'s row size at every S the page offers', async () => {
  const { lab, file } = await setup();
  for (const size of FASHION.size.choices) {
    const net = blockNet(lab, file, size);
    try { assert.equal(blockFloats(size), net.outputSize, `S=${size}`); } finally { net.free(); }
  }
});

for (const size of [32, 64]) {
  test(`S=${size}: one run gives the pooled features and conv5_block1's input, bit-identical to each network alone`, async () => {
    const { lab, file } = await setup();
    const count = 5, images = grayImages(count);
    const full = featureNet(lab, file, size), frozen = blockNet(lab, file, size);
    try {
      const both = lab.grayFeaturesAndBlock(full, images, 28, 28, count, { batch: 2 });
      assert.equal(both.blockSize, blockFloats(size));
      assert.equal(both.features.length, count * 1024);
      assert.equal(checksum(both.features), checksum(lab.grayFeatures(full, images, 28, 28, count, { batch: 2 })), 'the pooled features changed');
      assert.equal(checksum(both.block), checksum(lab.grayFeatures(frozen, images, 28, 28, count, { batch: 3 })), 'the block input differs from the frozen part\'s');
    } finally { full.free(); frozen.free(); }
  });
}

test('a network without conv5_block1 cannot give its input: a reason, and the instance keeps working', async () => {
  const { lab, file } = await setup();
  const frozen = blockNet(lab, file, 32), images = grayImages(1);
  try {
    assert.throws(() => lab.grayFeaturesAndBlock(frozen, images, 28, 28, 1), /no layer conv5_block1_0_bn/);
    assert.equal(lab.grayFeatures(frozen, images, 28, 28, 1).length, 512);
  } finally { frozen.free(); }
});
