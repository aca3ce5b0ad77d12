import { isUtf8 } from 'node:buffer'
import { codecEpoch, FALLBACK_TIME, parseTime, timeFromEpoch, timeFromMillis, timeOf, type EventTime } from './encoders/dates.js'
import type { JsonEvent, LineCodec, LineSink, LogEvent } from './encoders/index.js'
import type { TakeLines } from './encoders/lines.js'
import { isJsonObject } from './encoders/json.js'

/**
 * Where {@link NdjsonReader} puts records: the engine. Each call is one accepted
 * record; the codec's bytes go in through {@link LineSink}'s calls.
 */
export interface RecordSink extends LineSink {
  /** How the wire format takes a line without parsing it; undefined: every line is parsed. */
  readonly lineCodec: LineCodec | undefined
  /** The slow path: a record to encode. */
  write (event: LogEvent | JsonEvent): void
  /** The longest line that may still make a record of at most one message; a longer one is dropped before its end comes. */
  readonly maxLineBytes: number
  /** Count a line dropped for its length, of which `bytes` were seen (its bytes are not kept). */
  dropLongLine (bytes: number): void
  /** Count a record its adapter could not make (the reason said), dropped as unencodable. */
  reject (error: string): void
}

/**
 * How the lines an {@link NdjsonReader} reads are framed. `json`: each line is a
 * record's JSON text (pino's output, the CLI's stdin). `headed`: each line is
 * `<epoch>\t<timestamp>\t<record>` (the winston transport's, written on the
 * app's thread and read in the worker): the epoch, a number that
 * `timeFromEpoch` reads, is the event time unless the timestamp text (empty for
 * none) parses as one; the record is a JSON object's text, or `!` and the
 * reason the app's thread could not make it. A record text that is not JSON
 * is sent as the record's `message`.
 */
export type LineFraming = 'json' | 'headed'

/**
 * Newline-delimited JSON text (pino's output, the CLI's stdin) to records: chunks
 * of text go in, whole lines go to the sink. Per line, the format's
 * {@link LineCodec} splices or transcodes its bytes; a line it does not take, or
 * one holding one of its needles, is parsed. A line that is not a JSON object is
 * dropped as unencodable by the sink's encoder. No I/O, no queue, no socket.
 */
export class NdjsonReader {
  readonly #sink: RecordSink
  readonly #codec: LineCodec | undefined
  readonly #maxLine: number
  readonly #lines = new LineBuffer()
  readonly #headed: boolean
  /** The codec's needles, and in `headed` lines colour codes (see ANSI_NEEDLES). */
  readonly #needles: readonly Buffer[]
  /** Where each needle is next in the chunk's lines, from where it was last looked for (-1: nowhere; -2: not looked for yet). */
  readonly #found: Int32Array
  /** The chunk's lines being read, for the lines the codec's takeLines hands back. */
  #complete: Buffer = Buffer.alloc(0)
  /** How the codec takes whole pieces of lines (see LineCodec's takeLines), until it says it cannot here. */
  #takeLines: TakeLines | undefined
  /** Bytes seen of a line too long to keep, thrown away up to its line feed (-1: none). */
  #skipping = -1
  /** The last timestamp of a headed line, as bytes, and its time: records of a burst share one. */
  #stamp = Buffer.alloc(0)
  #stampTime: EventTime | undefined

  constructor (sink: RecordSink, framing: LineFraming = 'json') {
    this.#sink = sink
    this.#codec = sink.lineCodec
    this.#maxLine = sink.maxLineBytes
    this.#headed = framing === 'headed'
    this.#needles = [...(this.#codec?.needles ?? []), ...(this.#headed ? ANSI_NEEDLES : [])]
    this.#found = new Int32Array(this.#needles.length)
    this.#takeLines = this.#headed ? this.#codec?.takeHeadedLines : this.#codec?.takeLines
  }

