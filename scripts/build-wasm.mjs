// Builds src/encoders/msgpack-wasm.c into the WebAssembly module embedded in
// src/encoders/msgpack-wasm.ts (committed, so installing and building need no C
// compiler). Needs clang and wasm-ld (Debian: clang lld). With --check, builds
// into memory and fails if the committed module differs: .ci/run does that, with
// Debian 12's clang 14, so commit a module built with that clang (another version
// makes other bytes, which the check refuses; its first line names the clang).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const source = 'src/encoders/msgpack-wasm.c'
const target = 'src/encoders/msgpack-wasm.ts'
const folder = mkdtempSync(join(tmpdir(), 'msgpack-wasm-'))
const wasm = join(folder, 'msgpack.wasm')
try {
  const clang = execFileSync('clang', ['--version'], { encoding: 'utf8' }).split('\n')[0]
  execFileSync('clang', [
    '--target=wasm32', '-O2', '-msimd128', '-mbulk-memory', '-nostdlib', '-Wall', '-Wextra', '-Werror',
    // No stack is used (no recursion, no local arrays); the linker wants one.
    '-Wl,--no-entry', '-Wl,--strip-all', '-Wl,-z,stack-size=4096',
    '-o', wasm, source
  ], { stdio: 'inherit' })
  const bytes = readFileSync(wasm)
  const text = `// Made by scripts/build-wasm.mjs from msgpack-wasm.c (${clang}); do not edit.
/** The WebAssembly module of msgpack-wasm.c, ${bytes.length} bytes, in base64. */
export const MSGPACK_WASM = '${bytes.toString('base64')}'
`
  if (process.argv.includes('--check')) {
    if (readFileSync(target, 'utf8') !== text) {
      console.error(`${target} is not what ${source} builds to: run node scripts/build-wasm.mjs and commit it`)
      process.exitCode = 1
    } else {
      console.log(`${target} is what ${source} builds to (${bytes.length} bytes)`)
    }
  } else {
    writeFileSync(target, text)
    console.log(`${target}: ${bytes.length} bytes`)
  }
} finally {
  rmSync(folder, { recursive: true, force: true })
}
