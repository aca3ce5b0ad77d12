import { Encoder } from '@msgpack/msgpack'
import { timeFromEpoch, type EventTime } from './dates.js'
import { createTakeLines, type LineRunnerExports, type TakeLines } from './lines.js'
import { MSGPACK_WASM } from './msgpack-wasm.js'
import { instantiate } from './wasm.js'
import { copyRange } from './words.js'

// fixarray(2), fixarray(2), fixext8 of type 0 and its 8 bytes of time.
const HEADER_BYTES = 12
const EMPTY_MAP = new Uint8Array([0x80])

/**
 * One record in Fluent Bit's event format: `[[EventTime, metadata], record]`,
 * EventTime being ext type 0 with seconds then nanoseconds as big-endian uint32.
 * The bytes returned are a view of a scratch buffer, valid until the next call:
 * the queue copies them at once.
 */
export function createMsgpackRecordEncoder (): (time: EventTime, record: object, metadata?: object) => Uint8Array {
  // One encoder reused for every record, so its buffer grows once.
  // ignoreUndefined matches what the JSON formats do with undefined values.
  const encoder = new Encoder({ ignoreUndefined: true, useBigInt64: true })
  let scratch = Buffer.allocUnsafeSlow(4096)
  return function encodeMsgpackRecord (time, record, metadata) {
    const meta = metadata === undefined ? EMPTY_MAP : encoder.encode(metadata)
    if (!isMap(meta)) throw new TypeError('the metadata does not encode to a msgpack map')
    const body = encoder.encodeSharedRef(record)
    // Fluent Bit readers expect a record map, not a bare value.
    if (!isMap(body)) throw new TypeError('the record does not encode to a msgpack map')
    const length = HEADER_BYTES + meta.length + body.length
    if (scratch.length < length) scratch = Buffer.allocUnsafeSlow(Math.max(length, scratch.length * 2))
    writeEventHeader(scratch, time)
    scratch.set(meta, HEADER_BYTES)
    scratch.set(body, HEADER_BYTES + meta.length)
    return scratch.subarray(0, length)
  }
}

/**
 * pino's lines (or with `headed` the winston transport's) a piece at a time
 * (msgpack-wasm.c's runs, see lines.h): each record is an event's head (its
 * time, no metadata), then the line transcoded as createJsonToMsgpack's
 * WebAssembly transcoder does it. Its own instance.
 */
export function createMsgpackTakeLines (headed: boolean): TakeLines {
  // winston's colour codes, as JSON escapes, are the reader's (the record's raw control characters no run takes).
  return createTakeLines(() => instantiate<LineRunnerExports>(MSGPACK_WASM), headed ? [ESCAPED_CONTROL] : [], (epoch) => {
    const head = Buffer.allocUnsafe(HEADER_BYTES + 1)
    writeEventHeader(head, timeFromEpoch(epoch))
    head[HEADER_BYTES] = EMPTY_MAP[0]
    return head
  }, headed)
}

/** The start of every escape of U+0010-U+001F, `\u001b` (a colour code's ESC) among them. */
const ESCAPED_CONTROL = Buffer.from('\\u001')

/** The start of an event, up to its metadata: `[[` and the EventTime (HEADER_BYTES bytes). */
function writeEventHeader (target: Buffer, time: EventTime): void {
  // EventTime's seconds are an unsigned 32-bit number: wrapping would send another time, silently.
  if (!(time.sec >= 0 && time.sec <= 0xffffffff)) {
    throw new RangeError(`its time (${time.sec} s from the epoch) is outside what msgpack's EventTime holds (1970-01-01 to 2106-02-07)`)
  }
  target[0] = 0x92
  target[1] = 0x92
  target[2] = 0xd7
  target[3] = 0x00
  target.writeUInt32BE(time.sec >>> 0, 4)
  target.writeUInt32BE(time.nsec >>> 0, 8)
}