  /**
   * Take the lines a chunk of text (or of UTF-8 bytes: the CLI's stdin) completes.
   * A chunk may end inside a line, or inside a character; the line is taken when
   * its end comes, or on {@link end}. Never throws.
   */
  write (text: string | Buffer): void {
    if (this.#skipping !== -1) {
      // The rest of a line too long to keep goes, up to its line feed.
      const at = typeof text === 'string' ? text.indexOf('\n') : text.indexOf(0x0a)
      if (at === -1) {
        this.#skipping += text.length
        return
      }
      this.#sink.dropLongLine(this.#skipping + at)
      this.#skipping = -1
      text = text.slice(at + 1)
      if (text.length === 0) return
    }
    this.#take(text)
    // A line this long can make no record that fits a message: it is not held any longer.
    const pending = this.#lines.pending
    if (pending > this.#maxLine) {
      this.#lines.discardRest()
      this.#skipping = pending
    }
  }

  #take (text: string | Buffer): void {
    const { bytes, end, textStart, ascii } = this.#lines.append(text)
    const complete = bytes.subarray(0, end)
    // Bytes (the CLI's stdin) may not be UTF-8: such a line is read as text, its
    // bad bytes replaced by U+FFFD, never copied into a text frame. One native
    // check per chunk; lines are checked one by one only in a chunk that fails it.
    const utf8 = typeof text === 'string' || isUtf8(complete)
    this.#complete = complete
    this.#found.fill(-2)
    // Whole pieces of lines at once, where the codec can: the lines it does not take come back to #other.
    if (utf8 && this.#takeLines !== undefined) {
      if (this.#takeLines(bytes, 0, end, this.#sink, this.#other)) return
      this.#takeLines = undefined
    }
    let start = 0
    while (start < end) {
      // In ASCII text a character is a byte, and the string's own search is
      // cheaper than Buffer#indexOf, a call into C++ per line.
      const lineEnd = ascii ? textStart + (text as string).indexOf('\n', Math.max(0, start - textStart)) : bytes.indexOf(0x0a, start)
      let stop = lineEnd
      if (stop > start && bytes[stop - 1] === 0x0d) stop--
      if (stop > start) this.#line(bytes, start, stop, this.#plain(start, stop) && (utf8 || isUtf8(bytes.subarray(start, stop))))
      start = lineEnd + 1
    }
  }

