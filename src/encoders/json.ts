import type { DateFormat } from '../options.js'
import { createDateFormatter, type EventTime } from './dates.js'

/**
 * One record as a JSON object with the date key spliced in first, as Fluent Bit
 * writes it: `{"date":1700000000.123457,"msg":"hi"}`. A record that already has
 * the date key keeps its own value and gets no date (Fluent Bit's output parses
 * to exactly that). Non-empty metadata follows the date as
 * `"__internal__":{"log_metadata":{…}}`, again as Fluent Bit writes it.
 */
/** Whether a parsed JSON value is an object (a record), not null, an array or a scalar. */
export function isJsonObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

export function createJsonRecordEncoder (dateKey: string | false, dateFormat: DateFormat): {
  encodeJsonRecord: (time: EventTime, record: object, metadata?: object) => string
  spliceJsonLine: (time: EventTime, line: string) => string
  splice: Splice
} {
  const datePrefix = dateKey === false ? '' : `${JSON.stringify(dateKey)}:`
  const formatDate = createDateFormatter(dateFormat)

  /**
   * The same for a record that is already JSON text (pino's line): the date goes
   * in front of its first key, with no parse. When the text may hold the date
   * key (its name, or any \u escape that could spell it), it is parsed after all
   * so the collision rule holds exactly.
   */
  function spliceJsonLine (time: EventTime, line: string): string {
    if (line.charCodeAt(0) !== 0x7b /* { */ || line.charCodeAt(line.length - 1) !== 0x7d /* } */ ||
      (dateKey !== false && (line.includes(datePrefix) || line.includes('\\u')))) {
      const record = JSON.parse(line) as unknown
      if (!isJsonObject(record)) throw new TypeError('the record is not a JSON object')
      return encodeJsonRecord(time, record)
    }
    if (dateKey === false) return line
    const date = formatDate(time)
    return line.length === 2 ? `{${datePrefix}${date}}` : `{${datePrefix}${date},${line.slice(1)}`
  }

  function encodeJsonRecord (time: EventTime, record: object, metadata?: object): string {
    const body = JSON.stringify(record)
    // undefined for a record whose toJSON returns undefined; anything but an object cannot carry a date key.
    if (typeof body !== 'string' || body.charCodeAt(0) !== 0x7b /* { */) {
      throw new TypeError('the record does not serialize to a JSON object')
    }
    let head = dateKey === false || (record as Record<string, unknown>)[dateKey] !== undefined
      ? ''
      : datePrefix + formatDate(time)
    if (metadata !== undefined) {
      const meta = JSON.stringify(metadata)
      if (meta !== '{}') head += `${head === '' ? '' : ','}"__internal__":{"log_metadata":${meta}}`
    }
    if (head === '') return body
    return body.length === 2 ? `{${head}}` : `{${head},${body.slice(1)}`
  }

  const bare = Buffer.from('{')
  const splice: Splice = {
    datePrefix: dateKey === false ? undefined : Buffer.from(datePrefix),
    head: (time) => dateKey === false ? bare : Buffer.from(`{${datePrefix}${formatDate(time)},`)
  }

  return { encodeJsonRecord, spliceJsonLine, splice }
}

/**
 * How the JSON formats take a record that is already a JSON object's bytes, with
 * no `\u` escape and no `datePrefix` in it (else it is parsed): its opening `{`
 * becomes `head(time)`, which carries the date key. Callers keep the head of the
 * last time (lines come in bursts that share one).
 */
export interface Splice {
  head: (time: EventTime) => Buffer
  /** The date key as it opens a member, `"date":`; a record holding it keeps its own date. */
  datePrefix: Buffer | undefined
}

/**
 * JSON text with every escaped lone UTF-16 surrogate (`\ud800` not paired with a
 * low half) replaced by `\ufffd`, as the UTF-8 encoding of a string replaces a
 * raw one: many JSON parsers refuse lone halves. Escaped pairs (`\ud83d\ude00`,
 * as Python writes an emoji) and an escaped backslash before `u` stay as they are.
 * Returns the text itself when there is nothing to replace.
 */
export function wellFormedJson (text: string): string {
  let index = text.indexOf('\\u')
  let out = ''
  let copied = 0
  while (index !== -1) {
    let backslashes = 1
    while (index - backslashes >= 0 && text.charCodeAt(index - backslashes) === 0x5c) backslashes++
    let next = index + 2
    if (backslashes % 2 === 1) {
      const code = hex4(text, index + 2)
      next = index + 6
      let lone = code >= 0xdc00 && code <= 0xdfff
      if (code >= 0xd800 && code <= 0xdbff) {
        const low = text.charCodeAt(next) === 0x5c && text.charCodeAt(next + 1) === 0x75 ? hex4(text, next + 2) : -1
        if (low >= 0xdc00 && low <= 0xdfff) next += 6
        else lone = true
      }
      if (lone) {
        out += text.slice(copied, index) + '\\ufffd'
        copied = index + 6
      }
    }
    index = text.indexOf('\\u', next)
  }
  return copied === 0 ? text : out + text.slice(copied)
}

function hex4 (text: string, at: number): number {
  const code = Number.parseInt(text.slice(at, at + 4), 16)
  return Number.isNaN(code) ? -1 : code
}

/** Whether any string in a value (keys included) holds a lone UTF-16 surrogate. */
export function hasLoneSurrogate (value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value)
  if (value === null || typeof value !== 'object' || depth > 100) return false
  if (Array.isArray(value)) return value.some((item) => hasLoneSurrogate(item, depth + 1))
  for (const key of Object.keys(value)) {
    if (LONE_SURROGATE.test(key) || hasLoneSurrogate((value as Record<string, unknown>)[key], depth + 1)) return true
  }
  return false
}

/**
 * A copy of a value whose strings (keys included) have each lone surrogate
 * replaced by U+FFFD; for the rare record {@link hasLoneSurrogate} finds.
 * Arrays and plain objects are copied; any other value is kept as it is.
 */
export function wellFormed (value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.toWellFormed()
  if (value === null || typeof value !== 'object' || depth > 100) return value
  if (Array.isArray(value)) return value.map((item) => wellFormed(item, depth + 1))
  const prototype = Object.getPrototypeOf(value) as unknown
  if (prototype !== Object.prototype && prototype !== null) return value
  const copy: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) copy[key.toWellFormed()] = wellFormed(item, depth + 1)
  return copy
}

// With the u flag, paired surrogates form one code point: only lone halves are \p{Cs}.
const LONE_SURROGATE = /\p{Cs}/u