function isMap (bytes: Uint8Array): boolean {
  const head = bytes[0]
  return (head >= 0x80 && head <= 0x8f) || head === 0xde || head === 0xdf
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
/** Bytes of a string copied one by one before the rest is looked at natively: a native call costs about as much. */
const RUN = 32
/** 10^0 to 10^15, each exact in a double. */
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, i) => 10 ** i)
/** Nesting deeper than this is left to the parse path (whose encoder refuses past 100). */
const MAX_DEPTH = 64

/**
 * One record given as the UTF-8 bytes of a JSON object, straight to the same
 * Fluent Bit event as {@link createMsgpackRecordEncoder} makes of `JSON.parse`
 * of it, with no JavaScript object in between: strings are copied as bytes,
 * numbers encoded as @msgpack/msgpack encodes them (safe integers within 32 bits
 * as integers, every other number as float 64). A duplicate key stays a duplicate
 * map entry (decoders keep the last, as JSON.parse does), and keys keep the line's
 * order (JSON.parse puts array-index keys such as "5" first). Like the JSON formats'
 * splice, it trusts the text's strings: a raw control character, which JSON.parse
 * would refuse, is carried as it is. The bytes returned are a view of a scratch
 * buffer, valid until the next call.
 *
 * Lines of up to 64 KiB go first to the same transcoder in WebAssembly
 * (msgpack-wasm.c), in 0.55-0.77 x the time of this module's; what it refuses (a number
 * with an exponent or over 15 digits, anything invalid), longer lines, and every
 * line where WebAssembly is not available (node --jitless) to {@link transcode}.
 * @param engine one of the two alone, for the tests that compare them; the
 * WebAssembly one alone throws where it refuses.
 * @throws on anything it does not take (invalid JSON, deep nesting): the caller
 * then parses the text, which decides.
 */
export function createJsonToMsgpack (engine: 'both' | 'javascript' | 'webassembly' = 'both'): (time: EventTime, json: Buffer, start: number, end: number) => Uint8Array {
  // Both made at the first line, not here: an encoder that is given records, never lines
  // (encodeMessages), makes neither.
  let out = Buffer.allocUnsafeSlow(0)
  function inJavaScript (time: EventTime, json: Buffer, from: number, to: number): Uint8Array {
    // A float takes 9 bytes for JSON's 3 ("0.1"); nothing grows more than that.
    const room = (to - from) * 3 + 32
    if (out.length < room) out = Buffer.allocUnsafeSlow(Math.max(room, out.length * 2))
    writeEventHeader(out, time)
    out[HEADER_BYTES] = EMPTY_MAP[0]
    return out.subarray(0, transcode(json, from, to, out, HEADER_BYTES + 1))
  }
  if (engine === 'javascript') return inJavaScript
  // null: WebAssembly is not available here.
  let wasm: WasmTranscoder | null | undefined
  if (engine === 'webassembly') {
    wasm = instantiateTranscoder()
    if (wasm === undefined) throw new Error('WebAssembly is not available')
  }
  const otherwise = engine === 'webassembly' ? fail : inJavaScript
  return function jsonToMsgpack (time, json, from, to) {
    if (wasm === undefined) wasm = instantiateTranscoder() ?? null
    const length = to - from
    if (wasm === null || length > wasm.lineBytes) return otherwise(time, json, from, to)
    const { line, event } = wasm
    copyRange(json, from, to, line, 0)
    // Every scan in msgpack-wasm.c stops at a quote: one after the line bounds them.
    line[length] = QUOTE
    writeEventHeader(event, time)
    event[HEADER_BYTES] = EMPTY_MAP[0]
    const end = wasm.transcodeLine(length)
    return end === 0 ? otherwise(time, json, from, to) : event.subarray(0, end)
  }
}