  /** A line of the chunk (its start, and its line feed) that the codec's takeLines did not take. */
  readonly #other = (start: number, feed: number): void => {
    const bytes = this.#complete
    let stop = feed
    if (stop > start && bytes[stop - 1] === 0x0d) stop--
    if (stop > start) this.#line(bytes, start, stop, this.#plain(start, stop))
  }

  /**
   * Whether the chunk's line `[start, stop)` holds none of the needles. Needles are
   * rare, so each is looked for once past where it was last found, not once a line.
   */
  #plain (start: number, stop: number): boolean {
    const found = this.#found
    let plain = true
    for (let i = 0; i < found.length; i++) {
      if (found[i] !== -1 && found[i] < start) found[i] = this.#complete.indexOf(this.#needles[i], start)
      if (found[i] !== -1 && found[i] < stop) plain = false
    }
    return plain
  }

  /** Take the last line if it did not end with a line feed. */
  end (): void {
    if (this.#skipping !== -1) {
      this.#sink.dropLongLine(this.#skipping)
      this.#skipping = -1
      return
    }
    const rest = this.#lines.takeRest()
    let stop = rest.length
    if (stop > 0 && rest[stop - 1] === 0x0d) stop--
    if (stop > 0) this.#line(rest, 0, stop, false)
  }

  /**
   * A fallback file's line (see FALLBACK_TIME): its leading `"date"` is the event
   * time; the rest is the record as it was received, which goes on as text.
   */
  #fallbackLine (bytes: Buffer, start: number, stop: number): boolean {
    if (stop - start < FALLBACK_HEAD + 1 || bytes[start + FALLBACK_HEAD - 1] !== QUOTE) return false
    const text = bytes.toString('latin1', start + FALLBACK_PREFIX.length, start + FALLBACK_HEAD - 1)
    const after = bytes[start + FALLBACK_HEAD]
    if (!FALLBACK_TIME.test(text) || (after !== COMMA && after !== CLOSE_BRACE)) return false
    const time = parseTime(text)
    if (time === undefined) return false
    const rest = after === CLOSE_BRACE ? '{}' : '{' + bytes.toString('utf8', start + FALLBACK_HEAD + 1, stop)
    this.#sink.write({ time, json: rest })
    return true
  }

  /** One line: through the codec when its time opens it and it holds no needle, else as text. */
  #line (bytes: Buffer, start: number, stop: number, plain: boolean): void {
    if (this.#headed) {
      this.#headedLine(bytes, start, stop, plain)
      return
    }
    if (bytes[start + 2] === 0x64 /* d */ && startsWith(bytes, start, stop, FALLBACK_PREFIX) && this.#fallbackLine(bytes, start, stop)) return
    const epoch = leadingTime(bytes, start, stop)
    if (epoch !== -1 && plain && this.#codec !== undefined) {
      try {
        if (this.#codec.take(epoch, bytes, start, stop, this.#sink)) return
      } catch {
        // A time the format cannot write: the parse path drops the record and says why.
      }
    }
    const line = bytes.toString('utf8', start, stop)
    if (epoch !== -1) {
      this.#sink.write({ time: timeFromEpoch(epoch), json: line })
      return
    }
    let record: unknown
    try {
      record = JSON.parse(line)
    } catch {
      // Not JSON: the encoder fails on it too, and counts it as unencodable.
      this.#sink.write({ time: timeFromMillis(Date.now()), json: line })
      return
    }
    const time = timeOf((record as { time?: unknown } | null)?.time)
    if (isJsonObject(record)) this.#sink.write({ time, record })
    else this.#sink.write({ time, json: line })
  }

  /** A `headed` line (see {@link LineFraming}). Its record is parsed: what the app's thread sends is not known to be JSON. */
  #headedLine (bytes: Buffer, start: number, stop: number, plain: boolean): void {
    // The epoch: the digits of Date.now() are read here; any other number's text by Number().
    let tab = start
    let epoch = 0
    while (tab < stop && isDigit(bytes[tab])) epoch = epoch * 10 + bytes[tab++] - 0x30
    if (bytes[tab] !== TAB || tab === start || tab - start > 15) {
      tab = bytes.indexOf(TAB, start)
      epoch = tab === -1 ? Number.NaN : Number(bytes.toString('latin1', start, tab))
    }
    let next = tab + 1
    while (next < stop && bytes[next] !== TAB) next++
    if (tab === -1 || tab >= stop || next >= stop) {
      this.#sink.reject('a line of the winston transport lost its framing')
      return
    }
    let time = Number.isFinite(epoch) ? timeFromEpoch(epoch) : timeFromMillis(Date.now())
    if (next > tab + 1) {
      // Records of a burst share their timestamp: its text is parsed once.
      if (this.#stamp.compare(bytes, tab + 1, next) !== 0) {
        this.#stamp = Buffer.from(bytes.subarray(tab + 1, next))
        this.#stampTime = parseTime(this.#stamp.toString())
      }
      time = this.#stampTime ?? time
    }
    const at = next + 1
    if (bytes[at] === BANG) {
      this.#sink.reject(bytes.toString('utf8', at + 1, stop))
      return
    }
    const ms = codecEpoch(time)
    if (plain && this.#codec !== undefined && ms !== -1 && isCompactJson(bytes, at, stop)) {
      try {
        if (this.#codec.take(ms, bytes, at, stop, this.#sink)) return
      } catch {
        // A time the format cannot write: the parse path drops the record and says why.
      }
    }
    let json = bytes.toString('utf8', at, stop)
    // Colour codes (winston's colorize()) never reach the wire.
    if (!plain && ANSI_ESCAPE.test(json)) json = json.replace(ANSI, '')
    let record: unknown
    try {
      record = JSON.parse(json)
    } catch {
      // Text that looked like a JSON object on the app's thread and is not one.
    }
    if (!isJsonObject(record)) {
      this.#sink.write({ time, record: { message: json } })
      return
    }
    this.#sink.write({ time, json, record })
  }
}

