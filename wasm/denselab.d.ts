// TypeScript declarations for the public JS API (wasm/denselab.js and wasm/node.js).
// Every method throws an Error whose message is the reason; a freed object's methods throw.
// tests/release.test.js checks that every public method of the classes is declared here.

/** What one WASM instance can hold: no single buffer can be larger. */
export const MAX_BUFFER_BYTES: number;
/** The largest image (width × height) the decoder accepts. */
export const MAX_PIXELS: number;

export interface CreateOptions {
  /** The core's .wasm bytes (Node: read the file; the browser fetches it beside the core). */
  wasmBinary?: ArrayBuffer | Uint8Array;
  /** URL of denselab_core.mjs (default: beside denselab.js; denselab_core_mt.mjs when threads > 1). */
  coreUrl?: string;
  /** Threads that run one image (default 1). More than 1 loads the threaded build, which needs
   *  SharedArrayBuffer: a crossOriginIsolated page, or Node. Outputs are bit-identical for any count. */
  threads?: number;
}
export function createDenseLab(options?: CreateOptions): Promise<DenseLab>;
/** The largest thread count (64). */
export const MAX_THREADS: number;
/** The cores this JS runs on (navigator.hardwareConcurrency, os.availableParallelism()), at most MAX_THREADS. */
export function availableThreads(): Promise<number>;

/** Frees the typed arrays' memory now (their buffers are detached); a no-op where
 *  ArrayBuffer.prototype.transfer is missing. */
export function release(...arrays: ArrayBufferView[]): void;

/** Keras's `DenseNet121(...)` arguments, plus DenseLab's memory limit. */
export interface NetOptions {
  includeTop?: boolean;
  /** 'imagenet' or null (random weights, Keras's initialisers with `seed`). */
  weights?: 'imagenet' | null;
  /** [height, width, channels]; null: Keras's default for the other arguments. */
  inputShape?: [number, number, number] | null;
  pooling?: 'avg' | 'max' | null;
  classes?: number;
  seed?: number;
  /** Bytes, or a string such as '512MB'. */
  maxMemory?: number | string;
  /** DenseLab's extension (not Keras): a 1-channel inputShape repeats the gray channel 3× for the ImageNet weights. */
  grayToRgb?: boolean;
}

export interface LoadedImage {
  /** height × width × 3 bytes, as Keras's load_img gives them. */
  rgb: Uint8Array;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
}

export interface Prediction { index: number; wnid: string; label: string; prob: number; }

export interface ClassifierParam {
  name: string;
  type: 'int' | 'real';
  default: number;
  min: number;
  max: number;
  min_exclusive: boolean;
  help: string;
}
export interface ClassifierKind { name: string; id: number; help: string; params: ClassifierParam[]; }

/** Called during long C jobs; returning true cancels the job. */
/** true cancels; 'stop' ends fine-tuning after this epoch, keeping the best epoch's weights. */
export type ProgressCallback = (...progress: number[]) => boolean | 'stop' | void;

