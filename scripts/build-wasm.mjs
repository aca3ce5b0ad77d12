// Builds the transcoders in C (src/encoders/*-wasm.c) into the WebAssembly modules
// embedded in src/encoders/*-wasm.ts (committed, so installing and building need
// no C compiler). Needs clang and wasm-ld (Debian: clang lld). With --check,
// builds into memory and fails if a committed module differs: .ci/run does that,
// with Debian 12's clang 14, so commit modules built with that clang (another
// version makes other bytes, which the check refuses; their first line names the clang).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const MODULES = [
  { name: 'msgpack', constant: 'MSGPACK_WASM' },
  { name: 'gelf', constant: 'GELF_WASM' },
  { name: 'splice', constant: 'SPLICE_WASM' }
]

const check = process.argv.includes('--check')
const folder = mkdtempSync(join(tmpdir(), 'build-wasm-'))
try {
  const clang = execFileSync('clang', ['--version'], { encoding: 'utf8' }).split('\n')[0]
  for (const { name, constant } of MODULES) {
    const source = `src/encoders/${name}-wasm.c`
    const target = `src/encoders/${name}-wasm.ts`
    const wasm = join(folder, `${name}.wasm`)
    execFileSync('clang', [
      '--target=wasm32', '-O2', '-msimd128', '-mbulk-memory', '-nostdlib', '-Wall', '-Wextra', '-Werror',
      // No stack is used (no recursion, no local arrays); the linker wants one.
      '-Wl,--no-entry', '-Wl,--strip-all', '-Wl,-z,stack-size=4096',
      '-o', wasm, source
    ], { stdio: 'inherit' })
    const bytes = readFileSync(wasm)
    const text = `// Made by scripts/build-wasm.mjs from ${name}-wasm.c (${clang}); do not edit.
/** The WebAssembly module of ${name}-wasm.c, ${bytes.length} bytes, in base64. */
export const ${constant} = '${bytes.toString('base64')}'
`
    if (!check) {
      writeFileSync(target, text)
      console.log(`${target}: ${bytes.length} bytes`)
    } else if (readFileSync(target, 'utf8') !== text) {
      console.error(`${target} is not what ${source} builds to: run node scripts/build-wasm.mjs and commit it`)
      process.exitCode = 1
    } else {
      console.log(`${target} is what ${source} builds to (${bytes.length} bytes)`)
    }
  }
} finally {
  rmSync(folder, { recursive: true, force: true })
}
