import type { DateFormat } from '../options.js'

/** An event time with nanosecond precision, as Fluent Bit keeps it. */
export interface EventTime {
  /** Whole seconds since the Unix epoch. */
  sec: number
  /** Nanoseconds within the second, 0-999 999 999. */
  nsec: number
}

/** The event time of a millisecond timestamp, e.g. pino's `time` or `Date.now()`. */
export function timeFromMillis (ms: number): EventTime {
  const sec = Math.floor(ms / 1000)
  return { sec, nsec: Math.round((ms - sec * 1000) * 1e6) }
}

/**
 * Below this a numeric time is in seconds, above it in milliseconds: 10^11 s is
 * the year 5138, 10^11 ms is March 1973. So pino's `unixTime` (seconds) and its
 * default `epochTime` (milliseconds) both read right.
 */
const SECONDS_BELOW = 1e11

/** The event time of a numeric epoch time: seconds (pino's `unixTime`) or milliseconds, told apart by size. */
export function timeFromEpoch (value: number): EventTime {
  if (Math.abs(value) >= SECONDS_BELOW) return timeFromMillis(value)
  const sec = Math.floor(value)
  return { sec, nsec: Math.round((value - sec) * 1e9) }
}

/**
 * `time` as the epoch a line codec is given (see LineCodec's take): whole
 * milliseconds from 1973 on, which timeFromEpoch reads back as the same time;
 * -1 for any other time, whose line the codec is not offered.
 */
export function codecEpoch (time: EventTime): number {
  const ms = time.sec * 1000 + time.nsec / 1e6
  return Number.isInteger(ms) && ms >= SECONDS_BELOW ? ms : -1
}

/** The farthest second from the epoch a calendar date holds (JavaScript's Date: 8.64e15 ms, years -271821 to 275760). */
const CALENDAR_SECONDS = 8.64e12

/** A calendar format's date cannot be written for this time: the record is dropped as unencodable. */
function outsideCalendar (sec: number, format: string): RangeError {
  return new RangeError(`its time (${sec} s from the epoch) is outside what ${format} can write (years -271821 to 275760)`)
}

/** The fraction of a second in an ISO 8601 time, up to nanoseconds (pino's `isoTimeNano`). */
const FRACTION = /T\d\d:\d\d:\d\d[.,](\d+)/

/**
 * A date formatter that remembers the last time it rendered: log records come in
 * bursts that share a millisecond (pino) or at least a second, and rendering is
 * the costliest part of splicing a date into a line.
 */
export function createDateFormatter (format: DateFormat): (time: EventTime) => string {
  let lastSec = -1
  let lastNsec = -1
  let lastText = ''
  // The calendar formats reuse the date and time of day within one second.
  let lastCalendarSec = -1
  let calendarPrefix = ''
  const separator = format === 'iso8601' ? 'T' : ' '
  const suffix = format === 'iso8601' ? 'Z"' : '"'
  const calendarFormat = format === 'iso8601' || format === 'java_sql_timestamp'

  return function formatCached (time) {
    if (time.sec === lastSec && time.nsec === lastNsec) return lastText
    // Remembered only once rendered: a time that throws must throw again.
    if (calendarFormat) {
      if (time.sec !== lastCalendarSec) {
        if (!(Math.abs(time.sec) <= CALENDAR_SECONDS)) throw outsideCalendar(time.sec, format)
        const text = new Date(time.sec * 1000).toISOString()
        calendarPrefix = `"${text.slice(0, 10)}${separator}${text.slice(11, 19)}.`
        lastCalendarSec = time.sec
      }
      lastText = calendarPrefix + String(Math.floor(time.nsec / 1000)).padStart(6, '0') + suffix
    } else {
      lastText = formatDate(time, format)
    }
    lastSec = time.sec
    lastNsec = time.nsec
    return lastText
  }
}

/**
 * The event time of a record's time value: an epoch number (milliseconds, as
 * pino's default `time`, or seconds, as its `unixTime`: see {@link timeFromEpoch}),
 * a date string (pino's `isoTime` and `isoTimeNano`, nanoseconds kept; winston's
 * `timestamp`) or a Date; the current time when the value is none of these.
 */
export function timeOf (value: unknown): EventTime {
  return parseTime(value) ?? timeFromMillis(Date.now())
}

