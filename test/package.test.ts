import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { build } from 'esbuild'
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

  test('winston, its worker\'s module broken (it throws as it loads): the engine runs on the app\'s thread, said once, and no record is lost', async () => {
    const module = join(dir, 'node_modules', 'pino-websocket', 'dist', 'esm', 'pino.js')
    const original = readFileSync(module, 'utf8')
    writeFileSync(module, "throw new Error('broken on purpose')\n")
    try {
      writeFileSync(join(dir, 'broken.mjs'), `
        import { once } from 'node:events'
        import winston from 'winston'
        import { WebSocketTransport } from 'pino-websocket/winston'
        const transport = new WebSocketTransport({ port: Number(process.env.PORT), wireFormat: 'json_lines' })
        const logger = winston.createLogger({ transports: [transport] })
        for (let seq = 0; seq < 5; seq++) logger.info('before', { seq, from: 'broken' })
        const [warning] = await once(transport, 'warn')
        if (warning.code !== 'PINO_WS_WARN_WORKER_FAILED') process.exit(5)
        for (let seq = 5; seq < 10; seq++) logger.info('after', { seq, from: 'broken' })
        logger.end()
        await once(transport, 'finish')
        process.stdout.write(JSON.stringify(transport.stats()))
      `)
      const { stdout, stderr } = await run(process.execPath, ['broken.mjs'], { cwd: dir, env: { ...process.env, PORT: String(server.port) } })
      const stats = JSON.parse(stdout) as { accepted: number, delivered: number, pending: number, dropped: Record<string, number> }
      assert.equal(stats.accepted, 10)
      assert.equal(stats.delivered, 10)
      assert.ok(Object.values(stats.dropped).every((count) => count === 0), stdout)
      assert.deepEqual(server.events.filter((e) => e.record.from === 'broken').map((e) => e.record.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      const lines = stderr.split('\n').filter((line) => line.includes('[PINO_WS_WARN_WORKER_FAILED]'))
      assert.equal(lines.length, 1, stderr)
      assert.match(lines[0], /the worker thread failed \(broken on purpose\); records are sent from the app's thread from now on$/)
    } finally {
      writeFileSync(module, original)
    }
  })

  test('winston in a bundled app (esbuild, one file): the worker\'s module is not on disk; the engine runs on the app\'s thread, said once, every record arrives', async () => {
    writeFileSync(join(dir, 'bundle-entry.cjs'), `
      const { once } = require('node:events')
      const winston = require('winston')
      const { WebSocketTransport } = require('pino-websocket/winston')
      const transport = new WebSocketTransport({ port: Number(process.env.PORT), wireFormat: 'json_lines' })
      const logger = winston.createLogger({ transports: [transport] })
      for (let seq = 0; seq < 10; seq++) logger.info('x', { seq, from: 'bundle' })
      logger.end()
      once(transport, 'finish').then(() => process.stdout.write(JSON.stringify(transport.stats())))
    `)
    const outfile = join(dir, 'bundled', 'app.cjs')
    await build({ entryPoints: [join(dir, 'bundle-entry.cjs')], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'silent' })
    const { stdout, stderr } = await run(process.execPath, [outfile], { cwd: dir, env: { ...process.env, PORT: String(server.port) } })
    assert.equal((JSON.parse(stdout) as { delivered: number }).delivered, 10)
    assert.deepEqual(server.events.filter((e) => e.record.from === 'bundle').map((e) => e.record.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    const lines = stderr.split('\n').filter((line) => line.includes('[PINO_WS_WARN_WORKER_FAILED]'))
    assert.equal(lines.length, 1, stderr)
    assert.ok(lines[0].includes(`the worker thread's module ${join(dir, 'bundled', 'pino.js')} is not on disk (a bundled app?)`), lines[0])
  })
})
