import type { EncoderOptions, Format } from '../options.js'
import type { Chunk } from '../queue.js'
import { fallbackTime, timeFromEpoch, type EventTime } from './dates.js'
import { decodeMessage } from './decode.js'
import { createGelfRecordEncoder, createGelfTakeLines, createJsonToGelf } from './gelf.js'
import { createJsonRecordEncoder, hasLoneSurrogate, isJsonObject, wellFormed, wellFormedJson, type Splice } from './json.js'
import { createJsonToMsgpack, createMsgpackRecordEncoder, createMsgpackTakeLines } from './msgpack.js'
import { createTakeLines, type LineRunnerExports, type TakeLines } from './lines.js'
import { SPLICE_WASM } from './splice-wasm.js'
import { instantiate } from './wasm.js'

export type { EventTime } from './dates.js'

/** One log record and its time. */
export interface LogEvent {
  time: EventTime
  record: Record<string, unknown>
  /** Fluent Bit log metadata: the header map in msgpack, `__internal__.log_metadata` in JSON. */
  metadata?: Record<string, unknown>
}

/**
 * A record that is already one JSON object's text, such as a line pino wrote.
 * The JSON formats splice the date key into it instead of parsing and
 * serializing it again; msgpack and GELF parse it.
 */
export interface JsonEvent {
  time: EventTime
  json: string
  /** The text parsed, when the caller already has it: msgpack and GELF use it instead of parsing again. */
  record?: Record<string, unknown>
}

/** One WebSocket message: a text frame for the JSON formats, a binary frame for msgpack. */
export interface Message {
  binary: boolean
  data: Buffer
}

/** Why a record was not sent. */
export type DropReason = 'overflow' | 'oversized' | 'unencodable' | 'refused' | 'shutdown' | 'unwritable' | 'damaged'

/**
 * Turns events into records of a wire format, and records into messages. Records
 * are encoded one by one (so a bad record is found alone and the byte size of
 * each is known); the queue decides which records make a message.
 */
export interface Encoder {
  readonly format: Format
  /** Messages of this format go in binary frames. */
  readonly binary: boolean
  /** Bytes a message adds to its records: `json`'s `[` (its `]` takes the place of the last record's `,`). */
  readonly overhead: number
  /** The byte each record ends with: a line feed (`json_lines`, `gelf`), `json`'s comma, or none. */
  readonly terminator: number | undefined
  /** How a line of JSON is taken without a parse (spliced or transcoded); undefined: it is parsed. */
  readonly lineCodec: LineCodec | undefined
  /**
   * A record as it goes into a message: text, or bytes that stay valid only
   * until the next call (copy them). Throws when the record cannot be encoded.
   */
  encodeRecord (event: LogEvent | JsonEvent): Chunk
  /**
   * One message from encoded records, in parts that are joined in order: one of
   * them, or bytes valid until the next call (copy them to keep them).
   */
  frame (parts: readonly Buffer[]): Buffer
  /**
   * An encoded record as one NDJSON line of the fallback file, which a replay
   * (`pino-websocket --format F < file`) puts on the wire as a live run would
   * have: in the JSON formats and GELF the record as it was sent; in msgpack the
   * record as it was received, led by its event time (see FALLBACK_TIME).
   */
  fallbackLine (record: Chunk): string
}

/**
 * How a format takes a line of JSON (pino's) without parsing it. A line holding
 * one of the `needles` is never offered; `take` returns false for a line it
 * does not take, which is then parsed.
 */
export interface LineCodec {
  readonly needles: readonly Buffer[]
  /** Hand the line `line[start, end)`, whose epoch time is `epoch` (see `timeFromEpoch`), to the sink as bytes. */
  take (epoch: number, line: Buffer, start: number, end: number, sink: LineSink): boolean
  /** Take a piece of whole lines at once, handing back the lines it does not take (see {@link TakeLines}); absent: each line is offered to take(). */
  readonly takeLines?: TakeLines
  /** The same for the winston transport's lines (ndjson.ts's `headed` framing). */
  readonly takeHeadedLines?: TakeLines
}

/** What a {@link LineCodec} hands its bytes to. */
export interface LineSink {
  /** A record already encoded (a view, valid during the call). */
  pushEncoded (record: Uint8Array): void
  /** A record made of `head`, `source[start, end)` and `terminator`, copied once into the queue. */
  pushSpliced (head: Uint8Array, source: Buffer, start: number, end: number, terminator: number | undefined): void
  /** `count` records one after another in `source` from `from`, `lengths` long, `total` bytes in all, the longest `longest` (views, valid during the call). */
  pushRun (source: Uint8Array, from: number, lengths: Int32Array, count: number, total: number, longest: number): void
}

