import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import winston from 'winston'
import { InvalidOptionError, WebSocketTransport } from '../src/index.js'
import { freePort, range, startServer, waitFor } from './helpers.js'

describe('winston transport', () => {
  for (const wireFormat of ['json_lines', 'msgpack'] as const) {
    test(`1000 records arrive in order in ${wireFormat}; 'finish' only after the server has all of them`, async () => {
      const server = await startServer({ format: wireFormat })
      const transport = new WebSocketTransport({ port: server.port, wireFormat })
      const logger = winston.createLogger({ format: winston.format.combine(winston.format.timestamp(), winston.format.json()), transports: [transport] })
      for (const seq of range(1000)) logger.info(`record ${seq}`, { seq })
      const finished = once(transport, 'finish').then(() => server.events.length)
      logger.end()
      assert.equal(await finished, 1000, 'every record was on the server when finish fired')
      assert.deepEqual(server.events.map((e) => e.record.seq), range(1000))
      const { time, record } = server.events[0]
      assert.deepEqual(Object.keys(record).sort(), ['level', 'message', 'seq', 'timestamp'])
      assert.equal(record.level, 'info')
      assert.equal(record.message, 'record 0')
      assert.equal(time.sec * 1000 + time.nsec / 1e6, Date.parse(record.timestamp as string), 'event time is the timestamp')
      assert.deepEqual(transport.stats().dropped, { overflow: 0, oversized: 0, unencodable: 0, shutdown: 0 })
      assert.equal(transport.stats().delivered, 1000)
      await server.close()
    })
  }

  test('every wire format arrives through winston and decodes', async () => {
    for (const wireFormat of ['json', 'json_stream', 'json_lines', 'msgpack', 'gelf'] as const) {
      const server = await startServer({ format: wireFormat })
      const transport = new WebSocketTransport({ port: server.port, wireFormat })
      const logger = winston.createLogger({ transports: [transport] })
      for (const seq of range(50)) logger.warn(`message ${seq}`, { seq, user: { id: seq } })
      logger.end()
      await once(transport, 'finish')
      const records = server.events.map((e) => e.record)
      if (wireFormat === 'gelf') {
        assert.deepEqual(records.map((r) => r._seq), range(50))
        assert.deepEqual(records[3], { version: '1.1', host: records[3].host, short_message: 'message 3', level: 4, _seq: 3, _user_id: 3 })
      } else {
        assert.deepEqual(records.map((r) => r.seq), range(50), wireFormat)
        assert.deepEqual(records[3], { level: 'warn', message: 'message 3', seq: 3, user: { id: 3 } }, wireFormat)
      }
      await server.close()
    }
  })

  test('honours level, silent and its own format; log() calls back and emits logged', async () => {
    const server = await startServer({ format: 'json' })
    const transport = new WebSocketTransport({
      port: server.port,
      wireFormat: 'json',
      level: 'warn',
      format: winston.format((info) => ({ ...info, tagged: true }))()
    })
    const logged = once(transport, 'logged')
    const logger = winston.createLogger({ level: 'debug', transports: [transport] })
    logger.info('below the transport level', { seq: -1 })
    logger.warn('kept', { seq: 0 })
    logger.error('kept too', { seq: 1 })
    const [info] = await logged as [{ message: string }]
    assert.equal(info.message, 'kept')
    await transport.flush()
    assert.deepEqual(server.events.map((e) => [e.record.seq, e.record.tagged]), [[0, true], [1, true]])
    transport.silent = true
    logger.error('silenced', { seq: 2 })
    logger.end()
    await once(transport, 'finish')
    assert.equal(server.events.length, 2)
    await server.close()
  })

  test('server down at start and up 2 s later: every record arrives, winston sees no error', async () => {
    const port = await freePort()
    // No 'error' listener on logger or transport: an 'error' would crash the process.
    const transport = new WebSocketTransport({ port, wireFormat: 'json_lines', reconnectDelay: 50, maxReconnectDelay: 300 })
    const logger = winston.createLogger({ transports: [transport] })
    for (const seq of range(50)) logger.info('before', { seq })
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const server = await startServer({ port, format: 'json_lines' })
    for (const seq of range(50).map((i) => i + 50)) logger.info('after', { seq })
    const finished = once(transport, 'finish')
    logger.end()
    await finished
    assert.deepEqual(server.events.map((e) => e.record.seq), range(100))
    await server.close()
  })

  test('logger.close() closes the connection', async () => {
    const server = await startServer()
    const transport = new WebSocketTransport({ port: server.port })
    const logger = winston.createLogger({ transports: [transport] })
    logger.info('one', { seq: 0 })
    await transport.flush()
    logger.close()
    await waitFor(() => server.sockets.size === 0, 'the socket to close')
    assert.equal(server.events.length, 1)
    await server.close()
  })

  test('a wire format given as `format` is refused with a pointer to wireFormat', () => {
    assert.throws(() => new WebSocketTransport({ format: 'json' } as never), (error: InvalidOptionError) =>
      error.code === 'PINO_WS_ERR_INVALID_OPTION' && /`format` to be a winston format \(the wire format is `wireFormat`\)/.test(error.message))
  })

  test('bad options throw at construction', () => {
    assert.throws(() => new WebSocketTransport({ port: 'eighty' }), /expected `port` to be an integer 1-65535, got `"eighty"` \(string\)/)
  })
})