interface WasmTranscoder {
  /** Where the line goes, and the event comes out: views of the instance's memory, which never grows. */
  line: Buffer
  event: Buffer
  lineBytes: number
  /** The line's length in, the event's out; 0 when it refuses. */
  transcodeLine: (length: number) => number
}

/** An instance of msgpack-wasm.c's module, or undefined where WebAssembly is not available. */
function instantiateTranscoder (): WasmTranscoder | undefined {
  const exports = instantiate<{
    line_buffer: () => number
    line_bytes: () => number
    event_buffer: () => number
    transcode: (length: number) => number
  }>(MSGPACK_WASM)
  if (exports === undefined) return undefined
  const { buffer } = exports.memory
  const lineBytes = exports.line_bytes()
  const eventAt = exports.event_buffer()
  return {
    line: Buffer.from(buffer, exports.line_buffer(), lineBytes + 1),
    event: Buffer.from(buffer, eventAt, buffer.byteLength - eventAt),
    lineBytes,
    transcodeLine: exports.transcode
  }
}

// Each open map or array: where its header byte is, its members so far (the innermost's are in a local
// until a container opens inside it), and whether it is an array. One set for the module: a call runs to
// its end with nothing else in between.
const headers = new Int32Array(MAX_DEPTH)
const counts = new Int32Array(MAX_DEPTH)
const arrays = new Uint8Array(MAX_DEPTH)
/** Where the text goes on after what a helper read: its second result. */
let next = 0

/**
 * The object at `at` (white space before it allowed) to msgpack at `pos` in `out`; returns
 * where its bytes end. One loop with its state in locals, the open containers on
 * a stack: the text's bytes, the output and both positions stay in registers.
 */
