import type { Format, ResolvedOptions } from '../options.js'
import type { EventTime } from './dates.js'
import { createJsonRecordEncoder } from './json.js'
import { createMsgpackRecordEncoder } from './msgpack.js'

export type { EventTime } from './dates.js'

/** One log record and its time. */
export interface LogEvent {
  time: EventTime
  record: Record<string, unknown>
  /** Fluent Bit log metadata: the header map in msgpack, `__internal__.log_metadata` in JSON. */
  metadata?: Record<string, unknown>
}

/** One WebSocket message: a text frame for the JSON formats, a binary frame for msgpack. */
export interface Message {
  binary: boolean
  data: Buffer
}

/** Why a record was not sent. */
export type DropReason = 'overflow' | 'oversized' | 'unencodable' | 'shutdown'

/** The encoder options: the wire part of {@link ResolvedOptions}. */
export type EncoderOptions = Pick<ResolvedOptions, 'format' | 'jsonDateKey' | 'jsonDateFormat' | 'maxMessageBytes'>

/**
 * Turns events into WebSocket messages. Records are encoded one by one (so a bad
 * record is found alone and the byte size of each is known), then joined into
 * messages of at most `maxMessageBytes`.
 */
export interface Encoder {
  readonly format: Format
  /** Messages of this format go in binary frames. */
  readonly binary: boolean
  /** Bytes a message adds to its records: JSON's `[` and `]` less one separator. */
  readonly overhead: number
  /** Bytes added between records: JSON's `,`. */
  readonly separator: number
  /** A record's bytes as they go into a message; throws when the record cannot be encoded. */
  encodeRecord (event: LogEvent): Buffer
  /** One message from encoded records, in order. */
  frame (records: readonly Buffer[]): Buffer
  /**
   * Messages for these events, split so none exceeds `maxMessageBytes`. Records
   * that cannot be encoded or are too large on their own are left out and reported
   * to `onDrop`.
   */
  encode (events: Iterable<LogEvent>, onDrop?: (reason: DropReason, event: LogEvent, error?: Error) => void): Message[]
}

const OPEN_BRACKET = Buffer.from('[')
const CLOSE_BRACKET = Buffer.from(']')
const COMMA = Buffer.from(',')
const NEWLINE = 0x0a

/** Create the encoder for a wire format; options are resolved with {@link resolveOptions} when given raw. */
export function createEncoder (options: Partial<EncoderOptions> = {}): Encoder {
  const format = options.format ?? 'msgpack'
  const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024
  const isJsonArray = format === 'json'
  let encodeRecord: (event: LogEvent) => Buffer

  if (format === 'msgpack') {
    const encodeMsgpack = createMsgpackRecordEncoder()
    encodeRecord = (event) => encodeMsgpack(event.time, event.record, event.metadata)
  } else if (format === 'gelf') {
    throw new RangeError('pino-websocket: the gelf format is not implemented yet')
  } else {
    const encodeJson = createJsonRecordEncoder(options.jsonDateKey ?? 'date', options.jsonDateFormat ?? 'double')
    const newline = format === 'json_lines'
    encodeRecord = (event) => {
      const text = encodeJson(event.time, event.record, event.metadata)
      if (!newline) return Buffer.from(text)
      const bytes = Buffer.byteLength(text)
      const out = Buffer.allocUnsafe(bytes + 1)
      out.write(text, 0, bytes)
      out[bytes] = NEWLINE
      return out
    }
  }

  const separator = isJsonArray ? 1 : 0
  const overhead = isJsonArray ? 1 : 0

  function frame (records: readonly Buffer[]): Buffer {
    if (!isJsonArray) return records.length === 1 ? records[0] : Buffer.concat(records)
    const parts: Buffer[] = [OPEN_BRACKET]
    for (let i = 0; i < records.length; i++) {
      if (i > 0) parts.push(COMMA)
      parts.push(records[i])
    }
    parts.push(CLOSE_BRACKET)
    return Buffer.concat(parts)
  }

  return {
    format,
    binary: format === 'msgpack',
    overhead,
    separator,
    encodeRecord,
    frame,
    encode (events, onDrop) {
      const messages: Message[] = []
      let batch: Buffer[] = []
      let bytes = overhead
      const flush = (): void => {
        if (batch.length > 0) messages.push({ binary: format === 'msgpack', data: frame(batch) })
        batch = []
        bytes = overhead
      }
      for (const event of events) {
        let record: Buffer
        try {
          record = encodeRecord(event)
        } catch (error) {
          onDrop?.('unencodable', event, error as Error)
          continue
        }
        const cost = record.length + separator
        if (cost + overhead > maxMessageBytes) {
          onDrop?.('oversized', event)
          continue
        }
        if (bytes + cost > maxMessageBytes) flush()
        batch.push(record)
        bytes += cost
      }
      flush()
      return messages
    }
  }
}
