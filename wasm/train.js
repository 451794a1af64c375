// train.js — "your own classes" on the JS API: features of image files, cross-validation,
// training and the project file (learn/train.h). Shared by `node wasm/cli.js train` and the
// page web/train.html; all computation is the C core's, this file only sequences it.
import { featureNet } from './experiment.js';

// DenseNet121(include_top=False, pooling='avg') features of RGB pixels already size x size.
export function rgbFeatures(lab, net, rgb) {
  return net.predict(lab.preprocessInput(rgb));
}

// The same from an image file's bytes: Keras load_img(target_size=(size, size)) first.
export function imageFeatures(lab, net, bytes, maxPixels = 0) {
  const [h, w] = net.inputShape;
  return rgbFeatures(lab, net, lab.loadImg(bytes, [h, w], { maxPixels }).rgb);
}

// The project's evaluation (cross-validation, or its held-out fraction) on features x (n x d,
// labels y) -> { folds, leaveOneOut, holdout, evaluated, predictions: Int32Array(n) (-1: an image
// only trained on), confusion: k x k of the evaluated images (rows: truth), accuracy }.
// cv: the folds when the caller has them already (project.cvFolds(y)).
export function crossValidate(project, x, y, d, onProgress, cv = project.cvFolds(y)) {
  const n = y.length, { classes, holdout } = project.info(), k = classes.length;
  const predictions = project.crossValidate(x, y, n, d, cv, onProgress);
  const confusion = Array.from({ length: k }, () => new Array(k).fill(0));
  let correct = 0, evaluated = 0;
  for (let i = 0; i < n; i++) {
    if (predictions[i] < 0) continue;
    confusion[y[i]][predictions[i]]++; correct += y[i] === predictions[i]; evaluated++;
  }
  return { folds: cv.folds, leaveOneOut: !holdout && cv.folds === n, holdout, evaluated, predictions, confusion, accuracy: correct / evaluated };
}

// Fit the project's kind on every image and keep the classifier in the project.
export function trainProject(lab, project, x, y, d, onProgress) {
  const { kind, params } = project.info();
  const clf = lab.fit(kind, x, y, y.length, d, params, onProgress);
  try { project.setClassifier(clf.save()); } finally { clf.free(); }
}

// The project's trained classifier (the caller frees it).
export function projectClassifier(lab, project) {
  const { bytes } = project.bytes(-1);
  if (!bytes.length) throw new Error('the project holds no trained classifier');
  return lab.loadClassifier(bytes);
}

// Scores that read as confidences: the softmax head's are probabilities already; SVM decision
// values are put through a softmax (a display scale, not a calibrated probability).
export function confidences(kind, scores) {
  if (kind === 'softmax') return Array.from(scores);
  const m = Math.max(...scores), e = Array.from(scores, (s) => Math.exp(s - m)), sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

// A trained classifier file (DLPROJ01 with a classifier: `denselab train --out`, the page's Save)
// on DenseNet121 features of modelFile: what `classify --classifier FILE` runs on each image.
//   const own = openTrainedClassifier(lab, fs.readFileSync('leaves.dlproj'), lab.loadModelFile(...));
//   own.classify(imageBytes) -> { label, scores: Float32Array (class order) }; own.format(scores, json)
export function openTrainedClassifier(lab, bytes, modelFile) {
  const project = lab.loadProject(bytes);
  let clf = null, net = null, info;
  try {
    info = project.info();
    clf = projectClassifier(lab, project);
    net = featureNet(lab, modelFile, info.size);
    if (clf.numFeatures !== net.outputSize) throw new Error(`the classifier takes ${clf.numFeatures} features, the network gives ${net.outputSize}`);
  } catch (e) { clf?.free(); net?.free(); project.free(); throw e; }
  return {
    classes: info.classes, kind: info.kind, size: net.inputShape[0],
    classify(imageBytes, { maxPixels = 0 } = {}) {
      const scores = clf.predict(imageFeatures(lab, net, imageBytes, maxPixels), 1).scores;
      return { label: this.classes[scores.indexOf(Math.max(...scores))], scores };
    },
    format: (scores, json = false) => project.formatPrediction(scores, json),
    free() { clf.free(); net.free(); project.free(); },
  };
}
