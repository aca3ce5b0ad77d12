import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { UsageError } from './cli-options.js'
import { decodeMessage, type DecodeOptions } from './encoders/decode.js'
import type { LogEvent } from './encoders/index.js'
import { resolveEncoderOptions } from './options.js'

/**
 * The record in pino's shape: the event time as `time` (epoch ms) when the record
 * has no `time` of its own (Fluent Bit's records, a custom date key), so
 * `| pino-pretty` shows it.
 */
function withTime ({ time, record }: LogEvent): Record<string, unknown> {
  if (Object.hasOwn(record, 'time')) return record
  return { time: time.sec * 1000 + Math.floor(time.nsec / 1e6), ...record }
}

const FORMATS = ['auto', 'msgpack', 'json', 'json_stream', 'json_lines', 'gelf'] as const

/**
 * `pino-websocket receive`: a server for checking a setup. It prints each
 * record it decodes as one JSON line (the record as the app logged it, so
 * `| pino-pretty` reads it), or with `--events` as `{"time","record"}`. What a
 * client sends never stops it: a message it cannot decode closes that
 * connection (1007) and is counted; a frame that breaks the protocol closes that
 * connection too. Text frames are not checked for UTF-8, since Fluent Bit sends
 * msgpack in them. Resolves with the exit code after SIGINT or SIGTERM, having
 * printed a summary on stderr.
 * @throws {UsageError} for a bad flag or a port it cannot listen on
 */
export async function receive (options: Record<string, unknown>, events: boolean): Promise<number> {
  const { host, port, decode } = receiveOptions(options)
  const say = (text: string): void => { process.stderr.write(`pino-websocket: ${text}\n`) }
  const totals = { connections: 0, messages: 0, records: 0, bytes: 0, undecodable: 0 }
  const server = new WebSocketServer({ host, port, skipUTF8Validation: true })
  try {
    await once(server, 'listening')
  } catch (error) {
    throw new UsageError(`pino-websocket: cannot listen on ${host}:${port}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  server.on('error', (error) => say(`server error: ${error.message}`))
  // A reader that went away (`| head`) ends the run, as for any filter.
  process.stdout.on('error', () => process.kill(process.pid, 'SIGTERM'))

  server.on('connection', (socket, request) => {
    totals.connections++
    const peer = `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`
    // ws closes the connection on a protocol error (1002) and reports it here.
    socket.on('error', (error) => say(`connection from ${peer} closed: ${error.message}`))
    socket.on('message', (data: Buffer) => {
      totals.messages++
      totals.bytes += data.length
      let decoded: LogEvent[]
      try {
        decoded = decodeMessage(data, decode)
      } catch (error) {
        totals.undecodable++
        say(`undecodable message from ${peer} (${data.length} bytes): ${(error as Error).message}; closing that connection`)
        socket.close(1007, 'undecodable message')
        return
      }
      totals.records += decoded.length
      let text = ''
      for (const event of decoded) text += line(events ? event : withTime(event)) + '\n'
      process.stdout.write(text)
    })
  })
  const address = server.address() as AddressInfo
  say(`listening on ws://${host.includes(':') ? `[${host}]` : host}:${address.port}/`)

  await new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  for (const client of server.clients) client.terminate()
  server.close()
  say(`received ${totals.records} record(s) in ${totals.messages} message(s), ${totals.bytes} bytes, on ${totals.connections} connection(s)` +
    (totals.undecodable > 0 ? `; ${totals.undecodable} undecodable message(s)` : ''))
  return 0
}

/** JSON text of a decoded value; a 64-bit integer from msgpack goes as its digits. */
function line (value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => typeof item === 'bigint' ? item.toString() : item)
}

/** receive's flags, checked: the sender's format and date options, where to listen. */
function receiveOptions (options: Record<string, unknown>): { host: string, port: number, decode: DecodeOptions } {
  const host = options.host === undefined ? '127.0.0.1' : String(options.host)
  const portText = options.port === undefined ? '8080' : String(options.port)
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`pino-websocket: --port must be an integer 0-65535 (0: any free port), got ${JSON.stringify(portText)}`)
  const format = options.format === undefined ? 'auto' : String(options.format).toLowerCase()
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`pino-websocket: --format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(options.format)}`)
  // The date options, checked as the sender's are.
  const { jsonDateKey, jsonDateFormat } = resolveEncoderOptions({ jsonDateKey: options.jsonDateKey, jsonDateFormat: options.jsonDateFormat } as Record<string, unknown>)
  return { host, port, decode: { format: format as DecodeOptions['format'], jsonDateKey, jsonDateFormat } }
}
