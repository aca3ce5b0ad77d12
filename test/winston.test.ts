import assert from 'node:assert/strict'
import { once } from 'node:events'
import { Socket } from 'node:net'
import { describe, test } from 'node:test'
import winston from 'winston'
import { InvalidOptionError } from '../src/index.js'
import { WebSocketTransport } from '../src/winston.js'
import pino from 'pino'
import type { Format, PinoWebSocketStream, Stats } from '../src/index.js'
import { freePort, range, startServer, waitFor, type TestServer } from './helpers.js'

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
      assert.deepEqual(transport.stats().dropped, { overflow: 0, oversized: 0, unencodable: 0, refused: 0, shutdown: 0, unwritable: 0, damaged: 0 })
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
      // As for any winston transport, the final text is what goes out: a field added
      // after the logger's json() shows only once a json() runs again.
      format: winston.format.combine(winston.format((info) => ({ ...info, tagged: true }))(), winston.format.json())
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

  /** A logger with one transport to a fresh server; resolves with the server once the transport finished. */
  async function logThrough (wireFormat: Format, format: winston.Logform.Format, log: (logger: winston.Logger) => void): Promise<TestServer & { stats: Stats }> {
    const server = await startServer({ format: wireFormat })
    const transport = new WebSocketTransport({ port: server.port, wireFormat })
    const logger = winston.createLogger({ format, transports: [transport] })
    log(logger)
    logger.end()
    await once(transport, 'finish')
    await server.close()
    return Object.assign(server, { stats: transport.stats() })
  }

  const FORMATS = ['json_lines', 'msgpack', 'gelf'] as const
  const field = (format: Format, record: Record<string, unknown>, key: string): unknown => record[format === 'gelf' ? `_${key}` : key]

  test('the wire carries what the format pipeline made: a redacting json({ replacer }) keeps the secret off the wire', async () => {
    const redact = (key: string, value: unknown): unknown => key === 'password' ? '[REDACTED]' : value
    for (const wireFormat of FORMATS) {
      const server = await logThrough(wireFormat, winston.format.combine(winston.format.timestamp(), winston.format.json({ replacer: redact })), (logger) => {
        logger.info('login', { user: 'ann', password: 'hunter2', seq: 1 })
      })
      assert.ok(server.messages.every((m) => !m.data.includes('hunter2')), wireFormat)
      assert.equal(field(wireFormat, server.events[0].record, 'password'), '[REDACTED]', wireFormat)
      assert.equal(field(wireFormat, server.events[0].record, 'user'), 'ann', wireFormat)
    }
  })

  test('records winston serializes arrive: BigInt as its digits, a circular reference as "[Circular]"', async () => {
    for (const wireFormat of FORMATS) {
      const circular: Record<string, unknown> = { name: 'loop' }
      circular.self = circular
      const server = await logThrough(wireFormat, winston.format.combine(winston.format.timestamp(), winston.format.json()), (logger) => {
        logger.info('big', { seq: 0, big: 12345678901234567890n })
        logger.info('circular', { seq: 1, circular })
        logger.info('plain', { seq: 2 })
      })
      assert.deepEqual(server.stats.dropped, { overflow: 0, oversized: 0, unencodable: 0, refused: 0, shutdown: 0, unwritable: 0, damaged: 0 }, wireFormat)
      const records = server.events.map((e) => e.record)
      assert.equal(records.length, 3, wireFormat)
      assert.equal(field(wireFormat, records[0], 'big'), '12345678901234567890', wireFormat)
      if (wireFormat === 'gelf') assert.equal(records[1]._circular_self, '[Circular]')
      else assert.deepEqual(records[1].circular, { name: 'loop', self: '[Circular]' }, wireFormat)
    }
    // Without a JSON format the transport serializes the record the same way.
    const server = await logThrough('json_lines', winston.format.simple(), (logger) => {
      const loop: Record<string, unknown> = {}
      loop.loop = loop
      logger.info('no json format', { big: 1n, loop })
    })
    assert.equal(server.events[0].record.big, '1')
    assert.deepEqual(server.events[0].record.loop, { loop: '[Circular]' })
  })

  test('colorize() changes nothing on the wire: plain levels, GELF level, no escape codes', async () => {
    const pipelines = [
      winston.format.combine(winston.format.colorize({ all: true }), winston.format.json()),
      winston.format.combine(winston.format.colorize(), winston.format.simple())
    ]
    for (const pipeline of pipelines) {
      for (const wireFormat of FORMATS) {
        const server = await logThrough(wireFormat, pipeline, (logger) => logger.warn('careful', { seq: 1 }))
        // msgpack is binary (an EventTime may hold the byte 0x1b): its decoded strings are checked.
        const text = wireFormat === 'msgpack' ? JSON.stringify(server.events) : server.messages.map((m) => m.data.toString()).join('')
        assert.ok(!text.includes('\x1b') && !text.includes('\\u001b'), `${wireFormat}: ${text}`)
        const [record] = server.events.map((e) => e.record)
        if (wireFormat === 'gelf') {
          assert.equal(record.level, 4)
          assert.equal(record._level, undefined)
        } else {
          assert.equal(record.level, 'warn', wireFormat)
        }
      }
    }
  })

  test('a printf or simple format\'s text is the message sent; the fields go beside it', async () => {
    const printf = winston.format.printf((info) => `${String(info.level).toUpperCase()} ${String(info.message)} #${String(info.seq)}`)
    for (const wireFormat of FORMATS) {
      const server = await logThrough(wireFormat, printf, (logger) => logger.error('disk full', { seq: 7 }))
      const [record] = server.events.map((e) => e.record)
      assert.equal(wireFormat === 'gelf' ? record.short_message : record.message, 'ERROR disk full #7', wireFormat)
      assert.equal(field(wireFormat, record, 'seq'), 7, wireFormat)
    }
    const server = await logThrough('json_lines', winston.format.simple(), (logger) => logger.info('hello', { seq: 1 }))
    assert.equal(server.events[0].record.message, 'info: hello {"seq":1}')
    // json({ space }) text goes out on one line.
    const spaced = await logThrough('json_lines', winston.format.json({ space: 2 }), (logger) => logger.info('spaced', { seq: 2 }))
    assert.equal(spaced.messages[0].data.toString().split('\n').length, 2)
    assert.equal(spaced.events[0].record.seq, 2)
    // Text that only looks like a JSON object goes as a record's message, in every format.
    for (const wireFormat of FORMATS) {
      const braces = await logThrough(wireFormat, winston.format.printf((info) => `{${String(info.level)}: ${String(info.message)}}`), (logger) => logger.warn('odd'))
      const [record] = braces.events.map((e) => e.record)
      assert.equal(wireFormat === 'gelf' ? record.short_message : record.message, '{warn: odd}', wireFormat)
      assert.equal(braces.stats.delivered, 1)
    }
  })

  test('a lone surrogate in winston\'s JSON text becomes U+FFFD in every format', async () => {
    for (const wireFormat of FORMATS) {
      const server = await logThrough(wireFormat, winston.format.json(), (logger) => logger.info('cut 😀'.slice(0, 5), { seq: 0 }))
      const [record] = server.events.map((e) => e.record)
      assert.equal(wireFormat === 'gelf' ? record.short_message : record.message, 'cut \ufffd', wireFormat)
    }
  })

  test('a lone surrogate becomes U+FFFD, the record arrives; a throwing toJSON drops that record alone', async () => {
    // No format of winston's: its json() would throw on that toJSON itself.
    const server = await logThrough('json_lines', winston.format((info) => info)(), (logger) => {
      logger.info('cut 😀'.slice(0, 5), { seq: 0 })
      logger.info('bad', { seq: 1, bad: { toJSON () { throw new Error('no') } } })
      logger.info('fine', { seq: 2 })
    })
    assert.deepEqual(server.events.map((e) => e.record.seq), [0, 2])
    assert.equal(server.events[0].record.message, 'cut \ufffd')
    assert.equal(server.stats.dropped.unencodable, 1)
    assert.equal(server.stats.accepted, 3)
  })

  test('events are typed, on the winston transport and on pino\'s stream (checked by npm run typecheck)', () => {
    const transport = new WebSocketTransport({ port: 1, quiet: true })
    const seen: string[] = []
    transport.on('drop', ({ reason, count }) => seen.push(`${reason} ${count}`))
    // @ts-expect-error a misspelt payload field does not compile
    transport.on('drop', (drop) => drop.reasonnn)
    // @ts-expect-error nor does an event the transport never emits
    transport.once('dropped', () => {})
    transport.emit('drop', { reason: 'overflow', count: 2 })
    transport.close()
    assert.deepEqual(seen, ['overflow 2'])
    // Compiled, not run (it would start a worker): pino's stream, typed.
    const typedPinoStream = (): void => {
      const stream: PinoWebSocketStream = pino.transport({ target: 'pino-websocket', options: { port: 1 } })
      stream.on('stats', ({ delivered }) => seen.push(String(delivered)))
      // @ts-expect-error the stats payload has no such field
      stream.on('stats', (stats) => stats.deliverd)
    }
    assert.equal(typeof typedPinoStream, 'function')
  })

  test('a wire format given as `format` is refused with a pointer to wireFormat', () => {
    assert.throws(() => new WebSocketTransport({ format: 'json' } as never), (error: InvalidOptionError) =>
      error.code === 'PINO_WS_ERR_INVALID_OPTION' && /`format` to be a winston format \(the wire format is `wireFormat`\)/.test(error.message))
  })

  test('bad options throw at construction', () => {
    assert.throws(() => new WebSocketTransport({ port: 'eighty' }), /expected `port` to be an integer 1-65535, got `"eighty"` \(string\)/)
  })
})

