import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ERROR_CODES, WARNING_CODES } from '../src/codes.js'

// One list of codes (src/codes.ts), the README's tables, and the source agree.

const root = join(import.meta.dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')

/** The codes a README table lists: rows that open with a code in backquotes. */
function tableCodes (prefix: string): string[] {
  return [...readme.matchAll(new RegExp(`^\\| \`(${prefix}[A-Z_]+)\` \\|`, 'gm'))].map((match) => match[1]).sort()
}

/** Every code spelled out in src/, outside the list itself. */
function sourceCodes (prefix: string): string[] {
  const found = new Set<string>()
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts') && path !== join(root, 'src', 'codes.ts')) {
        for (const match of readFileSync(path, 'utf8').matchAll(new RegExp(`${prefix}[A-Z_]+`, 'g'))) found.add(match[0])
      }
    }
  }
  walk(join(root, 'src'))
  return [...found].sort()
}

describe('codes', () => {
  test('every warning code is in the README\'s Warnings table, and the table lists no other', () => {
    assert.deepEqual(tableCodes('PINO_WS_WARN_'), [...WARNING_CODES].sort())
  })

  test('every error code is in the README, and the source spells out none the list lacks', () => {
    for (const code of ERROR_CODES) assert.ok(readme.includes(`\`${code}\``), code)
    for (const code of sourceCodes('PINO_WS_WARN_')) assert.ok((WARNING_CODES as readonly string[]).includes(code), code)
    for (const code of sourceCodes('PINO_WS_ERR_')) assert.ok((ERROR_CODES as readonly string[]).includes(code), code)
  })
})
