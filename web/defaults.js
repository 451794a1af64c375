// The pages' default parameters, in one place: web/fashion.js fills fashion.html's fields from
// FASHION and web/app.js fills index.html's from PHOTO (the HTML states no value itself); the benchmark
// harness (bench/) imports FASHION to run the page's defaults. Plain data only: no DOM, no
// browser API, so Node can import it too.

const deepFreeze = (o) => {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(o);
};

// The photo lab (index.html): DenseNet121()'s own defaults.
export const PHOTO = deepFreeze({
  includeTop: true, weights: 'imagenet', inputShape: null, pooling: null, classes: 1000,
});

// The Fashion-MNIST page (fashion.html). `choices` are the options of its selects.
export const FASHION = deepFreeze({
  train: { value: 2000, choices: [2000, 10000, 60000] },   // the first N training images
  test: { value: 1000, choices: [500, 1000, 10000] },      // the first M test images
  size: { value: 32, choices: [32, 48, 64, 96, 224] },     // features at S x S
  workers: { value: 'auto', choices: ['auto', 1, 2, 4, 8] },
  batch: 256,          // images per feature-worker job (and per IndexedDB cache entry)
  maxAutoWorkers: 8,   // 'auto' = the core count, at most this
  // Per classifier: shown at start (enabled) and the parameters its fields start with.
  // Parameters not listed take lab.fit()'s defaults. `fashion` in both CLIs starts from the same
  // values (learn/report.c's row parameters; tests/learn.test.js checks).
  classifiers: {
    'linear-svm': { enabled: true, params: { C: 0.001 } },
    // maxPoints all: its pairs run on the workers. pairCacheMb: each pair worker's kernel cache in
    // MiB (LIBSVM's -m; the CLI's 200): the same model at any size, a little slower, and the tab's
    // memory (issue 11: at most 800 MB) has no room for 200 per worker. 16, not 32: at 60,000 on 2
    // threads the pairs took 149 s against 152 and the heap 40 MiB less (docs/benchmarks.md).
    'rbf-svm': { enabled: false, params: { C: 1 }, maxPoints: 60000, pairCacheMb: 16 },
    softmax: { enabled: true, params: { hidden: 128, epochs: 10, lr: 0.001, val: 0.1 } },   // val: Keras' validation_split
    // Fine-tuning conv5 + a new head (learn/finetune.h; the CLI's defaults): off at start, it trains the
    // last dense block too.
    finetune: { enabled: false, params: { hidden: 128, epochs: 10, lr: 0.0001, val: 0.1, patience: 3 } },
    'pixels-linear-svm': { enabled: true, params: { C: 0.001 } },
  },
  // The RBF SVM's training points, at most (all of Fashion-MNIST's training images); a lower
  // cap stays an option.
  rbfLimit: 60000,
});
