import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { startServer, type TestServer } from './helpers.js'

const run = promisify(execFile)
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const version = (name: string): string => (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }).version

// The packed package, installed from its tarball in a folder of its own, as a user gets it.
describe('packed package', () => {
  let dir: string
  let server: TestServer

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pino-websocket-pack-'))
    const { stdout } = await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir])
    const [{ filename }] = JSON.parse(stdout) as Array<{ filename: string }>
    writeFileSync(join(dir, 'package.json'), '{ "name": "consumer", "private": true }\n')
    // Dependencies come from npm's cache, filled by `npm ci`.
    await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, filename), `pino@${version('pino')}`, `winston@${version('winston')}`], { cwd: dir })
    server = await startServer({ format: 'json_lines' })
  })

  after(async () => {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('ships dist/, the changelog and no sources or tests', async () => {
    const { stdout } = await run(npm, ['pack', '--dry-run', '--ignore-scripts', '--json'])
    const [{ files }] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
    const paths = files.map((f) => f.path)
    assert.ok(paths.includes('dist/esm/index.js') && paths.includes('dist/cjs/index.js') && paths.includes('dist/cjs/index.d.ts'))
    assert.ok(paths.includes('CHANGELOG.md') && paths.includes('LICENSE') && paths.includes('README.md'))
    assert.ok(!paths.some((p) => p.startsWith('src/') || p.startsWith('test/')), paths.join(' '))
  })

  test('import from an .mjs file: pino by target name and winston deliver', async () => {
    writeFileSync(join(dir, 'use.mjs'), `
      import { once } from 'node:events'
      import pino from 'pino'
      import winston from 'winston'
      import pinoWebSocket, { encodeMessages, decodeMessage } from 'pino-websocket'
      import { WebSocketTransport } from 'pino-websocket/winston'
      if (typeof pinoWebSocket !== 'function' || typeof encodeMessages !== 'function' || typeof decodeMessage !== 'function') process.exit(3)
      const port = Number(process.env.PORT)
      const wt = new WebSocketTransport({ port, wireFormat: 'json_lines' })
      const logger = winston.createLogger({ transports: [wt] })
      logger.info('x', { from: 'esm-winston' })
      logger.end()
      await once(wt, 'finish')
      // No explicit close: a natural exit makes pino end its worker, which delivers first.
      const transport = pino.transport({ target: 'pino-websocket', options: { port, format: 'json_lines' } })
      pino(transport).info({ from: 'esm-pino' })
    `)
    await run(process.execPath, ['use.mjs'], { cwd: dir, env: { ...process.env, PORT: String(server.port) } })
    const from = server.events.map((e) => e.record.from)
    assert.ok(from.includes('esm-pino'), from.join())
    assert.ok(from.includes('esm-winston'), from.join())
  })

  test('require from a .cjs file: the same API in CommonJS', async () => {
    writeFileSync(join(dir, 'use.cjs'), `
      const { once } = require('node:events')
      const lib = require('pino-websocket')
      if (typeof lib.default !== 'function' || typeof lib.encodeMessages !== 'function') process.exit(3)
      // What a pino worker loads: never winston.
      if (Object.keys(require.cache).some((path) => /winston/.test(path))) process.exit(4)
      const winston = require('winston')
      const { WebSocketTransport } = require('pino-websocket/winston')
      const wt = new WebSocketTransport({ port: Number(process.env.PORT), wireFormat: 'json_lines' })
      const logger = winston.createLogger({ transports: [wt] })
      logger.info('x', { from: 'cjs-winston' })
      logger.end()
      once(wt, 'finish').then(() => {
        const [message] = lib.encodeMessages([{ time: { sec: 1, nsec: 0 }, record: { a: 1 } }], { format: 'json_lines' })
        process.stdout.write(message.data.toString())
      })
    `)
    const { stdout } = await run(process.execPath, ['use.cjs'], { cwd: dir, env: { ...process.env, PORT: String(server.port) } })
    assert.equal(stdout, '{"date":1.0,"a":1}\n')
    assert.ok(server.events.some((e) => e.record.from === 'cjs-winston'))
  })
})
