import { ExtensionCodec, decodeMulti } from '@msgpack/msgpack'
import type { DateFormat, Format } from '../options.js'
import { timeFromMillis, type EventTime } from './dates.js'
import type { LogEvent } from './index.js'

/** How to read a message: its format (or `auto`) and, for JSON, where the date is. */
export interface DecodeOptions {
  /** Wire format of the message; `auto` tells JSON array, stream, lines, GELF and msgpack apart. @default 'auto' */
  format?: Format | 'auto'
  /** Key the sender put the date under; `false` when it sent none. @default 'date' */
  jsonDateKey?: string | false
  /** How the sender rendered numeric dates (string dates are parsed as they come). @default 'double' */
  jsonDateFormat?: DateFormat
}

// Fluent Bit's EventTime: ext type 0, seconds then nanoseconds as big-endian uint32.
const extensionCodec = new ExtensionCodec()
extensionCodec.register({
  type: 0,
  encode: () => null,
  decode: (data: Uint8Array): EventTime => {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    return { sec: view.getUint32(0), nsec: view.getUint32(4) }
  }
})

/**
 * The events in one message as sent by pino-websocket or Fluent Bit's websocket
 * output. For JSON formats the date key is taken out of each record and becomes
 * the event time; a record without it gets the time of decoding.
 * @example
 * ws.on('message', (data) => { for (const { time, record } of decodeMessage(data)) … })
 */
export function decodeMessage (data: Buffer | ArrayBuffer | Uint8Array | string | Buffer[], options: DecodeOptions = {}): LogEvent[] {
  const bytes = toBuffer(data)
  let format = options.format ?? 'auto'
  const detected = format === 'auto'
  if (detected) format = detect(bytes)
  if (format === 'msgpack') return decodeMsgpack(bytes)
  const dateKey = options.jsonDateKey ?? 'date'
  const dateFormat = options.jsonDateFormat ?? 'double'
  const text = bytes.toString('utf8')
  let records: unknown[]
  if (format === 'json') {
    records = JSON.parse(text) as unknown[]
    if (!Array.isArray(records)) throw new TypeError('pino-websocket: a json message must be an array')
  } else if (format === 'json_stream') {
    records = splitJsonStream(text).map((part) => JSON.parse(part) as unknown)
  } else {
    records = text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown)
    if (format === 'gelf' || (detected && isGelf(records[0]))) {
      return records.map(fromGelf)
    }
  }
  return records.map((record) => toEvent(record, dateKey, dateFormat))
}

function toBuffer (data: Buffer | ArrayBuffer | Uint8Array | string | Buffer[]): Buffer {
  if (typeof data === 'string') return Buffer.from(data)
  if (Array.isArray(data)) return Buffer.concat(data)
  if (Buffer.isBuffer(data)) return data
  if (data instanceof ArrayBuffer) return Buffer.from(data)
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

function detect (bytes: Buffer): Format {
  let i = 0
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++
  if (bytes[i] === 0x5b /* [ */) return 'json'
  if (bytes[i] !== 0x7b /* { */) return 'msgpack'
  // Several objects: lines when a newline follows an object's end, else a stream.
  return /}\s*\n\s*{/.test(bytes.toString('utf8')) || !/}\s*{/.test(bytes.toString('utf8')) ? 'json_lines' : 'json_stream'
}

/** Split `{…}{…}` at the end of each top-level value, minding strings and escapes. */
function splitJsonStream (text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let start = -1
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x7b || c === 0x5b) {
      if (depth++ === 0) start = i
    } else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) parts.push(text.slice(start, i + 1))
    }
  }
  if (depth !== 0 || inString) throw new SyntaxError('pino-websocket: a json_stream message ends inside a value')
  return parts
}

function isGelf (record: unknown): boolean {
  return typeof record === 'object' && record !== null && (record as { version?: unknown }).version === '1.1' && 'short_message' in record
}

/** A GELF message: its `timestamp` (seconds) is the event time, every other field the record. */
function fromGelf (value: unknown): LogEvent {
  if (!isGelf(value)) throw new TypeError('pino-websocket: a gelf record must be a GELF 1.1 object')
  const { timestamp, ...record } = value as Record<string, unknown>
  const time = parseDate(timestamp, 'double')
  if (time === undefined) throw new TypeError(`pino-websocket: a GELF timestamp must be seconds, got ${JSON.stringify(timestamp)}`)
  return { time, record }
}

function toEvent (value: unknown, dateKey: string | false, dateFormat: DateFormat): LogEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('pino-websocket: a record must be a JSON object')
  }
  const record = value as Record<string, unknown>
  if (dateKey === false || !(dateKey in record)) return withMetadata({ time: timeFromMillis(Date.now()), record })
  const { [dateKey]: date, ...rest } = record
  const time = parseDate(date, dateFormat)
  // A record's own value under the date key (the sender kept it) may be no date at all.
  if (time === undefined) return withMetadata({ time: timeFromMillis(Date.now()), record })
  return withMetadata({ time, record: rest })
}

/** Fluent Bit's `__internal__.log_metadata` back into the event's metadata. */
function withMetadata (event: LogEvent): LogEvent {
  const internal = event.record.__internal__ as { log_metadata?: Record<string, unknown> } | undefined
  if (internal === null || typeof internal !== 'object' || typeof internal.log_metadata !== 'object') return event
  const { __internal__: _internal, ...record } = event.record
  return { time: event.time, record, metadata: internal.log_metadata }
}

function parseDate (date: unknown, format: DateFormat): EventTime | undefined {
  if (typeof date === 'number') {
    if (format === 'epoch') return { sec: date, nsec: 0 }
    if (format === 'epoch_ms') return timeFromMillis(date)
    const sec = Math.floor(date)
    return { sec, nsec: Math.round((date - sec) * 1e6) * 1000 }
  }
  if (typeof date === 'string') {
    // ISO 8601 or java_sql_timestamp (UTC, no zone), microseconds kept.
    const match = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z?$/.exec(date)
    if (match !== null) {
      return {
        sec: Date.parse(`${match[1]}T${match[2]}Z`) / 1000,
        nsec: Number((match[3] ?? '').padEnd(9, '0'))
      }
    }
  }
  return undefined
}

function decodeMsgpack (bytes: Buffer): LogEvent[] {
  const events: LogEvent[] = []
  for (const entry of decodeMulti(bytes, { extensionCodec })) {
    // [[time, metadata], record] (Fluent Bit 2.1+) or [time, record] (older forward mode).
    if (!Array.isArray(entry) || entry.length !== 2) throw new TypeError('pino-websocket: a msgpack entry must be [header, record]')
    const header = entry[0] as unknown
    const head: unknown = Array.isArray(header) ? header[0] : header
    const time = typeof head === 'number' ? { sec: head, nsec: 0 } : head as EventTime
    const metadata = Array.isArray(header) ? header[1] as Record<string, unknown> : undefined
    const event: LogEvent = { time, record: entry[1] as Record<string, unknown> }
    if (metadata !== undefined && Object.keys(metadata).length > 0) event.metadata = metadata
    events.push(event)
  }
  return events
}
