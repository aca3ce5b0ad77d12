import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import build from 'pino-abstract-transport'
import { Connection, type ConnectionEvents } from './connection.js'
import { timeFromMillis, type EventTime } from './encoders/dates.js'
import { resolveOptions, type Options } from './options.js'

const EVENTS: ReadonlyArray<keyof ConnectionEvents> = ['open', 'disconnect', 'reconnecting', 'drop', 'warn']

/**
 * The pino transport: `pino({ transport: { target: 'pino-websocket', options } })`.
 * Runs in pino's worker thread; its events (`open`, `disconnect`, `reconnecting`,
 * `drop`, `warn`, `stats`) are re-emitted on the stream `pino.transport()` returns.
 * @throws {InvalidOptionError} when an option is wrong
 */
export default async function pinoWebSocket (options: Options = {}): Promise<ReturnType<typeof build>> {
  const connection = new Connection(resolveOptions(options))
  const emit = eventForwarder()
  for (const name of EVENTS) connection.on(name, (payload: unknown) => emit(name, payload))
  const emitStats = (): void => emit('stats', connection.stats())

  // Ask for pino's config (messageKey, levels) only when pino will send it:
  // otherwise pino-abstract-transport reports an incompatible pino.
  const expectPinoConfig = (workerData as { workerData?: { pinoWillSendConfig?: boolean } } | null)?.workerData?.pinoWillSendConfig === true
  const stream = await build(function (source) {
    // A 'data' listener moves each parsed line into our queue as soon as pino's
    // worker writes it, so pino's ring buffer keeps draining while we are offline.
    source.on('data', (record: Record<string, unknown>) => {
      connection.write({ time: eventTime(record.time), record })
    })
  }, {
    expectPinoConfig,
    async close () {
      await connection.close()
      emitStats()
    }
  })

  // thread-stream calls this on logger.flush(cb) (its worker awaits a one-argument flush).
  Object.defineProperty(stream, 'flush', {
    value: function flush (callback: (error?: Error) => void): void {
      void (async () => {
        // Lines pino handed over may still wait in the parser's buffer.
        while (stream.readableLength > 0 && !stream.destroyed) await new Promise(setImmediate)
        await connection.flush()
        emitStats()
        callback()
      })()
    }
  })
  return stream
}

/** pino's `time`: epoch milliseconds by default, an ISO string with `pino.stdTimeFunctions.isoTime`. */
function eventTime (time: unknown): EventTime {
  if (typeof time === 'number' && Number.isFinite(time)) return timeFromMillis(time)
  if (typeof time === 'string') {
    const ms = Date.parse(time)
    if (!Number.isNaN(ms)) return timeFromMillis(ms)
  }
  return timeFromMillis(Date.now())
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
