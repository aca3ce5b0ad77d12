// The transcoders' WebAssembly modules (msgpack-wasm.c, gelf-wasm.c), made into instances.

// What is used of WebAssembly, which @types/node 20 does not declare (TypeScript's DOM library does).
// It is undefined under node --jitless.
const { WebAssembly } = globalThis as unknown as {
  WebAssembly?: {
    Module: new (bytes: Uint8Array) => object
    Instance: new (module: object) => { exports: unknown }
  }
}

/** Each module compiled once a thread, by its base64; null where it cannot be. */
const compiled = new Map<string, object | null>()

/**
 * The exports of a new instance of an embedded module, or undefined where
 * WebAssembly is not available: node --jitless, a runtime without its SIMD or
 * bulk memory, or an instance whose memory could not be had. The caller's
 * JavaScript transcoder then does the work.
 */
export function instantiate<Exports> (base64: string): (Exports & { memory: { buffer: ArrayBuffer } }) | undefined {
  if (WebAssembly === undefined) return undefined
  let module = compiled.get(base64)
  if (module === undefined) {
    try {
      module = new WebAssembly.Module(Buffer.from(base64, 'base64'))
    } catch {
      module = null
    }
    compiled.set(base64, module)
  }
  if (module === null) return undefined
  try {
    return new WebAssembly.Instance(module).exports as Exports & { memory: { buffer: ArrayBuffer } }
  } catch {
    return undefined
  }
}
