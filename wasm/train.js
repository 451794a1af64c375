// train.js — "your own classes" on the JS API: features of image files, cross-validation,
// training and the project file (learn/train.h). Shared by `node wasm/cli.js train` and the
// page web/train.html; all computation is the C core's, this file only sequences it.

// DenseNet121(include_top=False, pooling='avg') features of RGB pixels already size x size.
export function rgbFeatures(lab, net, rgb) {
  return net.predict(lab.preprocessInput(rgb));
}

// The same from an image file's bytes: Keras load_img(target_size=(size, size)) first.
export function imageFeatures(lab, net, bytes, maxPixels = 0) {
  const [h, w] = net.inputShape;
  return rgbFeatures(lab, net, lab.loadImg(bytes, [h, w], { maxPixels }).rgb);
}

// The project's settings cross-validated on features x (n x d, labels y):
// -> { folds, leaveOneOut, predictions: Int32Array(n), confusion: k x k (rows: truth), accuracy }.
export function crossValidate(project, x, y, d, onProgress) {
  const n = y.length, k = project.info().classes.length;
  const cv = project.cvFolds(y);
  const predictions = project.crossValidate(x, y, n, d, cv, onProgress);
  const confusion = Array.from({ length: k }, () => new Array(k).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) { confusion[y[i]][predictions[i]]++; correct += y[i] === predictions[i]; }
  return { folds: cv.folds, leaveOneOut: cv.folds === n, predictions, confusion, accuracy: correct / n };
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
