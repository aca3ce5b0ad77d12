// Compiles src/ twice: ESM into dist/esm and CommonJS into dist/cjs (each with
// its own .d.ts), so both `import` and `require` get native code.
import { execFileSync } from 'node:child_process'
import { chmodSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
rmSync('dist', { recursive: true, force: true })
for (const project of ['tsconfig.json', 'tsconfig.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' })
}
// dist/cjs holds CommonJS inside a "type": "module" package.
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n')
chmodSync('dist/cjs/cli.js', 0o755)
// CommonJS has no import.meta: its module-url.js reads __filename (see src/module-url.ts).
writeFileSync('dist/cjs/module-url.js', `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.MODULE_URL = require("node:url").pathToFileURL(__filename).href;
`)