const BACKSLASH_U = Buffer.from('\\u')
const BACKSLASH = Buffer.from('\\')
const CLOSE_BRACE = 0x7d

/** The JSON formats: the line's `{` becomes the head with the date, the rest is copied as it is. */
function spliceCodec (splice: Splice, terminator: number | undefined): LineCodec {
  // Lines come in bursts that share a millisecond: the head of the last one is kept.
  let head: Buffer = Buffer.alloc(0)
  let headEpoch = -1
  // A \u escape may spell the date key or a lone surrogate: such lines are parsed.
  // The date key is looked for without its opening quote: Buffer#indexOf runs
  // memchr to the needle's first byte, and a quote opens every key and string
  // (a line the shorter needle finds without the quote is merely parsed).
  const needles = splice.datePrefix === undefined ? [BACKSLASH_U] : [BACKSLASH_U, splice.datePrefix.subarray(1)]
  const splicer = (): LineRunnerExports | undefined => {
    const exports = instantiate<LineRunnerExports & { set_terminator: (terminator: number) => void }>(SPLICE_WASM)
    exports?.set_terminator(terminator ?? -1)
    return exports
  }
  const makeHead = (epoch: number): Buffer => splice.head(timeFromEpoch(epoch))
  return {
    needles,
    // In winston's lines, colour codes (their escapes begin with `\u`) are the reader's too.
    takeLines: createTakeLines(splicer, needles, makeHead),
    takeHeadedLines: createTakeLines(splicer, needles, makeHead, true),
    take (epoch, line, start, end, sink) {
      if (end - start <= 2 || line[end - 1] !== CLOSE_BRACE) return false
      if (epoch !== headEpoch) {
        head = splice.head(timeFromEpoch(epoch))
        headEpoch = epoch
      }
      sink.pushSpliced(head, line, start + 1, end, terminator)
      return true
    }
  }
}

/**
 * msgpack and GELF: the line's bytes transcoded, with no parse. A line the
 * transcoder declines (undefined) goes the parse path, which decides what it is.
 */
function transcodeCodec (needles: readonly Buffer[], transcode: (epoch: number, line: Buffer, start: number, end: number) => Uint8Array | undefined, takeLines?: TakeLines, takeHeadedLines?: TakeLines): LineCodec {
  return {
    needles,
    takeLines,
    takeHeadedLines,
    take (epoch, line, start, end, sink) {
      const record = transcode(epoch, line, start, end)
      if (record === undefined) return false
      sink.pushEncoded(record)
      return true
    }
  }
}

/** The keys GELF 1.1 defines; any other key of a GELF message starts with `_`. */
const GELF_KEYS = new Set(['version', 'host', 'short_message', 'full_message', 'timestamp', 'level', 'facility', 'line', 'file'])

/** Whether a record is a GELF 1.1 message already: its version, host and short_message, and no key GELF would rename. */
function isGelfMessage (record: Record<string, unknown>): boolean {
  if (record.version !== '1.1' || typeof record.host !== 'string' || typeof record.short_message !== 'string') return false
  for (const key in record) if (!GELF_KEYS.has(key) && !key.startsWith('_')) return false
  return true
}

function parseObject (json: string): Record<string, unknown> {
  const value = JSON.parse(json) as unknown
  if (!isJsonObject(value)) throw new TypeError('the record is not a JSON object')
  return value
}

