import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

// `npm test` runs on a clone with nothing beside it (CI lays ../shared next to the
// clone, a user's machine does not): no test may read a path outside the repository.
test('no test reads a file outside the repository (../shared is not there on a fresh clone)', () => {
  const offenders: string[] = []
  for (const file of readdirSync(here).filter((name) => name.endsWith('.ts') && name !== 'repository.test.ts')) {
    const text = readFileSync(join(here, file), 'utf8')
    for (const [index, line] of text.split('\n').entries()) {
      if (line.trimStart().startsWith('//')) continue
      if (/'\.\.',\s*'\.\.'|\.\.\/\.\.\/|'shared'|\/shared\//.test(line)) offenders.push(`${file}:${index + 1}: ${line.trim()}`)
    }
  }
  assert.deepEqual(offenders, [])
})
