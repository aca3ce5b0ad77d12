import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Stats } from '../src/client.js'

// Issue 20's apps: each runs in its own process (test/fixtures/spool-app.mjs)
// with the built package, and is killed for real.

const APP = 'test/fixtures/spool-app.mjs'
export const CLI = 'dist/cjs/cli.js'

/** Directories made by {@link spoolDir}, removed when the test file's process ends (spools hold megabytes). */
const made: string[] = []
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

export function spoolDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'pino-websocket-spool-'))
  made.push(dir)
  return join(dir, 'spool')
}

export interface App { child: ChildProcess, lines: Array<Record<string, unknown>>, stderr: () => string, exit: Promise<number | null> }

export function startApp (env: Record<string, string | number>, options: Record<string, unknown>): App {
  const child = spawn(process.execPath, [APP], {
    env: { ...process.env, OPTIONS: JSON.stringify(options), ...Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)])) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const lines: Array<Record<string, unknown>> = []
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    const parts = stdout.split('\n')
    stdout = parts.pop() ?? ''
    for (const line of parts) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
  })
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  return { child, lines, stderr: () => stderr, exit }
}

export async function run (env: Record<string, string | number>, options: Record<string, unknown>): Promise<App & { code: number | null }> {
  const app = startApp(env, options)
  const code = await app.exit
  return { ...app, code }
}

/** The stats the app printed once its transport ended. */
export function statsOf (app: App): Stats {
  const line = app.lines.find((entry) => entry.stats !== undefined)
  assert.ok(line !== undefined, `no stats printed; stderr: ${app.stderr()}`)
  return line.stats as Stats
}

/** Segment files left in a spool directory, at any depth. */
export function segments (dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.seg')).map((name) => join(dir, name))
}

export const base = { format: 'json_lines', closeTimeout: 500, reconnectDelay: 50, maxReconnectDelay: 300, quiet: false }

