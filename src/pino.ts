import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import build from 'pino-abstract-transport'
import { Connection, type ConnectionEvents } from './connection.js'
import { timeFromMillis, timeOf } from './encoders/dates.js'
import { resolveOptions, type Options } from './options.js'

/** The start of a line pino wrote with its default settings, capturing `time` (epoch ms). */
const PINO_TIME = /^\{"level":(?:\d+|"[^"\\]*"),"time":(\d{1,16})[,}]/

const LINE_PARSED_BY_US = Object.freeze({})

const EVENTS: ReadonlyArray<keyof ConnectionEvents> = ['open', 'disconnect', 'reconnecting', 'drop', 'warn']

/**
 * The pino transport: `pino({ transport: { target: 'pino-websocket', options } })`.
 * Runs in pino's worker thread; its events (`open`, `disconnect`, `reconnecting`,
 * `drop`, `warn`, `stats`) are re-emitted on the stream `pino.transport()` returns.
 * @throws {InvalidOptionError} when an option is wrong
 */
export default async function pinoWebSocket (options: Options = {}): Promise<ReturnType<typeof build>> {
  const resolved = resolveOptions(options)
  const emit = eventForwarder()
  let connection: Connection | undefined
  const emitStats = (): void => { if (connection !== undefined) emit('stats', connection.stats()) }

  // Ask for pino's config (messageKey, levels) only when pino will send it:
  // otherwise pino-abstract-transport reports an incompatible pino.
  const expectPinoConfig = (workerData as { workerData?: { pinoWillSendConfig?: boolean } } | null)?.workerData?.pinoWillSendConfig === true
  const stream = await build(function (source) {
    // pino's messageKey is GELF's short_message unless the options name another key.
    const messageKey = (source as { messageKey?: string }).messageKey
    connection = new Connection(resolved.gelfShortMessageKey === undefined && typeof messageKey === 'string' && messageKey !== 'msg'
      ? { ...resolved, gelfShortMessageKey: messageKey }
      : resolved)
    for (const name of EVENTS) connection.on(name, (payload: unknown) => emit(name, payload))
    const conn = connection
    // A 'data' listener moves each line into our queue as soon as pino's worker
    // writes it, so pino's ring buffer keeps draining while we are offline.
    source.on('data', (line: string) => {
      if (line === '') return
      // pino's own lines start {"level":…,"time":…: the time is read from there and
      // the JSON formats splice the line as it is. Other shapes are parsed here.
      const match = PINO_TIME.exec(line)
      if (match !== null) {
        conn.write({ time: timeFromMillis(Number(match[1])), json: line })
        return
      }
      let record: unknown
      try {
        record = JSON.parse(line)
      } catch {
        // Not JSON: the encoder fails on it too, and counts it as unencodable.
        conn.write({ time: timeFromMillis(Date.now()), json: line })
        return
      }
      const time = timeOf((record as { time?: unknown } | null)?.time)
      if (record !== null && typeof record === 'object' && !Array.isArray(record)) conn.write({ time, record: record as Record<string, unknown> })
      else conn.write({ time, json: line })
    })
  }, {
    expectPinoConfig,
    // Lines come as text: the JSON formats need no parse at all (see above). An
    // object from parseLine keeps pino-abstract-transport from parsing the line
    // or wrapping it in a new object; with parse: 'lines' it hands on the line.
    parse: 'lines',
    parseLine: () => LINE_PARSED_BY_US,
    async close () {
      await connection?.close()
      emitStats()
    }
  })

  // thread-stream calls this on logger.flush(cb) (its worker awaits a one-argument flush).
  Object.defineProperty(stream, 'flush', {
    value: function flush (callback: (error?: Error) => void): void {
      void (async () => {
        // Lines pino handed over may still wait in the parser's buffer.
        while (stream.readableLength > 0 && !stream.destroyed) await new Promise(setImmediate)
        await connection?.flush()
        emitStats()
        callback()
      })()
    }
  })
  return stream
}

/**
 * Sends an event to the main thread, where thread-stream emits it on the stream
 * that `pino.transport()` returned. Outside a worker, it does nothing.
 */
function eventForwarder (): (name: string, payload: unknown) => void {
  const port = isMainThread ? null : parentPort
  if (port === null) return () => {}
  return (name, payload) => port.postMessage({ code: 'EVENT', name, args: [payload] })
}
