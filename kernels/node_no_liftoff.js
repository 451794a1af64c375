// Pre-js for the node builds of kernels_bench: compile wasm with V8's
// optimizing tier right away. V8 starts wasm functions in its baseline
// compiler (Liftoff) and does not replace a running call, so a long kernel
// call could be measured (or run) at baseline speed.
if (typeof process === 'object' && typeof require === 'function') {
  require('v8').setFlagsFromString('--no-liftoff');
}