describe('winston: the engine in a worker thread', () => {
  for (const worker of [true, false]) {
    test(`worker: ${String(worker)}: the connection is made ${worker ? 'in the worker, not on the app\'s thread' : 'on the app\'s thread'}; records and events arrive all the same`, async (t) => {
      const server = await startServer({ format: 'json_lines' })
      // Sockets connected by this thread (a worker has its own \`net\`).
      let connects = 0
      const connect = Socket.prototype.connect
      Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
        connects++
        return (connect as (...a: unknown[]) => Socket).apply(this, args)
      } as typeof connect
      t.after(() => { Socket.prototype.connect = connect })
      const transport = new WebSocketTransport({ port: server.port, wireFormat: 'json_lines', worker })
      const opened = once(transport, 'open')
      const logger = winston.createLogger({ transports: [transport] })
      for (const seq of range(20)) logger.info('x', { seq })
      const [{ endpoint }] = await opened as [{ endpoint: string }]
      assert.equal(endpoint, server.url)
      await transport.flush()
      assert.equal(connects, worker ? 0 : 1)
      logger.end()
      await once(transport, 'finish')
      assert.deepEqual(server.events.map((e) => e.record.seq), range(20))
      assert.equal(transport.stats().delivered, 20)
      await server.close()
    })
  }

  test('stats(): records logged and not yet reported are pending; the worker reports while counters change; exact after flush()', async () => {
    const server = await startServer({ format: 'json_lines' })
    const transport = new WebSocketTransport({ port: server.port, wireFormat: 'json_lines' })
    const logger = winston.createLogger({ transports: [transport] })
    await once(transport, 'open')
    for (const seq of range(100)) logger.info('x', { seq })
    const early = transport.stats()
    assert.equal(early.accepted, 100)
    assert.equal(early.accepted, early.delivered + early.pending + Object.values(early.dropped).reduce((a, b) => a + b, 0))
    assert.ok(early.pending > 0, 'what the worker has not reported is pending')
    // No flush: the worker's own reports bring the counters up.
    await waitFor(() => transport.stats().delivered === 100, 'the worker to report 100 delivered')
    for (const seq of range(50)) logger.info('y', { seq: 100 + seq })
    await transport.flush()
    const stats = transport.stats()
    assert.equal(stats.accepted, 150)
    assert.equal(stats.delivered, 150)
    assert.equal(stats.pending, 0)
    logger.end()
    await once(transport, 'finish')
    await server.close()
  })

  test('a worker that falls behind: past maxQueueBytes waiting on the app\'s thread, records are dropped as they come (overflow), counted, said in one event; the rest arrive in order', async () => {
    const server = await startServer({ format: 'json_lines' })
    const transport = new WebSocketTransport({ port: server.port, wireFormat: 'json_lines', maxQueueBytes: 1024 * 1024, quiet: true })
    const drops: Array<{ reason: string, count: number, error?: string }> = []
    transport.on('drop', (drop) => drops.push(drop))
    const logger = winston.createLogger({ transports: [transport] })
    await once(transport, 'open')
    // One synchronous burst of ~10 MB: thread-stream hands the worker nothing until the turn ends.
    const text = 'x'.repeat(200)
    for (const seq of range(40_000)) logger.info(text, { seq })
    await transport.flush()
    const here = drops.filter((drop) => drop.error?.includes('the worker thread fell more than maxQueueBytes (1048576 bytes) behind the app') === true)
    assert.equal(here.length, 1, JSON.stringify(drops))
    assert.ok(here[0].count > 0 && here[0].reason === 'overflow')
    const stats = transport.stats()
    assert.equal(stats.accepted, 40_000)
    assert.equal(stats.delivered + stats.dropped.overflow, 40_000)
    assert.equal(stats.dropped.overflow, drops.reduce((sum, drop) => sum + drop.count, 0))
    const seqs = server.events.map((e) => e.record.seq as number)
    assert.equal(seqs.length, stats.delivered)
    assert.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]), 'in order, once each')
    logger.end()
    await once(transport, 'finish')
    await server.close()
  })

  test('`worker` must be a boolean', () => {
    assert.throws(() => new WebSocketTransport({ port: 1, worker: 'yes' as unknown as boolean }), (error: Error) =>
      error instanceof InvalidOptionError && /expected `worker` to be a boolean, got `"yes"`/.test(error.message))
  })
})
