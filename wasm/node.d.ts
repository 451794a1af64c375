// TypeScript declarations for wasm/node.js ('denselab/node').
import type { CreateOptions, DenseLab } from './denselab.js';

/** Where the WASM core, the float32 model and the class index are on this machine. */
export const files: { core: string; wasm: string; model: string; labels: string };
/** The package's version (package.json). */
export const VERSION: string;
/** A DenseLab instance on the local WASM core. */
export function openDenseLab(options?: CreateOptions): Promise<DenseLab>;
