import type { DateFormat } from '../options.js'
import { createDateFormatter, type EventTime } from './dates.js'

/**
 * One record as a JSON object with the date key spliced in first, as Fluent Bit
 * writes it: `{"date":1700000000.123457,"msg":"hi"}`. A record that already has
 * the date key keeps its own value and gets no date (Fluent Bit's output parses
 * to exactly that). Non-empty metadata follows the date as
 * `"__internal__":{"log_metadata":{…}}`, again as Fluent Bit writes it.
 */
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
      if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new TypeError('the record is not a JSON object')
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
 * Whether JSON text holds an escaped lone UTF-16 surrogate (`\\ud800`): JSON.stringify
 * writes valid pairs as they are and escapes only lone halves, which many JSON
 * parsers refuse. An escaped backslash before `u` (`\\\\ud800`) is plain text.
 */
export function hasLoneSurrogateEscape (text: string): boolean {
  let index = text.indexOf('\\u')
  while (index !== -1) {
    const next = text.charCodeAt(index + 2) | 0x20
    const range = text.charCodeAt(index + 3) | 0x20
    if (next === 0x64 /* d */ && ((range >= 0x38 && range <= 0x39) || (range >= 0x61 && range <= 0x66))) {
      let backslashes = 1
      while (index - backslashes >= 0 && text.charCodeAt(index - backslashes) === 0x5c) backslashes++
      if (backslashes % 2 === 1) return true
    }
    index = text.indexOf('\\u', index + 2)
  }
  return false
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

// With the u flag, paired surrogates form one code point: only lone halves are \p{Cs}.
const LONE_SURROGATE = /\p{Cs}/u