/** Create the encoder for a wire format, from resolved options. */
export function createEncoder (options: EncoderOptions): Encoder {
  const { format } = options
  const isJsonArray = format === 'json'
  let encodeRecord: (event: LogEvent | JsonEvent) => Chunk
  let lineCodec: LineCodec | undefined
  // json_lines and GELF end each record with a line feed; json with the comma
  // before the next (so a batch of records is one stretch of the queue's ring).
  const terminator = format === 'json_lines' || format === 'gelf' ? 0x0a : isJsonArray ? 0x2c : undefined
  const ending = terminator === undefined ? '' : String.fromCharCode(terminator)

  if (format === 'msgpack') {
    const encodeMsgpack = createMsgpackRecordEncoder()
    const toMsgpack = createJsonToMsgpack()
    lineCodec = transcodeCodec([], (epoch, line, start, end) => {
      try {
        return toMsgpack(timeFromEpoch(epoch), line, start, end)
      } catch {
        return undefined
      }
    }, createMsgpackTakeLines(false), createMsgpackTakeLines(true))
    encodeRecord = (event) => {
      const record = 'json' in event ? event.record ?? parseObject(event.json) : event.record
      // A lone UTF-16 surrogate becomes U+FFFD, as in the JSON formats' UTF-8,
      // whether the record came as an object or as JSON text (parsed or not).
      return encodeMsgpack(event.time, hasLoneSurrogate(record) ? wellFormed(record) as Record<string, unknown> : record, 'json' in event ? undefined : event.metadata)
    }
  } else {
    let encodeText: (event: LogEvent | JsonEvent) => string
    if (format === 'gelf') {
      const keys = {
        shortMessageKey: options.gelfShortMessageKey,
        fullMessageKey: options.gelfFullMessageKey,
        hostKey: options.gelfHostKey,
        levelKey: options.gelfLevelKey,
        timestampKey: options.gelfTimestampKey
      }
      const encodeGelf = createGelfRecordEncoder(keys)
      // A backslash (an escape) sends the line the parse path: see createJsonToGelf.
      const needles = [BACKSLASH]
      lineCodec = transcodeCodec(needles, createJsonToGelf(keys), createGelfTakeLines(keys, needles, false), createGelfTakeLines(keys, needles, true))
      encodeText = (event) => {
        const record = 'json' in event ? event.record ?? parseObject(event.json) : event.record
        // A GELF message already (a fallback file replayed) goes on as it is: the wire holds what a live run sent.
        if (isGelfMessage(record)) return 'json' in event && !event.json.includes('\n') ? event.json : JSON.stringify(record)
        return encodeGelf(event.time, record, 'json' in event ? undefined : event.metadata)
      }
    } else {
      const json = createJsonRecordEncoder(options.jsonDateKey, options.jsonDateFormat)
      lineCodec = spliceCodec(json.splice, terminator)
      encodeText = (event) => 'json' in event
        ? json.spliceJsonLine(event.time, event.json)
        : json.encodeJsonRecord(event.time, event.record, event.metadata)
    }
    // JSON.stringify escapes a lone UTF-16 surrogate (\ud800), which many parsers
    // refuse: it becomes \ufffd, as a raw one does in UTF-8.
    encodeRecord = (event) => wellFormedJson(encodeText(event)) + ending
  }

  const overhead = isJsonArray ? 1 : 0
  // A message of several parts (json's always: its brackets) is put together in
  // one buffer kept from message to message: the connection copies a message as
  // it masks it (frame.ts), so a buffer made for each (pages the kernel must
  // fault in and zero, in a VM at a high price) bought nothing.
  let assembly = Buffer.allocUnsafeSlow(0)

  function frame (parts: readonly Buffer[]): Buffer {
    if (!isJsonArray && parts.length === 1) return parts[0]
    let length = overhead
    for (const part of parts) length += part.length
    if (length > assembly.length) assembly = Buffer.allocUnsafeSlow(Math.max(length, assembly.length * 2))
    let at = 0
    if (isJsonArray) assembly[at++] = 0x5b /* [ */
    for (const part of parts) {
      assembly.set(part, at)
      at += part.length
    }
    // The last record's comma closes the array.
    if (isJsonArray) assembly[at - 1] = 0x5d /* ] */
    return assembly.subarray(0, at)
  }

  function fallbackLine (record: Chunk): string {
    if (format === 'msgpack') {
      const [{ time, record: fields }] = decodeMessage(record as Uint8Array)
      const text = JSON.stringify(fields)
      return `{"date":"${fallbackTime(time)}"${text === '{}' ? '}' : ',' + text.slice(1)}`
    }
    const text = typeof record === 'string' ? record : Buffer.from(record.buffer, record.byteOffset, record.length).toString('utf8')
    // One record per line: json's trailing comma and json_lines' line feed go.
    return terminator !== undefined && text.charCodeAt(text.length - 1) === terminator ? text.slice(0, -1) : text
  }

  return {
    format,
    binary: format === 'msgpack',
    overhead,
    terminator,
    lineCodec,
    encodeRecord,
    frame,
    fallbackLine
  }
}