/**
 * Whether `bytes[start, end)` is a JSON object written with no whitespace (as
 * JSON.stringify writes it): a check in one pass that builds nothing, where
 * JSON.parse would build the record. True only for text JSON.parse takes; false
 * for some it takes too (whitespace, nesting past 64), which is then parsed.
 * The bytes are UTF-8 (the reader checked). One loop, the open containers on a
 * stack (whether each is an array), rather than a call per value.
 */
export function isCompactJson (bytes: Buffer, start: number, end: number): boolean {
  if (bytes[start] !== OPEN_BRACE) return false
  let at = start + 1
  // The innermost open container's place on the stack (the line's object is 0).
  let depth = 0
  OPEN_ARRAYS[0] = 0
  let inArray = false
  let opened = true
  for (;;) {
    let byte = bytes[at]
    if (opened && byte === (inArray ? CLOSE_BRACKET : CLOSE_BRACE)) {
      // Empty.
      at++
      if (depth === 0) return at === end
      inArray = OPEN_ARRAYS[--depth] === 1
    } else {
      if (!inArray) {
        if (byte !== QUOTE) return false
        at = jsonString(bytes, at, end)
        if (at === -1 || bytes[at] !== COLON) return false
        byte = bytes[++at]
      }
      if (byte === QUOTE) {
        at = jsonString(bytes, at, end)
      } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
        if (depth === MAX_NESTING - 1) return false
        inArray = byte === OPEN_BRACKET
        OPEN_ARRAYS[++depth] = inArray ? 1 : 0
        opened = true
        at++
        continue
      } else if (byte === 0x74 /* t */) {
        at = word(bytes, at, end, TRUE)
      } else if (byte === 0x66 /* f */) {
        at = word(bytes, at, end, FALSE)
      } else if (byte === 0x6e /* n */) {
        at = word(bytes, at, end, NULL)
      } else {
        at = jsonNumber(bytes, at, end)
      }
      if (at === -1) return false
    }
    // A value ended: a comma, or its container's end (and perhaps its parents').
    opened = false
    for (;;) {
      byte = bytes[at]
      if (byte === COMMA) {
        at++
        break
      }
      if (byte !== (inArray ? CLOSE_BRACKET : CLOSE_BRACE)) return false
      at++
      if (depth === 0) return at === end
      inArray = OPEN_ARRAYS[--depth] === 1
    }
  }
}

/** Containers open at once, at most, in a line {@link isCompactJson} takes. */
const MAX_NESTING = 64
/** Whether each open container is an array (1) or an object (0). */
const OPEN_ARRAYS = new Uint8Array(MAX_NESTING)

/**
 * Past a string's closing quote, or -1: no raw control character, only JSON's
 * escapes. Byte by byte for its first RUN bytes; past them, the next quote is
 * found natively and the bytes before it checked in a tighter loop (an escape
 * or a control character among them goes back to byte by byte).
 */
function jsonString (bytes: Buffer, at: number, end: number): number {
  at++
  let runFrom = at + RUN
  for (;;) {
    if (at >= end) return -1
    const byte = bytes[at]
    if (byte === QUOTE) return at + 1
    if (byte < 0x20) return -1
    if (byte === BACKSLASH) {
      const escaped = bytes[at + 1]
      if (escaped === 0x75 /* u */) {
        for (let i = 2; i <= 5; i++) if (!isHex(bytes[at + i])) return -1
        at += 6
      } else if (SIMPLE_ESCAPES.has(escaped)) {
        at += 2
      } else {
        return -1
      }
      continue
    }
    at++
    if (at < runFrom) continue
    const quote = bytes.indexOf(QUOTE, at)
    if (quote === -1 || quote >= end) return -1
    while (at < quote && bytes[at] >= 0x20 && bytes[at] !== BACKSLASH) at++
    if (at === quote) return quote + 1
    runFrom = at + RUN
  }
}

