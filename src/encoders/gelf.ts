import { hostname } from 'node:os'
import { formatDouble, parseTime, type EventTime } from './dates.js'

/** Which record keys feed GELF's own fields; unset ones fall back to the usual names. */
export interface GelfKeys {
  shortMessageKey?: string
  fullMessageKey?: string
  hostKey?: string
  levelKey?: string
  timestampKey?: string
}

// pino writes `msg` and `hostname`, winston `message`; GELF senders `short_message` and `host`.
const SHORT_MESSAGE_KEYS = ['short_message', 'message', 'msg']
const HOST_KEYS = ['host', 'hostname']
/** Where pino (`time`) and winston (`timestamp`) keep the event time: not sent again beside GELF's `timestamp`. */
const TIME_KEYS = ['time', 'timestamp']
/** GELF requires a non-empty short_message; a record without a message still goes out with this. */
export const NO_MESSAGE = '-'
const MAX_DEPTH = 64
/** Characters GELF does not allow in a field name (`[\w.-]` only). */
const UNSAFE = /[^\w.-]/g
/** Key names remembered at most, so records with ever new keys cannot grow the cache without bound. */
const MAX_NAMES = 10_000

/** Syslog severities of level names: syslog's own, npm's (winston) and pino's labels. */
const LEVEL_NAMES: Readonly<Record<string, number>> = {
  emerg: 0, emergency: 0, alert: 1, crit: 2, critical: 2, fatal: 2, error: 3, err: 3,
  warning: 4, warn: 4, notice: 5, info: 6, informational: 6, http: 6, verbose: 7, debug: 7, silly: 7, trace: 7
}

/** Syslog severity (0-7) of a level: pino numbers, level names, or `"0"`-`"7"`; undefined when unknown. */
export function syslogLevel (level: unknown): number | undefined {
  if (typeof level === 'number') {
    if (!Number.isFinite(level)) return undefined
    // pino: trace 10 and debug 20 -> debug, info 30, warn 40, error 50, fatal 60 -> critical.
    if (level <= 20) return 7
    if (level <= 30) return 6
    if (level <= 40) return 4
    if (level <= 50) return 3
    return 2
  }
  if (typeof level !== 'string') return undefined
  if (/^[0-7]$/.test(level)) return Number(level)
  return LEVEL_NAMES[level.toLowerCase()]
}

/**
 * One record as a GELF 1.1 object (without the line feed). Every field that is
 * not one of GELF's own becomes an additional field: nested objects flattened
 * to `_a_b`, names reduced to `[\w.-]`, values strings or numbers. Nothing is
 * lost silently: `_id`, which GELF forbids, becomes `__id`; names that collide
 * after flattening get `_2`, `_3`…; an unknown level stays as `_level`; event
 * metadata goes under `_metadata_*`.
 */