export class DenseLab {
  /** A .dlm model file (models/convert.js writes it from the Keras/TF.js weights). */
  loadModelFile(bytes: ArrayBuffer | ArrayBufferView): ModelFile;
  /** imagenet_class_index.json, as Keras downloads it; needed by the prediction formatters. */
  loadClassIndex(jsonText: string): void;
  /** `DenseNet121(include_top, weights, input_shape, pooling, classes)`. */
  buildNet(file: ModelFile, options?: NetOptions): Net;
  /** Keras `load_img(path, target_size=[h, w])` on encoded bytes (PNG, JPEG, BMP, GIF, ...). */
  loadImg(bytes: ArrayBuffer | ArrayBufferView, size?: [number, number] | null, options?: { maxPixels?: number }): LoadedImage;
  /** The image's size without decoding its pixels at full size. */
  decodeImage(bytes: ArrayBuffer | ArrayBufferView, options?: { maxPixels?: number }): { width: number; height: number };
  /** `densenet.preprocess_input` (mode 'torch') on RGB bytes. */
  preprocessInput(rgb: Uint8Array | Uint8ClampedArray): Float32Array;
  /** `decode_predictions` as Python prints it (json=false) or as JSON text. */
  formatTopK(probs: Float32Array | ArrayLike<number>, top: number, json: boolean): string;
  /** `decode_predictions(preds, top)` for one image. */
  decodePredictions(probs: Float32Array | ArrayLike<number>, top?: number): Prediction[];
  /** Throws Keras's decode_predictions error unless preds has the shape (rows, 1000). */
  checkDecodePredictions(rows: number, classes: number): void;
  /** What Python prints for `decode_predictions(preds, top)[0]`. */
  formatPredictions(probs: Float32Array | ArrayLike<number>, top?: number): string;
  withProgress<T>(onProgress: ProgressCallback | null | undefined, fn: () => T): T;
  /** Decompressed IDX bytes (Fashion-MNIST). */
  parseIdx(bytes: ArrayBuffer | ArrayBufferView, options?: { labels?: boolean }): { count: number; rows: number; cols: number; data: Uint8Array };
  /** Keras's GlobalAveragePooling2D / GlobalMaxPooling2D of one positions × channels map. */
  globalPool(map: Float32Array, positions: number, channels: number, how?: 'avg' | 'max'): Float32Array;
  /** count gray w × h images → the network's outputs, in batches (channel repeated to RGB). */
  grayFeatures(net: Net, gray: Uint8Array | Uint8ClampedArray, w: number, h: number, count: number,
    options?: { batch?: number; onProgress?: ProgressCallback }): Float32Array;
  /** grayFeatures and, from the same runs, each image's conv5_block1 input (fine-tuning's rows). */
  grayFeaturesAndBlock(net: Net, gray: Uint8Array | Uint8ClampedArray, w: number, h: number, count: number,
    options?: { batch?: number; onProgress?: ProgressCallback }): { features: Float32Array; block: Float32Array; blockSize: number };
  /** The one path of both: withBlock adds the conv5_block1 input (else block is null, blockSize 0). */
  grayRun(net: Net, gray: Uint8Array | Uint8ClampedArray, w: number, h: number, count: number,
    options: { batch?: number; onProgress?: ProgressCallback } | undefined, withBlock: boolean): { features: Float32Array; block: Float32Array | null; blockSize: number };
  /** The classifier kinds and their parameters (the C core's table). */
  classifierKinds(): ClassifierKind[];
  /** The Fashion-MNIST comparison's rows. */
  reportRows(): { name: string; kind: string; blockInput: boolean; featureType: 'f16' | 'f32'; params: Record<string, number> }[];
  report(pointer: number): string;
  reportTrainRows(name: string, n: number, rbfMax: number): number;
  formatReportHead(o: { json: boolean; size: number; n: number; m: number; featureSeconds: number; haveFeatures: boolean }): string;
  formatReportRow(o: { json: boolean; first: boolean; name: string; n: number; seconds: number; accuracy: number; confusion: number[][] }): string;
  formatReportTail(o: { json: boolean }): string;
  /** Train a classifier of `kind` on n rows of d features; options: the kind's parameters by name. */
  fit(kind: string, x: Float32Array | ArrayLike<number> | HeapFloats, y: Int32Array | ArrayLike<number>, n: number, d: number,
    options?: Record<string, number>, onProgress?: ProgressCallback): Classifier;
  /** The RBF SVM's one-vs-one pairs as independent units (wasm/rbf-pairs.js spreads them over
   *  workers): the rbf-svm kind's parameter values in table order. */
  rbfValues(options: Record<string, number>): Float64Array;
  /** What every pair shares: gamma ('scale'), the classes, and mean/std when standardising. */
  rbfPrepare(x: Float32Array | HeapFloats, y: Int32Array | ArrayLike<number>, n: number, d: number, options?: Record<string, number>):
    { gamma: number; numClasses: number; mean: Float32Array | null; std: Float32Array | null };
  /** One pair (ci < cj) on only its two classes' rows: the pair's result bytes. */
  rbfTrainPair(xi: Float32Array, ni: number, xj: Float32Array, nj: number, d: number, ci: number, cj: number,
    shared: { gamma: number; mean?: Float32Array | null; std?: Float32Array | null }, options?: Record<string, number>,
    onProgress?: ProgressCallback): Uint8Array;
  /** The same pair, its rows read in place from x (n × d) by their row numbers (class ci's, then
   *  cj's, in training-set order): the same bytes as rbfTrainPair, without copying the rows. */
  rbfTrainPairAt(x: Float32Array | HeapFloats, n: number, d: number, rowsI: Int32Array | number[], rowsJ: Int32Array | number[],
    ci: number, cj: number, shared: { gamma: number; mean?: Float32Array | null; std?: Float32Array | null },
    options?: Record<string, number>, onProgress?: ProgressCallback): Uint8Array;
  /** What rbfTrainPair and rbfTrainPairAt share: the checks, the parameters and mean/std in the heap,
   *  progress; call(mean, std, values, count, size) runs the C core and gives the result's pointer. */
  trainPair(d: number, ci: number, cj: number, shared: { gamma: number; mean?: Float32Array | null; std?: Float32Array | null },
    options: Record<string, number> | undefined, onProgress: ProgressCallback | undefined,
    call: (mean: number, std: number, values: number, count: number, size: number) => number): Uint8Array;
  /** rbfPrepare's { gamma, mean, std } checked; mean/std copied into the heap (pointers; [] when not standardising). */
  sharedIn(d: number, shared: { gamma: number; mean?: Float32Array | null; std?: Float32Array | null }): number[];
  /** Several pairs at once on this instance's threads (the threaded build; one after another in the
   *  single-threaded one), each pair's rows read in place from x by row number (rows[c]: class c's):
   *  the results in the order of pairs, each the bytes of rbfTrainPairAt. onProgress after each finished
   *  pair (pair, bytes) and every 1,000 SMO steps (pair null); a true return cancels. Cancelled or
   *  failed: an Error with .finished (null for the pairs that did not finish) and .cancelled. */
  rbfTrainPairsAt(x: Float32Array | HeapFloats | HeapHalves, n: number, d: number, rows: (Int32Array | number[])[], pairs: [number, number][],
    shared: { gamma: number; mean?: Float32Array | null; std?: Float32Array | null }, options?: Record<string, number>,
    onProgress?: (p: { done: number; total: number; pair: [number, number] | null; bytes: Uint8Array | null; iter: number }) => unknown): Uint8Array[];
  /** Every pair's result, in any order → the classifier (the same bytes as fit('rbf-svm', ...)). */
  rbfAssemble(x: Float32Array | HeapFloats, y: Int32Array | ArrayLike<number>, n: number, d: number,
    options: Record<string, number> | null, results: Uint8Array[], how?: { borrow?: boolean }): Classifier;
  /** Fine-tuning: DenseNet121 up to conv5_block1's input (the frozen part), h × w × 512 per image. */
  buildFrozenNet(file: ModelFile, options?: { inputShape?: [number, number, number]; maxMemory?: number | string }): Net;
  /** The pretrained conv5 weights that fit('finetune', ...) starts from. */
  setFinetuneBase(file: ModelFile): void;
  /** For tests against TF.js: `steps` Keras Adam steps of a dense block + head; steps 0: the gradient. */
  finetuneSteps(o: { shape: Record<string, number>; hidden: number; classes: number; params: Float32Array;
    x: Float32Array; y: Int32Array | ArrayLike<number>; n: number; lr: number; steps?: number }): Float32Array;
  /** A classifier file (DLCLASS1) saved by Classifier.save(). */
  loadClassifier(bytes: ArrayBuffer | ArrayBufferView): Classifier;
  ints(n: number, fill: (pointer: number) => void): number[];
  /** How many classes a project may have (the C core's DL_PROJECT_MAX_CLASSES). */
  projectMaxClasses(): number;
  /** A new own-classes project (train.html, `denselab train`): input size, cross-validation
   *  folds (0: 5, or leave-one-out when a class has fewer than 5 images), classifier kind and parameters. */
  newProject(options?: { size?: number; cv?: number; kind?: string; params?: Record<string, number>; classes?: string[];
    /** 0 < holdout < 1: evaluate on that fraction of each class held out (seeded) instead of cross-validation. */
    holdout?: number }): Project;
  /** A DLPROJ01 project file; a damaged or foreign file throws why. */
  loadProject(bytes: ArrayBuffer | ArrayBufferView): Project;
  /** One .onnx file (README "ONNX export"): with `project` (trained), DenseNet121 at its input size and
   *  its classifier: input `image` float32 [N, S, S, 3] RGB 0..255, outputs `scores`, `label`, `class_name`,
   *  `features`; without, the network of the Keras options (as buildNet), output `output`.
   *  `about`: what the file computes (text lines, or JSON members with json: true). */
  exportOnnx(file: ModelFile, options?: NetOptions & { project?: Project | null; json?: boolean }): { bytes: Uint8Array; about: string };
  /** Threads that run one image now. */
  threadCount(): number;
  /** Fewer (or again more) threads, up to the count this instance was created with. */
  setThreads(threads: number): void;
  /** count floats of room inside this instance's heap, used in place by fit, evaluate and predict. */
  heapFloats(count: number, name?: string): HeapFloats;
  /** count float16 values of room (half the bytes): taken wherever HeapFloats are (fit, evaluate, predict,
   *  the RBF SVM's entry points), training what float32 rows holding the same values train. */
  heapHalves(count: number, name?: string): HeapHalves;
  /** How the experiment stores a report row's features (learn/report.h dl_report_row_features_f16):
   *  'f16' for linear-svm and rbf-svm, 'f32' for softmax, finetune and pixels-linear-svm. */
  reportFeatureType(row: string): 'f16' | 'f32';
  /** The float32 value of every half, indexed by its bits (65,536 values, made once by the C kernel). */
  halfValues(): Float32Array;
  /** n × d rows for the C core: a HeapFloats of this lab is used where it is, anything else copied in. */
  rowsIn(name: string, x: Float32Array | ArrayLike<number> | HeapFloats, n: number, d: number): { ptr: number; owned: boolean; bytes: number; f16: 0 | 1 };
  freeRows(rows: { ptr: number; owned: boolean }): void;
  /** Bytes of WASM memory the instance has, and how many of them are in use. */
  heapBytes(): number;
  heapUsed(): number;
}