function transcode (src: Buffer, at: number, end: number, out: Buffer, pos: number): number {
  let byte = src[at]
  if (byte <= 0x20) byte = src[at = space(src, at, end)]
  if (byte !== 0x7b /* { */) fail()
  headers[0] = pos
  out[pos++] = 0x80
  arrays[0] = 0
  let depth = 1
  // The members so far of the innermost container; its parents' wait on the stack.
  let count = 0
  let inArray = false
  let opened = true
  at++
  for (;;) {
    byte = src[at]
    if (byte <= 0x20) byte = src[at = space(src, at, end)]
    if (opened && byte === (inArray ? 0x5d /* ] */ : 0x7d /* } */)) {
      // Empty: its header byte already says so.
      at++
      if (--depth === 0) break
      inArray = arrays[depth - 1] === 1
      count = counts[depth - 1]
    } else {
      if (!inArray) {
        if (byte !== QUOTE) fail()
        pos = string(src, at, end, out, pos)
        at = next
        byte = src[at]
        if (byte <= 0x20) byte = src[at = space(src, at, end)]
        if (byte !== 0x3a /* : */) fail()
        byte = src[++at]
        if (byte <= 0x20) byte = src[at = space(src, at, end)]
      }
      if (byte === QUOTE) {
        pos = string(src, at, end, out, pos)
        at = next
      } else if (byte === 0x7b /* { */ || byte === 0x5b /* [ */) {
        if (depth >= MAX_DEPTH) fail()
        inArray = byte === 0x5b
        counts[depth - 1] = count
        count = 0
        headers[depth] = pos
        out[pos++] = inArray ? 0x90 : 0x80
        arrays[depth] = inArray ? 1 : 0
        depth++
        opened = true
        at++
        continue
      } else if (byte === 0x74 /* t */) {
        if (src[at + 1] !== 0x72 || src[at + 2] !== 0x75 || src[at + 3] !== 0x65) fail()
        out[pos++] = 0xc3
        at += 4
      } else if (byte === 0x66 /* f */) {
        if (src[at + 1] !== 0x61 || src[at + 2] !== 0x6c || src[at + 3] !== 0x73 || src[at + 4] !== 0x65) fail()
        out[pos++] = 0xc2
        at += 5
      } else if (byte === 0x6e /* n */) {
        if (src[at + 1] !== 0x75 || src[at + 2] !== 0x6c || src[at + 3] !== 0x6c) fail()
        out[pos++] = 0xc0
        at += 4
      } else {
        // An integer of up to 9 digits, the most common number in a log line, here; any other in number().
        const negative = byte === 0x2d /* - */
        const first = negative ? at + 1 : at
        let digit = src[first]
        let i = first
        let integer = 0
        while (digit >= 0x30 && digit <= 0x39 && i < end) {
          // In 32 bits: one of over 9 digits, which may wrap, goes to number().
          integer = (integer * 10 + digit - 0x30) | 0
          digit = src[++i]
        }
        if (i === first || i - first > 9 || digit === 0x2e /* . */ || (digit | 0x20) === 0x65 /* e, E */ || (src[first] === 0x30 && i - first > 1)) {
          pos = number(src, at, end, out, pos)
          at = next
        } else {
          at = i
          // encodeNumber's one- and two-byte forms, written here: calling it for every
          // integer measured 2-3 % slower at 4 KiB (5.29 against 5.43 µs).
          if (!negative || integer === 0) {
            // -0 too: @msgpack/msgpack writes it as 0.
            if (integer < 0x80) {
              out[pos++] = integer
            } else if (integer < 0x100) {
              out[pos++] = 0xcc
              out[pos++] = integer
            } else {
              pos = encodeNumber(out, integer, pos)
            }
          } else if (integer <= 0x20) {
            out[pos++] = 0x100 - integer
          } else {
            pos = encodeNumber(out, -integer, pos)
          }
        }
      }
    }
    // A value ended in the container depth - 1: a comma, or the container's end (and perhaps its parent's).
    opened = false
    for (;;) {
      count++
      byte = src[at]
      if (byte <= 0x20) byte = src[at = space(src, at, end)]
      if (byte === 0x2c /* , */) {
        at++
        break
      }
      if (byte !== (inArray ? 0x5d /* ] */ : 0x7d /* } */)) fail()
      at++
      depth--
      if (count >= 16) pos = wideHeader(out, headers[depth], count, inArray, pos)
      else out[headers[depth]] |= count
      if (depth === 0) break
      inArray = arrays[depth - 1] === 1
      count = counts[depth - 1]
    }
    if (depth === 0) break
  }
  if (at < end && src[at] <= 0x20) at = space(src, at, end)
  if (at !== end) fail()
  return pos
}

/** Past white space, of which pino writes none. */
function space (src: Buffer, at: number, end: number): number {
  while (at < end) {
    const byte = src[at]
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) break
    at++
  }
  return at
}

/** A map or array of 16 members or more: its header takes 3 or 5 bytes where one was kept, so its contents move. */
function wideHeader (out: Buffer, headerAt: number, count: number, array: boolean, pos: number): number {
  const wide = count >= 0x10000
  const extra = wide ? 4 : 2
  out.copyWithin(headerAt + 1 + extra, headerAt + 1, pos)
  // map 16/32 are 0xde/0xdf, array 16/32 0xdc/0xdd.
  out[headerAt] = (array ? 0xdc : 0xde) + (wide ? 1 : 0)
  if (wide) out.writeUInt32BE(count, headerAt + 1)
  else out.writeUInt16BE(count, headerAt + 1)
  return pos + extra
}

/**
 * The string whose opening quote is at `at`, to `pos`; returns where its bytes
 * end, and sets {@link next}. A string's UTF-8 bytes are the same in msgpack: a
 * short one without escapes (most keys and values) is copied as it is scanned.
 */
function string (src: Buffer, at: number, end: number, out: Buffer, pos: number): number {
  const start = at + 1
  const stop = start + RUN < end ? start + RUN : end
  let write = pos + 1
  for (let i = start; i < stop; i++) {
    const byte = src[i]
    if (byte === QUOTE) {
      // Under RUN (32) bytes: a fixstr.
      out[pos] = 0xa0 | (i - start)
      next = i + 1
      return write
    }
    if (byte === BACKSLASH) break
    out[write++] = byte
  }
  return longString(src, at, end, out, pos)
}

