// experiment.js — the Fashion-MNIST transfer-learning experiment (Ex. 6.2.1/6.2.2)
// on the JS API: shared by the Node CLI (`node wasm/cli.js fashion`) and the page's workers.
// All computation is the C core's; this file only sequences it.

export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const FASHION_FILES = {
  train: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'],
  test: ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
};
export const CLASSIFIERS = ['linear-svm', 'rbf-svm', 'softmax', 'pixels-linear-svm'];

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now()) / 1000;

// Decompressed IDX image + label files -> { images: Uint8Array, labels: Int32Array, count, rows, cols }.
export function parseSplit(lab, name, imageBytes, labelBytes) {
  const images = lab.parseIdx(imageBytes);
  const labels = lab.parseIdx(labelBytes, { labels: true });
  if (images.count !== labels.count) throw new Error(`${name}: ${images.count} images but ${labels.count} labels`);
  return { images: images.data, labels: Int32Array.from(labels.data), count: images.count, rows: images.rows, cols: images.cols };
}

// DenseNet121(include_top=False, weights='imagenet', pooling='avg', input_shape=(S, S, 3)).
export function featureNet(lab, modelFile, size) {
  if (!Number.isInteger(size) || size < 32 || size > 1024) throw new Error(`size must be an integer from 32 to 1024, got ${size}`);
  return lab.buildNet(modelFile, { includeTop: false, weights: 'imagenet', pooling: 'avg', inputShape: [size, size, 3] });
}

// The first n images of a split as [0, 1] pixels (the raw-pixel baseline).
export function pixels(split, n) {
  const d = split.rows * split.cols, out = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) out[i] = split.images[i] / 255;
  return out;
}

// Train one classifier and test it: the row of the comparison table.
export function runClassifier(lab, name, train, test, params = {}, onProgress) {
  const kind = name === 'pixels-linear-svm' ? 'linear-svm' : name;
  const t0 = now();
  const clf = lab.fit(kind, train.x, train.y, train.n, train.d, params, onProgress);
  const trainSeconds = now() - t0;
  try {
    const { accuracy, confusion, predictions } = clf.evaluate(test.x, test.y, test.n);
    return { classifier: name, train: train.n, train_seconds: trainSeconds, test_accuracy: accuracy, confusion, predictions, model: clf.save() };
  } finally { clf.free(); }
}
