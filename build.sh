#!/usr/bin/env bash
# DenseLab build: system packages, npm packages, data assets, the native, WASM
# and sanitizer trees, model conversion and the static site (dist/).
# Idempotent: a second run with nothing changed only re-checks.
#
#   ./build.sh                   build everything
#   ./build.sh serve [--port N]  build, then serve dist/ on 127.0.0.1 (default port 8080)
#   ./build.sh release           build, then write build/release/denselab-site-VERSION.zip (the
#                                static site) and denselab-VERSION.tgz (the npm package)
#   ./build.sh native            quick: only what the native CLI needs (its packages,
#                                the data, build/native, build/models)
#   ./build.sh assets            only locate/download and verify the data assets
#
# Environment overrides (mainly for tests): DENSELAB_SHARED (default ../shared),
# DENSELAB_DOWNLOADS (default build/downloads), DENSELAB_FASHION_DIR (default
# /usr/share/datasets/fashion-mnist), DENSELAB_MODEL_URL, DENSELAB_CLASS_INDEX_URL,
# DENSELAB_FASHION_URL (download origins; file:// works too).
set -Eeuo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
ROOT=$PWD

# --- constants ---------------------------------------------------------------
# Keras DenseNet121 ImageNet weights, TF.js layers export (see ../shared/README.md).
MODEL_FILES=242                     # model.json + 241 weight shards
MODEL_SHA256=15a6b7df64a7a3314cfde357bed514d8e367ad76f5239f5c5d29c0c202baa700  # all shards, manifest order
MODEL_URL=${DENSELAB_MODEL_URL:-https://raw.githubusercontent.com/carlthome/tfjs-gradcam/65518224b2fa5b53edcab9cdfdac7fc06953b4a8/models/DenseNet121}
CLASS_INDEX_MD5=c2c37ea517e94d9795004a39431a14cb
CLASS_INDEX_URL=${DENSELAB_CLASS_INDEX_URL:-https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json}
# Fashion-MNIST: MD5 of the *uncompressed* IDX files. Debian recompressed the
# .gz files (their MD5s differ from upstream's 8d4fb7e6…, 25c81989…, bef4ecab…,
# bb300cfd…) but the content is identical, so the content is what we check.
FASHION_URL=${DENSELAB_FASHION_URL:-https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion}
FASHION_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
FASHION_MD5=(f4a8712d7a061bf5bd6d2ca38dc4d50a 9018921c3c673c538a1fc5bad174d6f9
             8181f5470baa50b63fa0f6fddb340f0a 15d484375f8d13e6eb1aabb0c3f46965)

SHARED=$(realpath -m "${DENSELAB_SHARED:-$ROOT/../shared}")
DOWNLOADS=${DENSELAB_DOWNLOADS:-$ROOT/build/downloads}
FASHION_SYSTEM_DIR=${DENSELAB_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
# Node and npm may come from another origin (e.g. NodeSource's nodejs bundles npm),
# so those two are checked as commands, the rest as Debian packages.
NATIVE_PACKAGES=(cmake make gcc libstb-dev dataset-fashion-mnist zlib1g-dev curl ca-certificates)
PACKAGES=("${NATIVE_PACKAGES[@]}" emscripten libxnnpack-dev libpthreadpool-dev chromium fonts-liberation
          liblinear-tools libsvm-tools clang libclang-rt-14-dev
          zip unzip python3)   # release zip; its test unpacks it and serves it with python3 -m http.server
# 32-bit (-m32) sanitizer and fuzz builds: a 32-bit size_t, as in WebAssembly.
PACKAGES+=(gcc-multilib lib32stdc++-12-dev lib32z1-dev)
# The other two browser engines of tests/browsers.test.js: Firefox (over WebDriver BiDi) and
# WebKit (WebKitWebDriver + MiniBrowser, on a virtual X display).
PACKAGES+=(firefox-esr webkit2gtk-driver xvfb)
JOBS=$(nproc)

# --- helpers -----------------------------------------------------------------
STEP=start
step() { STEP=$1; echo "==> $1"; }
die() { echo "build.sh: error in step '$STEP': $*" >&2; exit 1; }
# Report once (the trap is inherited by functions, so it would fire at every level).
trap 'echo "build.sh: FAILED in step: $STEP" >&2; trap - ERR' ERR

# download URL FILE: curl into FILE.part, then rename, so a partial file never passes for a whole one.
download() {
  echo "    downloading $1"
  curl -fsSL --retry 3 --connect-timeout 20 -o "$2.part" "$1" || { rm -f "$2.part"; return 1; }
  mv "$2.part" "$2"
}

# Prints the weight shard paths of a TF.js model.json in manifest order.
model_shards() {
  node -e 'for (const g of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).weightsManifest)
             for (const p of g.paths) console.log(p)' "$1"
}

# verify_model DIR: all files present and the shards' SHA-256 matches. Prints the reason on failure.
verify_model() {
  local dir=$1 shards n sum
  [ -f "$dir/model.json" ] || { echo "missing $dir/model.json"; return 1; }
  shards=$(model_shards "$dir/model.json") || { echo "unreadable $dir/model.json"; return 1; }
  n=$(($(wc -l <<<"$shards") + 1))
  [ "$n" -eq "$MODEL_FILES" ] || { echo "$dir/model.json lists $((n - 1)) shards, expected $((MODEL_FILES - 1))"; return 1; }
  (cd "$dir" && xargs -d '\n' ls >/dev/null <<<"$shards") 2>/dev/null || { echo "shards missing in $dir"; return 1; }
  sum=$(cd "$dir" && xargs -d '\n' cat <<<"$shards" | sha256sum | cut -d' ' -f1)
  [ "$sum" = "$MODEL_SHA256" ] || { echo "SHA-256 mismatch in $dir: got $sum, expected $MODEL_SHA256"; return 1; }
}

md5_of() { md5sum "$1" | cut -d' ' -f1; }

# --- steps -------------------------------------------------------------------
# ensure_packages [NAME...]: the given Debian packages (default: all of PACKAGES).
ensure_packages() {
  step "system packages"
  local missing=() p wanted=("$@")
  [ ${#wanted[@]} -eq 0 ] && wanted=("${PACKAGES[@]}")
  for p in "${wanted[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  [ ${#missing[@]} -eq 0 ] && { echo "    all present"; return; }
  local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing packages: ${missing[*]}. Run as root:" >&2
    echo "  $cmd" >&2
    exit 1
  fi
  echo "    installing: ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

ensure_npm() {
  step "npm packages"
  # npm ci writes node_modules/.package-lock.json; older than package-lock.json means stale.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --ignore-scripts   # onnxruntime-node's install script downloads extras; no package here needs one
    touch node_modules/.package-lock.json
  else
    echo "    up to date"
  fi
}

# Sets MODEL_DIR, CLASS_INDEX, FASHION_DIR (exported for the later steps).
ensure_assets() {
  step "assets: DenseNet121 weights"
  local why
  if [ -f "$SHARED/models/densenet121-tfjs/model.json" ]; then
    MODEL_DIR=$SHARED/models/densenet121-tfjs
    why=$(verify_model "$MODEL_DIR") || die "$why"
  else
    MODEL_DIR=$DOWNLOADS/densenet121-tfjs
    if ! why=$(verify_model "$MODEL_DIR"); then
      echo "    no $SHARED/models/densenet121-tfjs; fetching from $MODEL_URL"
      mkdir -p "$MODEL_DIR"
      [ -f "$MODEL_DIR/model.json" ] || download "$MODEL_URL/model.json" "$MODEL_DIR/model.json" \
        || die "model not in $SHARED and download of $MODEL_URL/model.json failed (no network?)"
      # One curl for all missing shards (one connection instead of 241).
      local f cfg=$MODEL_DIR/.curl-config parts=()
      : >"$cfg"
      while IFS= read -r f; do
        [ -f "$MODEL_DIR/$f" ] && continue
        printf 'url = "%s"\noutput = "%s"\n' "$MODEL_URL/$f" "$MODEL_DIR/$f.part" >>"$cfg"
        parts+=("$MODEL_DIR/$f")
      done < <(model_shards "$MODEL_DIR/model.json")
      if [ ${#parts[@]} -gt 0 ]; then
        echo "    downloading ${#parts[@]} weight shards"
        curl -fsSL --fail-early --retry 3 --connect-timeout 20 --config "$cfg" \
          || { rm -f "$MODEL_DIR"/*.part; die "download of weight shards from $MODEL_URL failed"; }
        for f in "${parts[@]}"; do mv "$f.part" "$f"; done
      fi
      rm -f "$cfg"
      why=$(verify_model "$MODEL_DIR") || die "downloaded model is bad ($why); delete $MODEL_DIR and retry"
    fi
  fi
  echo "    $MODEL_DIR (SHA-256 ok)"

  step "assets: ImageNet class index"
  if [ -f "$SHARED/labels/imagenet_class_index.json" ]; then
    CLASS_INDEX=$SHARED/labels/imagenet_class_index.json
  else
    CLASS_INDEX=$DOWNLOADS/imagenet_class_index.json
    if [ ! -f "$CLASS_INDEX" ]; then
      mkdir -p "$DOWNLOADS"
      download "$CLASS_INDEX_URL" "$CLASS_INDEX" || die "class index not in $SHARED and download of $CLASS_INDEX_URL failed"
    fi
  fi
  [ "$(md5_of "$CLASS_INDEX")" = "$CLASS_INDEX_MD5" ] || die "MD5 mismatch for $CLASS_INDEX (expected $CLASS_INDEX_MD5)"
  echo "    $CLASS_INDEX (MD5 ok)"

  step "assets: Fashion-MNIST"
  local i f dir=$FASHION_SYSTEM_DIR
  if [ ! -f "$dir/${FASHION_FILES[0]}.gz" ]; then
    dir=$DOWNLOADS/fashion-mnist
    mkdir -p "$dir"
    for f in "${FASHION_FILES[@]}"; do
      [ -f "$dir/$f.gz" ] || download "$FASHION_URL/$f.gz" "$dir/$f.gz" \
        || die "Fashion-MNIST not in $FASHION_SYSTEM_DIR (apt-get install dataset-fashion-mnist) and download of $FASHION_URL/$f.gz failed"
    done
  fi
  for i in "${!FASHION_FILES[@]}"; do
    f=$dir/${FASHION_FILES[$i]}.gz
    [ -f "$f" ] || die "missing $f"
    [ "$(gzip -dc "$f" | md5sum | cut -d' ' -f1)" = "${FASHION_MD5[$i]}" ] \
      || die "content MD5 mismatch for $f (expected ${FASHION_MD5[$i]}); delete it and retry"
  done
  FASHION_DIR=$dir
  echo "    $FASHION_DIR (MD5 ok)"
  export DENSELAB_MODEL_DIR=$MODEL_DIR DENSELAB_CLASS_INDEX=$CLASS_INDEX DENSELAB_FASHION_DIR=$FASHION_DIR
}

# configure_and_build DIR CONFIGURE-COMMAND...: configure until a build system
# exists (cmake --build re-runs configuration itself when CMakeLists change).
configure_and_build() {
  local dir=$1; shift
  if [ ! -f "$dir/Makefile" ]; then
    "$@"
  fi
  cmake --build "$dir" -j"$JOBS"
}

build_native() {
  step "native build (build/native)"
  configure_and_build build/native cmake -S . -B build/native -DCMAKE_BUILD_TYPE=Release
}

build_wasm() {
  step "WASM build (build/wasm)"
  export NODE_PATH=/usr/share/nodejs  # Debian's emscripten needs its acorn from here
  # Emscripten's node programs (*.js) are CommonJS, but the root package.json says
  configure_and_build build/wasm emcmake cmake -S . -B build/wasm -DCMAKE_BUILD_TYPE=Release
}

# The threaded library only (denselab_core_mt, -pthread): every object again with atomics.
build_wasm_threads() {
  step "threaded WASM library (build/wasm-mt)"
  export NODE_PATH=/usr/share/nodejs
  [ -f build/wasm-mt/Makefile ] || emcmake cmake -S . -B build/wasm-mt -DCMAKE_BUILD_TYPE=Release -DDENSELAB_PTHREADS=ON
  cmake --build build/wasm-mt -j"$JOBS" --target denselab_core
}

build_asan() {
  step "ASan+UBSan native build (build/asan)"
  local cc=gcc
  command -v clang >/dev/null && cc=clang
  configure_and_build build/asan env CC=$cc cmake -S . -B build/asan -DDENSELAB_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
}

convert_models() {
  step "model conversion (build/models)"
  [ -f models/convert.js ] || die "models/convert.js missing"
  mkdir -p build/models
  local out flag
  for out in build/models/densenet121.dlm build/models/densenet121-f16.dlm; do
    flag=; [[ $out == *-f16.dlm ]] && flag=--f16
    # Rebuild when the output is missing or older than the converter's sources or model.json.
    if [ ! -f "$out" ] || [ -n "$(find models -maxdepth 1 -name '*.js' -newer "$out")" ] \
       || [ "$MODEL_DIR/model.json" -nt "$out" ]; then
      node models/convert.js "$MODEL_DIR" "$out" $flag     # writes atomically
      echo "    wrote $out"
    else
      echo "    $out up to date"
    fi
  done
  cmp -s "$CLASS_INDEX" build/models/imagenet_class_index.json || cp "$CLASS_INDEX" build/models/imagenet_class_index.json
}

build_dist() {
  step "static site (dist/)"
  node web/build-dist.js
}

# The C test programs and the CLI, 32-bit: what the WASM build's 32-bit size_t does to
# size arithmetic, under the sanitizers (WASM has none). Only these targets: the others
# (e.g. the XNNPACK benchmark) would need 32-bit libraries.
build_asan32() {
  step "32-bit ASan+UBSan build (build/asan32)"
  [ -f build/asan32/Makefile ] || CC=clang CFLAGS="-m32 -msse2 -mfpmath=sse" cmake -S . -B build/asan32 \
    -DDENSELAB_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZLIB_LIBRARY=/usr/lib32/libz.so
  cmake --build build/asan32 -j"$JOBS" --target kernels_test image_test learn_test denselab
}

build_fuzz() {
  step "fuzz harnesses (build/fuzz, 32-bit: build/fuzz32)"
  tests/fuzz/fuzz.sh build
}

build_native_only() {
  ensure_packages "${NATIVE_PACKAGES[@]}"
  ensure_assets
  build_native
  convert_models
  STEP="done"
  echo "==> native build complete: build/native/denselab, build/models/"
}

build_all() {
  ensure_packages
  ensure_npm
  ensure_assets
  build_native
  build_wasm
  build_wasm_threads
  build_asan
  build_asan32
  build_fuzz
  convert_models
  build_dist
  STEP="done"
  echo "==> build complete"
}

case "${1:-}" in
  "") build_all ;;
  serve)
    shift
    build_all
    [ -f web/serve.js ] || die "web/serve.js missing"
    [ -d dist ] || die "dist/ missing (web/build-dist.js did not run)"
    exec node web/serve.js dist "$@" ;;
  release)
    build_all
    step "release artefacts (build/release/)"
    node wasm/package.js --out build/release
    node web/build-release.js --out build/release ;;
  native) build_native_only ;;
  assets) ensure_assets ;;
  -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "usage: ./build.sh [serve [--port N] | release | native | assets]" >&2; exit 2 ;;
esac