/** A string of RUN bytes or more, or with escapes: plain runs copied natively, escapes one by one. */
function longString (src: Buffer, at: number, end: number, out: Buffer, pos: number): number {
  const headerAt = pos
  let write = headerAt + 1
  at++
  let runFrom = at + RUN
  for (;;) {
    // Plain bytes up to the next quote or backslash, the run's end or the line's.
    const stop = runFrom < end ? runFrom : end
    let byte = 0
    while (at < stop) {
      byte = src[at]
      if (byte === QUOTE || byte === BACKSLASH) break
      out[write++] = byte
      at++
    }
    if (at < stop && byte === QUOTE) break
    if (at >= end) fail()
    if (at >= runFrom) {
      // Past RUN bytes, the rest up to the closing quote in one native copy if it
      // holds no escape (the quote is the next one: an escaped quote is itself an escape).
      const close = src.indexOf(QUOTE, at)
      if (close === -1 || close >= end) fail()
      const escape = src.subarray(at, close).indexOf(BACKSLASH)
      if (escape === -1) {
        src.copy(out, write, at, close)
        write += close - at
        at = close
        break
      }
      // An escape comes first: one by one through it, then look again.
      runFrom = at + escape + RUN
      continue
    }
    const escape = src[at + 1]
    at += 2
    switch (escape) {
      case QUOTE: case BACKSLASH: case 0x2f /* / */: out[write++] = escape; break
      case 0x62 /* b */: out[write++] = 0x08; break
      case 0x66 /* f */: out[write++] = 0x0c; break
      case 0x6e /* n */: out[write++] = 0x0a; break
      case 0x72 /* r */: out[write++] = 0x0d; break
      case 0x74 /* t */: out[write++] = 0x09; break
      case 0x75 /* u */: {
        let code = hex4(src, at, end)
        at += 4
        // Only a pair makes a character; a lone half becomes U+FFFD (see wellFormedJson).
        if (code >= 0xdc00 && code <= 0xdfff) {
          code = 0xfffd
        } else if (code >= 0xd800 && code <= 0xdbff) {
          const low = src[at] === BACKSLASH && src[at + 1] === 0x75 ? hex4(src, at + 2, end) : -1
          if (low >= 0xdc00 && low <= 0xdfff) {
            at += 6
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
          } else {
            code = 0xfffd
          }
        }
        write = utf8(out, code, write)
        break
      }
      default: fail()
    }
  }
  const length = write - headerAt - 1
  if (length < 32) {
    out[headerAt] = 0xa0 | length
  } else {
    const extra = length < 0x100 ? 1 : length < 0x10000 ? 2 : 4
    out.copyWithin(headerAt + 1 + extra, headerAt + 1, write)
    write += extra
    if (extra === 1) {
      out[headerAt] = 0xd9
      out[headerAt + 1] = length
    } else if (extra === 2) {
      out[headerAt] = 0xda
      out.writeUInt16BE(length, headerAt + 1)
    } else {
      out[headerAt] = 0xdb
      out.writeUInt32BE(length, headerAt + 1)
    }
  }
  next = at + 1
  return write
}

function hex4 (src: Buffer, at: number, end: number): number {
  if (at + 4 > end) fail()
  let code = 0
  for (let i = 0; i < 4; i++) {
    const byte = src[at + i] | 0x20
    const digit = byte >= 0x30 && byte <= 0x39 ? byte - 0x30 : byte >= 0x61 && byte <= 0x66 ? byte - 0x57 : -1
    if (digit === -1) fail()
    code = code * 16 + digit
  }
  return code
}