/** The event time a record's time value stands for (see {@link timeOf}); undefined when it is no time. */
export function parseTime (value: unknown): EventTime | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return timeFromEpoch(value)
  if (value instanceof Date) {
    const ms = value.getTime()
    if (!Number.isNaN(ms)) return timeFromMillis(ms)
  } else if (typeof value === 'string') {
    const ms = Date.parse(value)
    if (!Number.isNaN(ms)) {
      const fraction = FRACTION.exec(value)?.[1]
      if (fraction === undefined || fraction.length <= 3) return timeFromMillis(ms)
      // Date.parse keeps milliseconds only: the second is its, the fraction the text's.
      return { sec: Math.floor(ms / 1000), nsec: Number(fraction.slice(0, 9).padEnd(9, '0')) }
    }
  }
  return undefined
}

/**
 * How a fallback file line carries a record's event time when the record itself
 * cannot (msgpack's EventTime): a leading `"date"` member, ISO 8601 in UTC with
 * exactly nine fraction digits, which no wire format writes. The CLI's reader
 * takes it back out (see NdjsonReader), so a replay sends the same time and record.
 */
export const FALLBACK_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/

/** The event time as a fallback line's leading `"date"` (see {@link FALLBACK_TIME}). */
export function fallbackTime ({ sec, nsec }: EventTime): string {
  return new Date(sec * 1000).toISOString().slice(0, 19) + '.' + String(nsec).padStart(9, '0') + 'Z'
}

/** The date key's value as JSON text, per `json_date_format`. */
export function formatDate (time: EventTime, format: DateFormat): string {
  switch (format) {
    case 'double': return formatSeconds(time)
    case 'epoch': return String(time.sec)
    case 'epoch_ms': return String(time.sec * 1000 + Math.floor(time.nsec / 1e6))
    case 'iso8601': return `"${calendar(time, 'T')}Z"`
    case 'java_sql_timestamp': return `"${calendar(time, ' ')}"`
  }
}

/** `YYYY-MM-DD?hh:mm:ss.uuuuuu` in UTC, microseconds truncated as Fluent Bit does. */
function calendar (time: EventTime, separator: string): string {
  if (!(Math.abs(time.sec) <= CALENDAR_SECONDS)) throw outsideCalendar(time.sec, separator === 'T' ? 'iso8601' : 'java_sql_timestamp')
  const text = new Date(time.sec * 1000).toISOString()
  return `${text.slice(0, 10)}${separator}${text.slice(11, 19)}.${String(Math.floor(time.nsec / 1000)).padStart(6, '0')}`
}

/**
 * {@link formatDouble} of `sec + nsec / 1e9`, the time as Fluent Bit prints a
 * `double` date. A time of whole microseconds from 2001 to 2106 (every time
 * pino and winston give, as milliseconds) is written from its integers: there
 * the double is within 0.24 µs of the time, so its six decimals are the time's
 * microseconds. Any other goes through the double.
 */
export function formatSeconds ({ sec, nsec }: EventTime): string {
  if (sec < 1e9 || sec >= 0x100000000 || nsec % 1000 !== 0 || !Number.isInteger(sec)) return formatDouble(sec + nsec / 1e9)
  let micros = nsec / 1000
  if (micros === 0) return `${sec}.0`
  let digits = 6
  while (micros % 10 === 0) {
    micros /= 10
    digits--
  }
  return `${sec}.${String(micros).padStart(digits, '0')}`
}

/**
 * C's `%.16g`, or `%.1f` when the value is whole: what Fluent Bit prints for a
 * `double` date (`1700000000.123457`, `1700000003.0`, `1e-06`).
 */
export function formatDouble (value: number): string {
  if (Number.isInteger(value)) return value.toFixed(1)
  // Today's times (2001-2286) have ten integer digits, so %.16g keeps six decimals;
  // a fraction below half a microsecond rounds away, and the point stays, as for a whole value.
  if (value >= 1e9 && value < 1e10) {
    const text = stripZeros(value.toFixed(6))
    return text.length === 10 ? text + '.0' : text
  }
  const [mantissa, exponentText] = value.toExponential(15).split('e')
  const exponent = Number(exponentText)
  if (exponent < -4 || exponent >= 16) {
    const digits = stripZeros(mantissa)
    const sign = exponent < 0 ? '-' : '+'
    return `${digits}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`
  }
  return stripZeros(value.toFixed(15 - exponent))
}

function stripZeros (text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text
}