/** Past a JSON number, or -1: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
function jsonNumber (bytes: Buffer, at: number, end: number): number {
  if (bytes[at] === 0x2d /* - */) at++
  if (bytes[at] === 0x30 /* 0 */) {
    at++
  } else {
    if (!isDigit(bytes[at])) return -1
    while (at < end && isDigit(bytes[at])) at++
  }
  if (bytes[at] === 0x2e /* . */) {
    at++
    if (!isDigit(bytes[at])) return -1
    while (at < end && isDigit(bytes[at])) at++
  }
  if (bytes[at] === 0x65 /* e */ || bytes[at] === 0x45 /* E */) {
    at++
    if (bytes[at] === 0x2b /* + */ || bytes[at] === 0x2d /* - */) at++
    if (!isDigit(bytes[at])) return -1
    while (at < end && isDigit(bytes[at])) at++
  }
  return at <= end ? at : -1
}

function word (bytes: Buffer, at: number, end: number, text: Buffer): number {
  return startsWith(bytes, at, end, text) ? at + text.length : -1
}

function isHex (byte: number): boolean {
  return isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
}

/** Bytes of a string looked at one by one before its end is searched for natively: a native call costs about as much. */
const RUN = 32
/** The bytes after a backslash that make an escape, but for `u`: " \ / b f n r t */
const SIMPLE_ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74])
const TRUE = Buffer.from('true')
const FALSE = Buffer.from('false')
const NULL = Buffer.from('null')
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const COLON = 0x3a

/** How many line feeds `bytes[0, end)` holds: the lines it ends. */
export function countLineFeeds (bytes: Buffer, end: number): number {
  let lines = 0
  for (let at = bytes.indexOf(0x0a); at !== -1 && at < end; at = bytes.indexOf(0x0a, at + 1)) lines++
  return lines
}

/** How a fallback file line opens when it carries its record's event time: see FALLBACK_TIME. */
const FALLBACK_PREFIX = Buffer.from('{"date":"')
/** `{"date":"` + 30 characters of time + `"` */
const FALLBACK_HEAD = FALLBACK_PREFIX.length + 31

/**
 * Newline-delimited text as bytes: chunks of text go in, and come out as UTF-8
 * bytes holding whole lines, the unfinished last line kept for the next chunk.
 * Working on bytes lets a JSON line reach the queue with one copy and no string
 * made for it; one scratch buffer serves every chunk.
 */
export class LineBuffer {
  #scratch = Buffer.allocUnsafeSlow(256 * 1024)
  /** The scratch buffer holds `[0, #total)`, of which `[0, #end)` was handed out as whole lines. */
  #end = 0
  #total = 0