/** Floats inside a lab's heap (lab.heapFloats). */
export class HeapFloats {
  readonly length: number;
  readonly live: boolean;
  /** A Float32Array over them, made afresh each time (a growing heap detaches older views). */
  view(): Float32Array;
  /** A part of them that dies with its owner. */
  subarray(start: number, end?: number): HeapFloats;
  /** x copied in from value `at` on. */
  put(at: number, x: Float32Array): void;
  free(): void;
}

/** Float16 values inside a lab's heap (lab.heapHalves): view() gives their bits. */
export class HeapHalves extends HeapFloats {
  view(): Uint16Array;
  subarray(start: number, end?: number): HeapHalves;
  /** x stored from value `at` on, rounded to nearest even by the C kernel (f16_from_f32). */
  put(at: number, x: Float32Array): void;
  /** Values [start, end) as float32 (exact). */
  floats(start?: number, end?: number): Float32Array;
}

export class ModelFile {
  readonly checksum: number;
  readonly freed: boolean;
  /** Frees it once no network built from it is left. */
  free(): void;
}

export class Net {
  /** [height, width, channels] */
  readonly inputShape: [number, number, number];
  /** This network's concrete output shape, batch first (null). */
  readonly outputShape: (number | null)[];
  /** Keras's symbolic output shape: None (null) where Keras leaves a size open, e.g. [null, null, null, 1024]. */
  readonly kerasOutputShape: (number | null)[];
  readonly outputSize: number;
  readonly freed: boolean;
  /** `model.predict` on batch preprocessed images (batch × h × w × c floats). */
  predict(input: Float32Array | ArrayLike<number>, batch?: number): Float32Array;
  /** `model.summary()`: the text and its rows. */
  summary(): {
    text: string;
    rows: { name: string; className: string; outputShape: string; params: number; connectedTo: string[] }[];
    totalParams: number; trainableParams: number; nonTrainableParams: number;
  };
  free(): void;
}