export function createGelfRecordEncoder (keys: GelfKeys = {}): (time: EventTime, record: Record<string, unknown>, metadata?: object) => string {
  const shortKeys = keys.shortMessageKey !== undefined ? [keys.shortMessageKey] : SHORT_MESSAGE_KEYS
  const hostKeys = keys.hostKey !== undefined ? [keys.hostKey] : HOST_KEYS
  const fullKey = keys.fullMessageKey ?? 'full_message'
  const levelKey = keys.levelKey ?? 'level'
  const timestampKey = keys.timestampKey
  const machine = JSON.stringify(hostname())
  // State of the record being encoded, reused from one record to the next.
  let out = ''
  const used = new Set<string>()
  const consumed = new Set<string>()
  /** The error whose stack became full_message: its `stack` is not sent again. */
  let stackOwner: object | undefined
  /**
   * Field names by parent name and key: records of one app share their keys, and
   * the same name string each time keeps the collision check cheap.
   */
  const names = new Map<string, Map<string, string>>()
  let nameCount = 0

  function fieldName (parent: string, key: string): string {
    let children = names.get(parent)
    if (children === undefined) {
      children = new Map()
      if (nameCount < MAX_NAMES) names.set(parent, children)
    }
    let name = children.get(key)
    if (name === undefined) {
      name = `${parent}_${key.replace(UNSAFE, '_')}`
      if (nameCount < MAX_NAMES) {
        children.set(key, name)
        nameCount++
      }
    }
    return name
  }

  /** Append one additional field; `name` is `_` and sanitized parts, so it needs no escaping. */
  function add (name: string, value: string | number): void {
    let unique = name === '_id' ? '__id' : name
    for (let n = 2; used.has(unique); n++) unique = `${name}_${n}`
    used.add(unique)
    out += typeof value === 'number' ? `,"${unique}":${value}` : `,"${unique}":${JSON.stringify(value)}`
  }

  function flatten (name: string, value: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw new TypeError(`the record is nested deeper than ${MAX_DEPTH} levels (circular?)`)
    switch (typeof value) {
      case 'string': add(name, value); return
      case 'number': add(name, Number.isFinite(value) ? value : String(value)); return
      case 'boolean': add(name, value ? 'true' : 'false'); return
      case 'bigint': add(name, String(value)); return
      case 'object': break
      default: return // undefined, functions and symbols: JSON leaves them out too
    }
    if (value === null) return
    const skipStack = value === stackOwner
    if (value instanceof Error) {
      // message and stack are not enumerable: spell them out rather than send `{}`.
      value = Object.assign({ name: value.name, message: value.message, stack: value.stack }, value)
    }
    const object = value as Record<string, unknown> & { toJSON?: () => unknown }
    if (typeof object.toJSON === 'function') {
      flatten(name, object.toJSON(), depth + 1)
      return
    }
    if (Array.isArray(value)) {
      add(name, JSON.stringify(value))
      return
    }
    const keys = Object.keys(object)
    if (keys.length === 0) {
      add(name, '{}')
      return
    }
    for (const key of keys) {
      if (!skipStack || key !== 'stack') flatten(fieldName(name, key), object[key], depth + 1)
    }
  }

  return function encodeGelfRecord (time, record, metadata) {
    consumed.clear()
    used.clear()
    const shortKey = firstPresent(record, shortKeys)
    let short = shortKey === undefined ? '' : text(record[shortKey])
    if (shortKey !== undefined) consumed.add(shortKey)
    if (short.trim() === '') short = NO_MESSAGE

    const hostKey = firstPresent(record, hostKeys)
    let host = machine
    if (hostKey !== undefined && text(record[hostKey]) !== '') {
      host = JSON.stringify(text(record[hostKey]))
      consumed.add(hostKey)
    }

    let full: string | undefined
    stackOwner = undefined
    if (record[fullKey] !== undefined && record[fullKey] !== null) {
      full = text(record[fullKey])
      consumed.add(fullKey)
    } else if (typeof record.stack === 'string') {
      // winston's errors() format puts the stack at the top: it moves to full_message.
      full = record.stack
      consumed.add('stack')
    } else {
      // pino's err (or an error key): its stack moves to full_message, its other fields stay.
      const error = errorWithStack(record)
      stackOwner = error
      full = error?.stack
    }

    let timestamp = time.sec + time.nsec / 1e9
    if (timestampKey !== undefined && record[timestampKey] !== undefined) {
      const seconds = toSeconds(record[timestampKey])
      if (seconds !== undefined) {
        timestamp = seconds
        consumed.add(timestampKey)
      }
    } else {
      // The record's own time, when it is the event time, is GELF's timestamp already.
      for (const key of TIME_KEYS) {
        const own = record[key] === undefined ? undefined : parseTime(record[key])
        if (own !== undefined && own.sec === time.sec && own.nsec === time.nsec) consumed.add(key)
      }
    }

    const level = syslogLevel(record[levelKey])
    if (level !== undefined) consumed.add(levelKey)

    out = `{"version":"1.1","host":${host},"short_message":${JSON.stringify(short)}`
    if (full !== undefined) out += `,"full_message":${JSON.stringify(full)}`
    out += `,"timestamp":${formatDouble(timestamp)}`
    if (level !== undefined) out += `,"level":${level}`
    try {
      for (const key of Object.keys(record)) {
        if (!consumed.has(key)) flatten(fieldName('', key), record[key], 0)
      }
      // Fluent Bit log metadata, when an event carries it, is kept under _metadata_*.
      if (metadata !== undefined && Object.keys(metadata).length > 0) flatten('_metadata', metadata, 0)
      return out + '}'
    } finally {
      out = ''
    }
  }
}

function firstPresent (record: Record<string, unknown>, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    if (record[key] !== undefined && record[key] !== null) return key
  }
  return undefined
}

/** A value as GELF text: strings as they are, anything else as its JSON. */
function text (value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'bigint') return String(value)
  return JSON.stringify(value) ?? String(value)
}

/** The error (under `err` or `error`) whose stack becomes full_message. */
function errorWithStack (record: Record<string, unknown>): { stack: string } | undefined {
  for (const key of ['err', 'error']) {
    const error = record[key] as { stack?: unknown } | undefined
    if (error !== null && typeof error === 'object' && typeof error.stack === 'string') return error as { stack: string }
  }
  return undefined
}

/** Seconds since the epoch from a number (seconds, or milliseconds when too large for seconds) or a date string. */
function toSeconds (value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value > 1e11 ? value / 1000 : value
  if (typeof value === 'string' || value instanceof Date) {
    const ms = new Date(value).getTime()
    return Number.isNaN(ms) ? undefined : ms / 1000
  }
  return undefined
}