  /**
   * The bytes of every line this chunk completes: lines in `[0, end)` of `bytes`,
   * each ending with `\n`; the chunk's own bytes start at `textStart`, and when
   * it is `ascii` text its character `i` is byte `textStart + i`. Valid until the next call.
   */
  append (text: string | Buffer): { bytes: Buffer, end: number, textStart: number, ascii: boolean } {
    this.#settle()
    const before = this.#total
    // A text is measured (a pass over it) only when the most bytes it can take,
    // 3 per UTF-16 unit, may not fit; the buffer grows by what it really needs.
    if (before + (typeof text === 'string' ? text.length * 3 : text.length) > this.#scratch.length) {
      const needed = before + (typeof text === 'string' ? Buffer.byteLength(text) : text.length)
      if (needed > this.#scratch.length) {
        const larger = Buffer.allocUnsafeSlow(Math.max(needed, this.#scratch.length * 2))
        this.#scratch.copy(larger, 0, 0, before)
        this.#scratch = larger
      }
    }
    const written = typeof text === 'string' ? this.#scratch.write(text, before, 'utf8') : text.copy(this.#scratch, before)
    this.#total = before + written
    // Only the new text can hold the last line feed.
    const last = this.#scratch.subarray(before, this.#total).lastIndexOf(0x0a)
    if (last !== -1) this.#end = before + last + 1
    return { bytes: this.#scratch, end: this.#end, textStart: before, ascii: typeof text === 'string' && written === text.length }
  }

  /** Bytes of the unfinished line held. */
  get pending (): number {
    return this.#total - this.#end
  }

  /** Forget the unfinished line. */
  discardRest (): void {
    this.#total = this.#end
  }

  /** The unfinished line, if any (a copy); nothing is held after. */
  takeRest (): Buffer {
    this.#settle()
    const rest = Buffer.from(this.#scratch.subarray(0, this.#total))
    this.#total = 0
    return rest
  }

  /** Move the unfinished line to the front, once the lines before it are used. */
  #settle (): void {
    if (this.#end === 0) return
    this.#scratch.copyWithin(0, this.#end, this.#total)
    this.#total -= this.#end
    this.#end = 0
  }
}

/** The start of an ANSI colour or style sequence, raw or as JSON escapes it; then the whole sequence. */
const ANSI_NEEDLES = [Buffer.from('\\u001b'), Buffer.from('\\u001B'), Buffer.of(0x1b)]
// eslint-disable-next-line no-control-regex
const ANSI_ESCAPE = /\x1b|\\u001[bB]/
// eslint-disable-next-line no-control-regex
const ANSI = /(?:\x1b|\\u001[bB])\[[0-9;]*m/g

const TAB = 0x09
const BANG = 0x21
const OPEN_BRACE = 0x7b
const QUOTE = 0x22
const COMMA = 0x2c
const CLOSE_BRACE = 0x7d
const BACKSLASH = 0x5c

/**
 * The epoch time (an integer, milliseconds or seconds: see `timeFromEpoch`) of a
 * JSON line that opens with a `time` key holding an integer, alone or after a
 * `level` key (`{"level":30,"time":1700000000000,…`, as pino writes it); -1 for
 * any other line, whose time is then read by parsing it.
 */
export function leadingTime (bytes: Buffer, start: number, end: number): number {
  if (bytes[start] !== OPEN_BRACE || bytes[start + 1] !== QUOTE) return -1
  let at = start + 2
  // The keys' bytes compared one by one in line: a loop over a kept Buffer cost 1.5 x the time.
  let byte = bytes[at]
  if (byte === 0x6c && end - at >= 7 && bytes[at + 1] === 0x65 && bytes[at + 2] === 0x76 && bytes[at + 3] === 0x65 &&
    bytes[at + 4] === 0x6c && bytes[at + 5] === QUOTE && bytes[at + 6] === COLON /* level": */) {
    at += 7
    byte = bytes[at]
    if (byte === QUOTE) {
      // A level label: a string with no escape in it.
      for (;;) {
        if (++at >= end) return -1
        byte = bytes[at]
        if (byte === QUOTE) break
        if (byte === BACKSLASH) return -1
      }
      at++
    } else {
      const first = at
      while (at < end && isDigit(byte)) byte = bytes[++at]
      if (at === first) return -1
    }
    if (bytes[at] !== COMMA || bytes[at + 1] !== QUOTE) return -1
    at += 2
    byte = bytes[at]
  }
  if (byte !== 0x74 || end - at < 6 || bytes[at + 1] !== 0x69 || bytes[at + 2] !== 0x6d || bytes[at + 3] !== 0x65 ||
    bytes[at + 4] !== QUOTE || bytes[at + 5] !== COLON /* time": */) return -1
  at += 6
  const first = at
  // At most 16 digits, read as a double: exact up to 2^53 (9.007e15: microseconds until the year 2255).
  const last = end - at > 16 ? at + 16 : end
  let ms = 0
  byte = bytes[at]
  while (at < last && isDigit(byte)) {
    ms = ms * 10 + byte - 0x30
    byte = bytes[++at]
  }
  if (at === first || (byte !== COMMA && byte !== CLOSE_BRACE)) return -1
  return ms
}

function isDigit (byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39
}

function startsWith (bytes: Buffer, at: number, end: number, prefix: Buffer): boolean {
  if (end - at < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false
  return true
}