export class Classifier {
  readonly kind: string;
  readonly numClasses: number;
  readonly numFeatures: number;
  readonly freed: boolean;
  check(x: Float32Array | ArrayLike<number>, n: number, y?: Int32Array | ArrayLike<number>): void;
  predict(x: Float32Array | ArrayLike<number> | HeapFloats, n: number): { labels: Int32Array; scores: Float32Array };
  evaluate(x: Float32Array | ArrayLike<number> | HeapFloats, y: Int32Array | ArrayLike<number>, n: number):
    { accuracy: number; confusion: number[][]; predictions: Int32Array };
  /** The classifier as a DLCLASS1 file. */
  save(): Uint8Array;
  /** The same file left in the lab's heap, read a part at a time (no whole JS copy); free() it. */
  saveInHeap(): { length: number; bytes(start: number, end: number): Uint8Array; free(): void };
  free(): void;
}

/** An own-classes project: class names, settings, the trained classifier and, optionally, the images (DLPROJ01). */
export class Project {
  readonly freed: boolean;
  addClass(name: string): void;
  info(): { size: number; cv: number; holdout: number; kind: string; params: Record<string, number>; classes: string[];
    numImages: number; imageNames: string[]; trained: boolean };
  /** i ≥ 0: image i; i = -1: the classifier file (bytes empty if untrained). */
  bytes(i: number): { label: number; bytes: Uint8Array };
  addImage(label: number, name: string, bytes: ArrayBuffer | ArrayBufferView): void;
  setClassifier(bytes: ArrayBuffer | ArrayBufferView): void;
  /** The project as a DLPROJ01 file. */
  save(): Uint8Array;
  /** Stratified k-fold (or leave-one-out) folds for labels y; with a holdout, fold 0 is held out and -1 trained on. */
  cvFolds(y: Int32Array | ArrayLike<number>): { fold: Int32Array; folds: number };
  /** Out-of-fold predictions of the project's classifier (-1: an image only trained on). */
  crossValidate(x: Float32Array, y: Int32Array | ArrayLike<number>, n: number, d: number,
    folds: { fold: Int32Array; folds: number }, onProgress?: ProgressCallback): Int32Array;
  formatReport(o: { json?: boolean; confusion: number[][]; n: number; folds: number }): string;
  formatPrediction(scores: Float32Array | ArrayLike<number>, json?: boolean): string;
  free(): void;
}
