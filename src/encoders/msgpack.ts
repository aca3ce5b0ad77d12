import { Encoder } from '@msgpack/msgpack'
import type { EventTime } from './dates.js'

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
 * map entry (decoders keep the last, as JSON.parse does). Like the JSON formats'
 * splice, it trusts the text's strings: a raw control character, which JSON.parse
 * would refuse, is carried as it is. The bytes returned are a view of a scratch
 * buffer, valid until the next call.
 * @throws on anything it does not take (invalid JSON, deep nesting): the caller
 * then parses the text, which decides.
 */
export function createJsonToMsgpack (): (time: EventTime, json: Buffer, start: number, end: number) => Uint8Array {
  let out = Buffer.allocUnsafeSlow(64 * 1024)
  let src: Buffer = out
  let end = 0
  let pos = 0

  return function jsonToMsgpack (time, json, from, to) {
    // A float takes 9 bytes for JSON's 3 ("0.1"); nothing grows more than that.
    const room = (to - from) * 3 + 32
    if (out.length < room) out = Buffer.allocUnsafeSlow(Math.max(room, out.length * 2))
    src = json
    end = to
    writeEventHeader(out, time)
    out[HEADER_BYTES] = EMPTY_MAP[0]
    pos = HEADER_BYTES + 1
    let at = space(from)
    if (src[at] !== 0x7b /* { */) fail()
    at = space(object(at, 0))
    if (at !== to) fail()
    return out.subarray(0, pos)
  }

  /** Past white space, of which pino writes none: one look at the first byte settles most calls. */
  function space (at: number): number {
    if (src[at] > 0x20) return at
    while (at < end) {
      const byte = src[at]
      if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) break
      at++
    }
    return at
  }

  function value (at: number, depth: number): number {
    const byte = src[at]
    if (byte === QUOTE) return string(at)
    if (byte === 0x7b /* { */) return object(at, depth)
    if (byte === 0x5b /* [ */) return array(at, depth)
    if (byte === 0x74 /* t */) return literal(at, 'true', 0xc3)
    if (byte === 0x66 /* f */) return literal(at, 'false', 0xc2)
    if (byte === 0x6e /* n */) return literal(at, 'null', 0xc0)
    return number(at)
  }

  function object (at: number, depth: number): number {
    if (depth >= MAX_DEPTH) fail()
    const headerAt = pos++
    let count = 0
    at = space(at + 1)
    if (src[at] === 0x7d /* } */) {
      out[headerAt] = 0x80
      return at + 1
    }
    for (;;) {
      if (src[at] !== QUOTE) fail()
      at = space(string(at))
      if (src[at] !== 0x3a /* : */) fail()
      at = space(value(space(at + 1), depth + 1))
      count++
      if (src[at] === 0x2c /* , */) {
        at = space(at + 1)
        continue
      }
      if (src[at] !== 0x7d /* } */) fail()
      containerHeader(headerAt, count, 0x80)
      return at + 1
    }
  }

  function array (at: number, depth: number): number {
    if (depth >= MAX_DEPTH) fail()
    const headerAt = pos++
    let count = 0
    at = space(at + 1)
    if (src[at] === 0x5d /* ] */) {
      out[headerAt] = 0x90
      return at + 1
    }
    for (;;) {
      at = space(value(at, depth + 1))
      count++
      if (src[at] === 0x2c /* , */) {
        at = space(at + 1)
        continue
      }
      if (src[at] !== 0x5d /* ] */) fail()
      containerHeader(headerAt, count, 0x90)
      return at + 1
    }
  }

  /** Write a map's or array's header where one byte was kept for it, moving the contents when it needs more. */
  function containerHeader (headerAt: number, count: number, fix: number): void {
    if (count < 16) {
      out[headerAt] = fix | count
      return
    }
    const wide = count >= 0x10000
    const extra = wide ? 4 : 2
    out.copyWithin(headerAt + 1 + extra, headerAt + 1, pos)
    pos += extra
    // map 16/32 are 0xde/0xdf, array 16/32 0xdc/0xdd.
    out[headerAt] = (fix === 0x80 ? 0xde : 0xdc) + (wide ? 1 : 0)
    if (wide) out.writeUInt32BE(count, headerAt + 1)
    else out.writeUInt16BE(count, headerAt + 1)
  }

  function string (at: number): number {
    // Locals, not the closure's variables, in the hot loop.
    const bytes = src
    const target = out
    const last = end
    const headerAt = pos
    let write = headerAt + 1
    at++
    // A string's UTF-8 bytes are the same in msgpack: past RUN bytes copied one by
    // one, the rest up to its closing quote goes in one native copy if it holds no
    // escape (the quote is the next one: an escaped quote is itself an escape).
    let runFrom = at + RUN
    for (;;) {
      // Plain bytes up to the next quote or backslash, the run's end or the line's.
      const stop = runFrom < last ? runFrom : last
      let byte = 0
      while (at < stop) {
        byte = bytes[at]
        if (byte === QUOTE || byte === BACKSLASH) break
        target[write++] = byte
        at++
      }
      if (at < stop && byte === QUOTE) break
      if (at >= last) fail()
      if (at >= runFrom) {
        const close = bytes.indexOf(QUOTE, at)
        if (close === -1 || close >= last) fail()
        const escape = bytes.subarray(at, close).indexOf(BACKSLASH)
        if (escape === -1) {
          bytes.copy(target, write, at, close)
          write += close - at
          at = close
          break
        }
        // An escape comes first: one by one through it, then look again.
        runFrom = at + escape + RUN
        continue
      }
      const escape = bytes[at + 1]
      at += 2
      switch (escape) {
        case QUOTE: case BACKSLASH: case 0x2f /* / */: target[write++] = escape; break
        case 0x62 /* b */: target[write++] = 0x08; break
        case 0x66 /* f */: target[write++] = 0x0c; break
        case 0x6e /* n */: target[write++] = 0x0a; break
        case 0x72 /* r */: target[write++] = 0x0d; break
        case 0x74 /* t */: target[write++] = 0x09; break
        case 0x75 /* u */: {
          let code = hex4(at)
          at += 4
          // Only a pair makes a character; a lone half becomes U+FFFD (see wellFormedJson).
          if (code >= 0xdc00 && code <= 0xdfff) {
            code = 0xfffd
          } else if (code >= 0xd800 && code <= 0xdbff) {
            const low = bytes[at] === BACKSLASH && bytes[at + 1] === 0x75 ? hex4(at + 2) : -1
            if (low >= 0xdc00 && low <= 0xdfff) {
              at += 6
              code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
            } else {
              code = 0xfffd
            }
          }
          write = utf8(code, write)
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
    pos = write
    return at + 1
  }

  function hex4 (at: number): number {
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

  function utf8 (code: number, at: number): number {
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

  function literal (at: number, word: string, code: number): number {
    for (let i = 0; i < word.length; i++) if (src[at + i] !== word.charCodeAt(i)) fail()
    out[pos++] = code
    return at + word.length
  }

  function number (at: number): number {
    const first = at
    const negative = src[at] === 0x2d /* - */
    if (negative) at++
    // The digits as one integer, and how many of them follow the point.
    let mantissa = 0
    let digitCount = 0
    let fraction = 0
    if (src[at] === 0x30 /* 0 */) {
      at++
    } else {
      const start = at
      while (at < end && src[at] >= 0x30 && src[at] <= 0x39) mantissa = mantissa * 10 + src[at++] - 0x30
      if (at === start) fail()
      digitCount = at - start
    }
    if (src[at] === 0x2e /* . */) {
      const start = ++at
      while (at < end && src[at] >= 0x30 && src[at] <= 0x39) mantissa = mantissa * 10 + src[at++] - 0x30
      if (at === start) fail()
      fraction = at - start
      digitCount += fraction
    }
    let exponent = false
    if (src[at] === 0x65 /* e */ || src[at] === 0x45 /* E */) {
      exponent = true
      at++
      if (src[at] === 0x2b /* + */ || src[at] === 0x2d /* - */) at++
      at = digits(at)
    }
    let number: number
    if (!exponent && digitCount <= 15) {
      // At most 15 digits are exact as an integer, and so is 10^fraction: one
      // division rounds correctly, to what JSON.parse reads (Clinger's fast path).
      number = fraction === 0 ? mantissa : mantissa / POWERS_OF_TEN[fraction]
      if (negative) number = -number
    } else {
      number = Number(src.toString('latin1', first, at))
    }
    encodeNumber(number)
    return at
  }

  function digits (at: number): number {
    const first = at
    while (at < end && src[at] >= 0x30 && src[at] <= 0x39) at++
    if (at === first) fail()
    return at
  }

  function encodeNumber (number: number): void {
    if (Number.isSafeInteger(number) && number < 0x100000000 && number >= -0x80000000) {
      if (number >= 0) {
        if (number < 0x80) {
          out[pos++] = number
        } else if (number < 0x100) {
          out[pos++] = 0xcc
          out[pos++] = number
        } else if (number < 0x10000) {
          out[pos++] = 0xcd
          pos = out.writeUInt16BE(number, pos)
        } else {
          out[pos++] = 0xce
          pos = out.writeUInt32BE(number, pos)
        }
      } else if (number >= -0x20) {
        out[pos++] = 0xe0 | (number + 0x20)
      } else if (number >= -0x80) {
        out[pos++] = 0xd0
        pos = out.writeInt8(number, pos)
      } else if (number >= -0x8000) {
        out[pos++] = 0xd1
        pos = out.writeInt16BE(number, pos)
      } else {
        out[pos++] = 0xd2
        pos = out.writeInt32BE(number, pos)
      }
      return
    }
    // What @msgpack/msgpack does with useBigInt64: every other number is a float 64.
    out[pos++] = 0xcb
    pos = out.writeDoubleBE(number, pos)
  }
}

function fail (): never {
  throw new TypeError('not a JSON object this transcoder takes')
}