function utf8 (out: Buffer, code: number, at: number): number {
  if (code < 0x80) {
    out[at++] = code
  } else if (code < 0x800) {
    out[at++] = 0xc0 | (code >> 6)
    out[at++] = 0x80 | (code & 0x3f)
  } else if (code < 0x10000) {
    out[at++] = 0xe0 | (code >> 12)
    out[at++] = 0x80 | ((code >> 6) & 0x3f)
    out[at++] = 0x80 | (code & 0x3f)
  } else {
    out[at++] = 0xf0 | (code >> 18)
    out[at++] = 0x80 | ((code >> 12) & 0x3f)
    out[at++] = 0x80 | ((code >> 6) & 0x3f)
    out[at++] = 0x80 | (code & 0x3f)
  }
  return at
}

/** The number at `at`, to `pos`; returns where its bytes end, and sets {@link next}. */
function number (src: Buffer, at: number, end: number, out: Buffer, pos: number): number {
  const first = at
  const negative = src[at] === 0x2d /* - */
  if (negative) at++
  // The digits as one integer, and how many of them follow the point.
  let mantissa = 0
  let digitCount = 0
  let fraction = 0
  let byte = src[at]
  if (byte === 0x30 /* 0 */) {
    byte = src[++at]
  } else {
    const start = at
    while (at < end && byte >= 0x30 && byte <= 0x39) {
      mantissa = mantissa * 10 + byte - 0x30
      byte = src[++at]
    }
    if (at === start) fail()
    digitCount = at - start
  }
  if (byte === 0x2e /* . */) {
    const start = ++at
    byte = src[at]
    while (at < end && byte >= 0x30 && byte <= 0x39) {
      mantissa = mantissa * 10 + byte - 0x30
      byte = src[++at]
    }
    if (at === start) fail()
    fraction = at - start
    digitCount += fraction
  }
  let value: number
  if ((byte === 0x65 /* e */ || byte === 0x45 /* E */) && at < end) {
    at++
    if (src[at] === 0x2b /* + */ || src[at] === 0x2d /* - */) at++
    const start = at
    while (at < end && src[at] >= 0x30 && src[at] <= 0x39) at++
    if (at === start) fail()
    value = Number(src.toString('latin1', first, at))
  } else if (digitCount <= 15) {
    // At most 15 digits are exact as an integer, and so is 10^fraction: one
    // division rounds correctly, to what JSON.parse reads (Clinger's fast path).
    value = fraction === 0 ? mantissa : mantissa / POWERS_OF_TEN[fraction]
    if (negative) value = -value
  } else {
    value = Number(src.toString('latin1', first, at))
  }
  next = at
  return encodeNumber(out, value, pos)
}

function encodeNumber (out: Buffer, value: number, pos: number): number {
  if (Number.isSafeInteger(value) && value < 0x100000000 && value >= -0x80000000) {
    if (value >= 0) {
      if (value < 0x80) {
        out[pos++] = value
        return pos
      }
      if (value < 0x100) {
        out[pos++] = 0xcc
        out[pos++] = value
        return pos
      }
      if (value < 0x10000) {
        out[pos++] = 0xcd
        return out.writeUInt16BE(value, pos)
      }
      out[pos++] = 0xce
      return out.writeUInt32BE(value, pos)
    }
    if (value >= -0x20) {
      out[pos++] = 0xe0 | (value + 0x20)
      return pos
    }
    if (value >= -0x80) {
      out[pos++] = 0xd0
      return out.writeInt8(value, pos)
    }
    if (value >= -0x8000) {
      out[pos++] = 0xd1
      return out.writeInt16BE(value, pos)
    }
    out[pos++] = 0xd2
    return out.writeInt32BE(value, pos)
  }
  // What @msgpack/msgpack does with useBigInt64: every other number is a float 64.
  out[pos++] = 0xcb
  return out.writeDoubleBE(value, pos)
}

function fail (): never {
  throw new TypeError('not a JSON object this transcoder takes')
}
