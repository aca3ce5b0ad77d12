import { isUtf8 } from 'node:buffer'
import { hostname } from 'node:os'
import { formatDouble, formatSeconds, parseTime, timeFromEpoch, type EventTime } from './dates.js'
import { GELF_WASM } from './gelf-wasm.js'
import { createTakeLines, type LineRunnerExports, type TakeLines } from './lines.js'
import { instantiate } from './wasm.js'
import { copyRange, copyWords, stringStop, wholeView } from './words.js'

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
  const name = level.toLowerCase()
  return Object.hasOwn(LEVEL_NAMES, name) ? LEVEL_NAMES[name] : undefined
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

/** Kinds of the members {@link createJsonToGelf} indexes. */
const STRING = 0
const NUMBER = 1
const TRUE = 2
const FALSE = 3
const NULL = 4
const OBJECT = 5
const EMPTY_OBJECT = 6
const ARRAY = 7
/** What a member's kind makes of its name: none (null), a parent's (an object), or a field's (any other value). */
function role (kind: number): number {
  return kind === NULL ? 0 : kind === OBJECT ? 1 : 2
}
/**
 * Lines in a row of other shapes before the last one's is kept instead: lines
 * of a few shapes in turn do not pay for keeping one at every line, and one
 * shape among others stays kept.
 */
const KEEP_AFTER = 8
/** Members of one line indexed at most; a line with more is parsed. */
const MAX_MEMBERS = 1024
const UNDERSCORE = 0x5f
const QUOTE = 0x22
/** Bytes of a string looked at one by one before its closing quote is searched for natively: a native call costs about as much. */
const RUN = 32
/** 1 for each byte that may stand in a GELF field name as it is: the ASCII characters UNSAFE spares. */
const NAME_BYTES = new Uint8Array(256)
for (let byte = 0; byte < 0x80; byte++) NAME_BYTES[byte] = String.fromCharCode(byte).replace(UNSAFE, '') === '' ? 0 : 1

/**
 * A polynomial hash of a name's bytes, mod 2^32: the hash of `a` then `b` is
 * hash(a) * HASH_BASE^|b| + hash(b), so a flattened name's hash comes from its
 * parent's and its key's, and equal names (however they were flattened) hash alike.
 */
const HASH_BASE = 0x01000193

function nameHash (name: string): number {
  let hash = 0
  for (const byte of Buffer.from(name)) hash = (Math.imul(hash, HASH_BASE) + byte) | 0
  return hash
}

/**
 * The top-level keys that feed GELF's own fields, as the transcoders look for
 * them while a line is read: short_message's and host's candidates in order,
 * then full_message's, level's, `time`, and the keys whose line is parsed (an
 * error's `stack` first, a timestamp).
 */
function specialKeysOf (keys: GelfKeys): { specialKeys: Buffer[], shortCount: number, hostCount: number } {
  const shortKeys = keys.shortMessageKey !== undefined ? [keys.shortMessageKey] : SHORT_MESSAGE_KEYS
  const hostKeys = keys.hostKey !== undefined ? [keys.hostKey] : HOST_KEYS
  const declinedKeys = ['stack', 'timestamp', ...(keys.timestampKey === undefined ? [] : [keys.timestampKey])]
  const specialKeys = [...shortKeys, ...hostKeys, keys.fullMessageKey ?? 'full_message', keys.levelKey ?? 'level', 'time', ...declinedKeys].map((key) => Buffer.from(key))
  return { specialKeys, shortCount: shortKeys.length, hostCount: hostKeys.length }
}

/**
 * GELF from a JSON line's bytes, with no parse and no object walk: the same bytes
 * as {@link createGelfRecordEncoder} makes from the parsed line, line feed
 * included. It takes the lines pino writes; any line where the two could differ
 * (a backslash, whitespace between tokens, a key GELF's names would change or
 * that JSON.parse would reorder or merge, names that collide once flattened, an
 * error's stack, a message or host that is not a string, a `timestamp` key, a
 * number inside an array that JSON would print otherwise) is declined with
 * undefined, and goes the parse path. The result is valid until the next call.
 *
 * Lines of up to 64 KiB go first to the same transcoder in WebAssembly
 * (gelf-wasm.c); what it refuses (a number JavaScript prints otherwise, a
 * `time` or `level` that is no plain integer, anything this module declines),
 * longer lines, and every line where WebAssembly is not available (node
 * --jitless) to this module's.
 * @param engine one of the two alone, for the tests that compare them.
 */
export function createJsonToGelf (keys: GelfKeys = {}, engine: 'both' | 'javascript' | 'webassembly' = 'both'): (epoch: number, json: Buffer, start: number, end: number) => Uint8Array | undefined {
  if (engine === 'javascript') return createJavaScriptJsonToGelf(keys)
  // Made at the first line WebAssembly refuses: most apps' lines never are.
  let javascript: ReturnType<typeof createJavaScriptJsonToGelf> | undefined
  const otherwise = engine === 'webassembly'
    ? () => undefined
    : (epoch: number, json: Buffer, start: number, end: number) => (javascript ??= createJavaScriptJsonToGelf(keys))(epoch, json, start, end)
  // null: WebAssembly is not available here (or the keys do not fit its memory).
  let wasm: GelfWasm | null | undefined
  if (engine === 'webassembly') {
    wasm = instantiateGelf(keys)
    if (wasm === undefined) throw new Error('WebAssembly is not available')
  }
  let stampEpoch = Number.NaN
  let stampBytes = 0
  return function jsonToGelf (epoch, json, start, end) {
    if (wasm === undefined) wasm = instantiateGelf(keys) ?? null
    const length = end - start
    if (wasm === null || length > wasm.lineBytes) return otherwise(epoch, json, start, end)
    if (epoch !== stampEpoch) {
      const text = formatSeconds(timeFromEpoch(epoch))
      stampBytes = text.length <= wasm.stamp.length ? wasm.stamp.write(text, 'latin1') : -1
      stampEpoch = epoch
    }
    if (stampBytes === -1) return otherwise(epoch, json, start, end)
    const { line } = wasm
    copyRange(json, start, end, line, 0)
    // Every scan in gelf-wasm.c stops at a quote: one after the line bounds them.
    line[length] = QUOTE
    const written = wasm.transcode(length, epoch, stampBytes)
    return written === 0 ? otherwise(epoch, json, start, end) : wasm.out.subarray(0, written)
  }
}

interface GelfWasm {
  /** Where the line goes, the message comes out, and the timestamp is set: views of the instance's memory, which never grows. */
  line: Buffer
  out: Buffer
  stamp: Buffer
  lineBytes: number
  /** The line's length, its event time and its timestamp's length in, the message's length out; 0 when it refuses. */
  transcode: (length: number, epoch: number, stampBytes: number) => number
}

/** What gelf-wasm.c exports beside lines.h's runs. */
interface GelfExports {
  memory: { buffer: ArrayBuffer }
  line_buffer: () => number
  line_bytes: () => number
  out_buffer: () => number
  machine_buffer: () => number
  key_buffer: () => number
  key_lengths: () => number
  stamp_buffer: () => number
  configure: (machineBytes: number, shortCount: number, hostCount: number, count: number) => number
  transcode: (length: number, epoch: number, stampBytes: number) => number
}

/** An instance of gelf-wasm.c's module set up for these keys, or undefined where WebAssembly is not available or they do not fit. */
function configuredGelf (keys: GelfKeys): (GelfExports & LineRunnerExports) | undefined {
  const exports = instantiate<GelfExports & LineRunnerExports>(GELF_WASM)
  if (exports === undefined) return undefined
  const { buffer } = exports.memory
  const machine = Buffer.from(JSON.stringify(hostname()))
  const { specialKeys, shortCount, hostCount } = specialKeysOf(keys)
  const keyBytes = Buffer.concat(specialKeys)
  // Its memory holds 1 KiB of host name, 4 KiB of keys, 32 keys: more is the JavaScript transcoder's.
  if (machine.length > 1024 || keyBytes.length > 4096 || specialKeys.length > 32) return undefined
  machine.copy(Buffer.from(buffer, exports.machine_buffer(), machine.length))
  keyBytes.copy(Buffer.from(buffer, exports.key_buffer(), keyBytes.length))
  new Uint32Array(buffer, exports.key_lengths(), specialKeys.length).set(specialKeys.map((key) => key.length))
  return exports.configure(machine.length, shortCount, hostCount, specialKeys.length) === 0 ? undefined : exports
}

/** The single-line transcoder's views of an instance (see configuredGelf). */
function instantiateGelf (keys: GelfKeys): GelfWasm | undefined {
  const exports = configuredGelf(keys)
  if (exports === undefined) return undefined
  const { buffer } = exports.memory
  const lineBytes = exports.line_bytes()
  return {
    line: Buffer.from(buffer, exports.line_buffer(), lineBytes + 1),
    out: Buffer.from(buffer, exports.out_buffer(), lineBytes * 4),
    stamp: Buffer.from(buffer, exports.stamp_buffer(), 64),
    lineBytes,
    transcode: exports.transcode
  }
}

/**
 * pino's lines (or with `headed` the winston transport's) a piece at a time
 * (gelf-wasm.c's runs, see lines.h): each line's message as
 * {@link createJsonToGelf}'s WebAssembly transcoder makes it, its timestamp the
 * head; a line holding one of the codec's `needles` is the reader's. In
 * winston's lines, a `timestamp` that repeats the line's timestamp text is
 * taken as the parse path takes it (the event time, not sent again), where
 * the single-line transcoders leave every `timestamp` to the parse path. Its own instance.
 */
export function createGelfTakeLines (keys: GelfKeys, needles: readonly Buffer[], headed: boolean): TakeLines {
  return createTakeLines(() => configuredGelf(keys), needles, (epoch) => Buffer.from(formatSeconds(timeFromEpoch(epoch)), 'latin1'), headed)
}

/** {@link createJsonToGelf}'s transcoder in JavaScript. */
function createJavaScriptJsonToGelf (keys: GelfKeys): (epoch: number, json: Buffer, start: number, end: number) => Uint8Array | undefined {
  const { specialKeys, shortCount, hostCount } = specialKeysOf(keys)
  const specialHash = Int32Array.from(specialKeys, (key) => nameHash(key.toString()))
  /** The top-level member each special key is (-1: none). */
  const specialMember = new Int32Array(specialKeys.length)
  const HOSTS = shortCount
  const FULL = HOSTS + hostCount
  const LEVEL = FULL + 1
  const TIME = FULL + 2
  const DECLINED = FULL + 3
  // The first declined key is 'stack', also declined one level down (an error's stack).
  const STACK_HASH = specialHash[DECLINED]
  let nestedStack = false
  const machine = Buffer.from(JSON.stringify(hostname()))
  const opening = Buffer.from('{"version":"1.1","host":')
  const shortOpening = Buffer.from(',"short_message":')
  const noMessage = Buffer.from(JSON.stringify(NO_MESSAGE))
  const timestampOpening = Buffer.from(',"timestamp":')
  const levelOpening = Buffer.from(',"level":')
  const ID_HASH = nameHash('__id')

  // The index of the line's members, in document order (members of arrays are not indexed).
  const depthOf = new Int32Array(MAX_MEMBERS)
  const keyStart = new Int32Array(MAX_MEMBERS)
  const keyEnd = new Int32Array(MAX_MEMBERS)
  const keyHash = new Int32Array(MAX_MEMBERS)
  const keyPower = new Int32Array(MAX_MEMBERS)
  const valueStart = new Int32Array(MAX_MEMBERS)
  const valueEnd = new Int32Array(MAX_MEMBERS)
  const kindOf = new Uint8Array(MAX_MEMBERS)
  let members = 0
  /** Key hashes of the objects being read, to find a key given twice. */
  const keyStack = new Int32Array(MAX_MEMBERS)
  let keyCount = 0
  /** Hashes of the names written for this line: an open-addressed table, its slots stamped with the line's number. */
  const nameSlots = new Int32Array(MAX_MEMBERS * 4)
  const nameStamps = new Uint32Array(MAX_MEMBERS * 4)
  let stamp = 0
  let src: Buffer = Buffer.allocUnsafeSlow(0)
  let last = 0
  let out = Buffer.allocUnsafeSlow(16 * 1024)
  let pos = 0
  // Word views of the line's memory (`srcBase` is the line's offset in it) and of the output.
  let srcView = wholeView(out)
  let srcBase = 0
  let outView = wholeView(out)
  let names = Buffer.allocUnsafeSlow(1024)
  /** The name of the object each depth is in: its length in `names`, and its hash. */
  const parentLength = new Int32Array(MAX_DEPTH)
  const parentHash = new Int32Array(MAX_DEPTH)
  let timestampEpoch = Number.NaN
  let timestamp = Buffer.alloc(0)
  /** Where each member's name (`,"_a_b":`) was written in the output, and its length (-1: not written). */
  const nameAt = new Int32Array(MAX_MEMBERS)
  const nameLength = new Int32Array(MAX_MEMBERS)

  // The shape of a line transcoded before: its members' depths, keys (with their
  // hashes, and which special keys they are) and roles, which of them fed GELF's
  // own fields, and the names written. The lines of one logger mostly share a
  // shape; a line of the same shape has the same names, none of which collide,
  // so its keys are matched byte for byte instead of hashed, and its names are
  // copied instead of built and checked. `shaped`: the line so far is the shape's
  // (a line that ends sooner is the shape's beginning, with the same names).
  let shapeCount = -1
  let shaped = false
  /** Lines in a row not of the shape (see KEEP_AFTER). */
  let misses = 0
  const shapeDepth = new Int32Array(MAX_MEMBERS)
  const shapeRole = new Uint8Array(MAX_MEMBERS)
  const shapeHash = new Int32Array(MAX_MEMBERS)
  const shapePower = new Int32Array(MAX_MEMBERS)
  const shapeSpecial = new Int32Array(MAX_MEMBERS)
  const shapeKeyAt = new Int32Array(MAX_MEMBERS)
  const shapeKeyLength = new Int32Array(MAX_MEMBERS)
  const shapeNameAt = new Int32Array(MAX_MEMBERS)
  const shapeNameLength = new Int32Array(MAX_MEMBERS)
  let shapeKeys = Buffer.allocUnsafeSlow(1024)
  let shapeKeysView = wholeView(shapeKeys)
  let shapeNames = Buffer.allocUnsafeSlow(1024)
  let shapeNamesView = wholeView(shapeNames)
  /** The members that fed short_message, host, timestamp and level (-1: none), in the line and in the shape. */
  const fed = new Int32Array(4)
  const shapeFed = new Int32Array(4)

  return function jsonToGelf (epoch, json, start, end) {
    if (json.buffer !== srcView.buffer) srcView = wholeView(json)
    srcBase = json.byteOffset
    src = json
    last = end
    members = 0
    keyCount = 0
    specialMember.fill(-1)
    nestedStack = false
    shaped = shapeCount !== -1
    if (json[start] !== 0x7b /* { */ || object(start, 0, -1) !== end || !header(epoch)) return undefined
    // short_message's member is the shape's when the roles are (the first of its keys not null).
    if (shaped && fed[1] === shapeFed[1] && fed[2] === shapeFed[2] && fed[3] === shapeFed[3]) {
      misses = 0
      return shapedMembers()
    }
    return namedMembers()
  }

  /** A member's key equals `key`. */
  function keyIs (member: number, key: Buffer): boolean {
    const from = keyStart[member]
    if (keyEnd[member] - from !== key.length) return false
    for (let i = 0; i < key.length; i++) if (src[from + i] !== key[i]) return false
    return true
  }

  /** The first of the special keys `[from, to)` present and not null, -1 when none is. */
  function firstPresent (from: number, to: number): number {
    for (let i = from; i < to; i++) {
      const member = specialMember[i]
      if (member !== -1 && kindOf[member] !== NULL) return member
    }
    return -1
  }

  /** A number member's value (parsed here when it is a plain integer). */
  function numberOf (member: number): number {
    const from = valueStart[member]
    const to = valueEnd[member]
    if (!canonical(from, to)) return Number(src.toString('latin1', from, to))
    let value = 0
    for (let i = src[from] === 0x2d ? from + 1 : from; i < to; i++) value = value * 10 + src[i] - 0x30
    return src[from] === 0x2d ? -value : value
  }

  /** GELF's own fields, from the members that feed them (noted in `fed`); false when the line is the parse path's. */
  function header (epoch: number): boolean {
    // An error's stack would become full_message: left to the parse path, as is a timestamp key.
    if (nestedStack) return false
    for (let i = DECLINED; i < specialKeys.length; i++) if (specialMember[i] !== -1) return false
    const full = specialMember[FULL]
    if (full !== -1 && kindOf[full] !== NULL) return false
    const short = firstPresent(0, HOSTS)
    if (short !== -1 && kindOf[short] !== STRING) return false
    const host = firstPresent(HOSTS, FULL)
    if (host !== -1 && kindOf[host] !== STRING) return false
    const hostConsumed = host !== -1 && valueEnd[host] - valueStart[host] > 2
    let shortVisible = false
    if (short !== -1) {
      let high = false
      for (let i = valueStart[short] + 1; i < valueEnd[short] - 1; i++) {
        const byte = src[i]
        if (byte >= 0x80) high = true
        else if (byte !== 0x20) shortVisible = true
      }
      // Only Unicode whitespace and spaces: what String#trim takes is the parse path's to judge.
      if (high && !shortVisible) return false
    }
    const time = specialMember[TIME]
    const timeConsumed = time !== -1 && kindOf[time] === NUMBER && numberOf(time) === epoch
    const levelMember = specialMember[LEVEL]
    let level: number | undefined
    if (levelMember !== -1 && (kindOf[levelMember] === NUMBER || kindOf[levelMember] === STRING)) {
      level = kindOf[levelMember] === NUMBER
        ? syslogLevel(numberOf(levelMember))
        : syslogLevel(src.toString('utf8', valueStart[levelMember] + 1, valueEnd[levelMember] - 1))
    }

    if (epoch !== timestampEpoch) {
      timestamp = Buffer.from(formatSeconds(timeFromEpoch(epoch)))
      timestampEpoch = epoch
    }
    // A name is at most the line long (and `__id`); the header's values are the line's or short.
    if (names.length < last + 8) names = Buffer.allocUnsafeSlow((last + 8) * 2)
    pos = 0
    room(256 + machine.length + last)
    put(opening)
    if (hostConsumed) copy(valueStart[host], valueEnd[host])
    else put(machine)
    put(shortOpening)
    if (shortVisible) copy(valueStart[short], valueEnd[short])
    else put(noMessage)
    put(timestampOpening)
    put(timestamp)
    if (level !== undefined) {
      put(levelOpening)
      out[pos++] = 0x30 + level
    }

    fed[0] = short
    fed[1] = hostConsumed ? host : -1
    fed[2] = timeConsumed ? time : -1
    fed[3] = level !== undefined ? levelMember : -1
    return true
  }

  /** The members of a line of another shape: names built and checked for collisions. */
  function namedMembers (): Uint8Array | undefined {
    const fedShort = fed[0]
    const fedHost = fed[1]
    const fedTime = fed[2]
    const fedLevel = fed[3]
    stamp = (stamp + 1) >>> 0
    if (stamp === 0) {
      nameStamps.fill(0)
      stamp = 1
    }
    parentLength[0] = 0
    parentHash[0] = 0
    for (let member = 0; member < members; member++) {
      nameLength[member] = -1
      const depth = depthOf[member]
      if (depth === 0 && (member === fedShort || member === fedHost || member === fedTime || member === fedLevel)) continue
      const kind = kindOf[member]
      if (kind === NULL) continue
      // The name is the parent's, `_` and the key; its hash composes theirs (see nameHash).
      const parent = parentLength[depth]
      const from = keyStart[member]
      const to = keyEnd[member]
      // GELF forbids `_id`: it is `__id` (the name the key `_id` makes too).
      const id = kind !== OBJECT && depth === 0 && to - from === 2 && src[from] === 0x69 && src[from + 1] === 0x64
      const hash = id ? ID_HASH : (Math.imul(Math.imul(parentHash[depth], HASH_BASE) + UNDERSCORE, keyPower[member]) + keyHash[member]) | 0
      if (kind === OBJECT) {
        names[parent] = UNDERSCORE
        for (let i = from; i < to; i++) names[parent + 1 + i - from] = src[i]
        parentLength[depth + 1] = parent + 1 + to - from
        parentHash[depth + 1] = hash
        continue
      }
      // Names that meet once flattened get `_2`… in the parse path.
      if (!claimName(hash)) return undefined
      // Quotes and escapes at most double a value.
      room(parent + (to - from) + 2 * (valueEnd[member] - valueStart[member]) + 32)
      const target = out
      let at = pos
      target[at++] = 0x2c /* , */
      target[at++] = QUOTE
      for (let i = 0; i < parent; i++) target[at++] = names[i]
      target[at++] = UNDERSCORE
      if (id) target[at++] = UNDERSCORE
      nameAt[member] = pos
      nameLength[member] = at - pos + valueStart[member] - from
      pos = at
      // `key":` and a string, as the line has them.
      if (kind === STRING) {
        copy(from, valueEnd[member])
      } else {
        copy(from, valueStart[member])
        if (!value(kind, valueStart[member], valueEnd[member])) return undefined
      }
    }
    if (shapeCount === -1 || ++misses >= KEEP_AFTER) keepShape()
    return end()
  }

  /** The members of a line of the kept shape: its names copied, then the line's values. */
  function shapedMembers (): Uint8Array | undefined {
    for (let member = 0; member < members; member++) {
      const length = shapeNameLength[member]
      if (length === -1) continue
      const from = valueStart[member]
      const to = valueEnd[member]
      room(length + 2 * (to - from) + 32)
      copyWords(shapeNamesView, shapeNameAt[member], outView, pos, length)
      pos += length
      if (!value(kindOf[member], from, to)) return undefined
    }
    return end()
  }

  function end (): Uint8Array {
    out[pos++] = 0x7d /* } */
    out[pos++] = 0x0a
    return out.subarray(0, pos)
  }

  /** Keep the shape of the line just written (see shapeCount). */
  function keepShape (): void {
    let keyBytes = 0
    let nameBytes = 0
    for (let member = 0; member < members; member++) {
      keyBytes += keyEnd[member] - keyStart[member]
      if (nameLength[member] > 0) nameBytes += nameLength[member]
    }
    if (shapeKeys.length < keyBytes) {
      shapeKeys = Buffer.allocUnsafeSlow(keyBytes * 2)
      shapeKeysView = wholeView(shapeKeys)
    }
    if (shapeNames.length < nameBytes) {
      shapeNames = Buffer.allocUnsafeSlow(nameBytes * 2)
      shapeNamesView = wholeView(shapeNames)
    }
    shapeSpecial.fill(0, 0, members)
    for (let i = 0; i < specialMember.length; i++) if (specialMember[i] !== -1) shapeSpecial[specialMember[i]] |= 1 << i
    let keyAt = 0
    let namesAt = 0
    for (let member = 0; member < members; member++) {
      shapeDepth[member] = depthOf[member]
      shapeRole[member] = role(kindOf[member])
      shapeHash[member] = keyHash[member]
      shapePower[member] = keyPower[member]
      shapeKeyAt[member] = keyAt
      const keyLength = keyEnd[member] - keyStart[member]
      shapeKeyLength[member] = keyLength
      copyWords(srcView, srcBase + keyStart[member], shapeKeysView, keyAt, keyLength)
      keyAt += keyLength
      const length = nameLength[member]
      shapeNameLength[member] = length
      if (length === -1) continue
      shapeNameAt[member] = namesAt
      copyWords(outView, nameAt[member], shapeNamesView, namesAt, length)
      namesAt += length
    }
    shapeFed.set(fed)
    shapeCount = members
    misses = 0
  }

  /** The line's key at `from` is the kept shape's key of `member`, at the same depth. */
  function sameKey (from: number, member: number, depth: number): boolean {
    if (member >= shapeCount || shapeDepth[member] !== depth) return false
    const length = shapeKeyLength[member]
    if (from + length >= last || src[from + length] !== QUOTE) return false
    const at = shapeKeyAt[member]
    const view = srcView
    const base = srcBase + from
    const keys = shapeKeysView
    let i = 0
    for (; i + 4 <= length; i += 4) if (view.getUint32(base + i) !== keys.getUint32(at + i)) return false
    for (; i < length; i++) if (view.getUint8(base + i) !== keys.getUint8(at + i)) return false
    return true
  }

  /** Write a member's value as the parse path would; false when it would not be the same. */
  function value (kind: number, from: number, to: number): boolean {
    switch (kind) {
      case NUMBER: {
        if (printsAsItself(from, to)) {
          copy(from, to)
          return true
        }
        const number = Number(src.toString('latin1', from, to))
        if (!Number.isFinite(number)) return false
        pos += out.write(String(number), pos, 'latin1')
        return true
      }
      case TRUE: case FALSE:
        out[pos++] = QUOTE
        copy(from, to)
        out[pos++] = QUOTE
        return true
      case EMPTY_OBJECT:
        pos += out.write('"{}"', pos, 'latin1')
        return true
      case ARRAY: // its JSON text, as a string
        quoted(from, to)
        return true
      default: // STRING
        copy(from, to)
        return true
    }
  }

  /**
   * Write `src[from, to)` as a JSON string. The text holds no backslash and no
   * control character (it was checked), so quotes are all there is to escape.
   * A loop over locals: 2.6 times as fast as JSON.stringify for a 4 KiB array.
   */
  function quoted (from: number, to: number): void {
    const bytes = src
    const target = out
    let at = pos
    target[at++] = QUOTE
    for (let i = from; i < to; i++) {
      const byte = bytes[i]
      if (byte === QUOTE) target[at++] = 0x5c /* \ */
      target[at++] = byte
    }
    target[at++] = QUOTE
    pos = at
  }

  /** Note a name's hash as written for this line; false when it was already (or its hash was: then the line is parsed). */
  function claimName (hash: number): boolean {
    const mask = nameSlots.length - 1
    let slot = hash & mask
    while (nameStamps[slot] === stamp) {
      if (nameSlots[slot] === hash) return false
      slot = (slot + 1) & mask
    }
    nameStamps[slot] = stamp
    nameSlots[slot] = hash
    return true
  }

  /** Make room for `bytes` more in the output, keeping what is written. */
  function room (bytes: number): void {
    if (pos + bytes <= out.length) return
    const larger = Buffer.allocUnsafeSlow(Math.max(pos + bytes, out.length * 2))
    out.copy(larger, 0, 0, pos)
    out = larger
    outView = wholeView(out)
  }

  function put (bytes: Buffer): void {
    out.set(bytes, pos)
    pos += bytes.length
  }

  function copy (from: number, to: number): void {
    // A call into C++ costs about as much as copying 100 bytes a word at a time.
    if (to - from > 96) {
      copyRange(src, from, to, out, pos)
      pos += to - from
      return
    }
    copyWords(srcView, srcBase + from, outView, pos, to - from)
    pos += to - from
  }

  /**
   * Read an object from `at` (its `{`) and index its members; returns the index
   * just past it, or -1 for anything this path declines (invalid JSON included).
   * `parent` is the member it is the value of; -2 inside an array, where members are not indexed.
   */
  function object (at: number, depth: number, parent: number): number {
    // Locals, not the closure's variables, in the hot loops.
    const bytes = src
    const end = last
    if (depth > MAX_DEPTH - 4) return -1
    at++
    if (bytes[at] === 0x7d /* } */) {
      if (parent >= 0) kindOf[parent] = EMPTY_OBJECT
      return at + 1
    }
    const keysFrom = keyCount
    const indexed = parent !== -2
    for (;;) {
      if (bytes[at] !== QUOTE) return -1
      const from = at + 1
      let hash = 0
      let power = 1
      // The kept shape's member this key is; every key before it in the line was
      // the shape's too, so this object's keys so far are the shape's: no key twice.
      let known = -1
      if (indexed && shaped) {
        if (sameKey(from, members, depth)) known = members
        else shaped = false
      }
      if (known !== -1) {
        at = from + shapeKeyLength[known]
        hash = shapeHash[known]
        power = shapePower[known]
      } else {
        at = from
        for (;;) {
          if (at >= end) return -1
          const byte = bytes[at]
          if (byte === QUOTE) break
          if (indexed ? NAME_BYTES[byte] === 0 : byte < 0x20 || byte >= 0x80) return -1
          hash = (Math.imul(hash, HASH_BASE) + byte) | 0
          power = Math.imul(power, HASH_BASE)
          at++
        }
        // An empty key, or one JSON.parse would put first (an array index): parsed.
        if (at === from || (bytes[from] >= 0x30 && bytes[from] <= 0x39)) return -1
        for (let i = keysFrom; i < keyCount; i++) if (keyStack[i] === hash) return -1
      }
      if (keyCount === MAX_MEMBERS) return -1
      keyStack[keyCount++] = hash
      if (bytes[at + 1] !== 0x3a /* : */) return -1
      let member = -2
      if (indexed) {
        if (members === MAX_MEMBERS) return -1
        member = members++
        depthOf[member] = depth
        keyStart[member] = from
        keyEnd[member] = at
        keyHash[member] = hash
        keyPower[member] = power
        if (known !== -1) {
          // The shape's line was written: no error's stack one level down.
          const special = shapeSpecial[known]
          if (special !== 0) for (let i = 0; i < specialMember.length; i++) if ((special & (1 << i)) !== 0) specialMember[i] = member
        } else if (depth === 0) {
          for (let i = 0; i < specialHash.length; i++) if (specialHash[i] === hash && keyIs(member, specialKeys[i])) specialMember[i] = member
        } else if (depth === 1 && hash === STACK_HASH && keyIs(member, specialKeys[DECLINED])) {
          nestedStack = true
        }
        valueStart[member] = at + 2
      }
      at = member === -2 ? element(at + 2, depth + 1) : memberValue(at + 2, depth + 1, member)
      if (at === -1) return -1
      if (member !== -2) {
        valueEnd[member] = at
        if (known !== -1 && role(kindOf[member]) !== shapeRole[known]) shaped = false
      }
      const byte = bytes[at]
      if (byte === 0x2c /* , */) {
        at++
        continue
      }
      if (byte !== 0x7d /* } */) return -1
      keyCount = keysFrom
      return at + 1
    }
  }

  /** A member's value outside arrays: its kind noted, its end returned (-1: declined). */
  function memberValue (at: number, depth: number, member: number): number {
    const byte = src[at]
    if (byte === 0x7b /* { */) {
      kindOf[member] = OBJECT
      return object(at, depth, member)
    }
    if (byte === 0x5b /* [ */) {
      kindOf[member] = ARRAY
      return array(at, depth)
    }
    if (byte === QUOTE) {
      kindOf[member] = STRING
      return string(at)
    }
    if (byte === 0x74 /* t */) {
      kindOf[member] = TRUE
      return literal(at, 'true')
    }
    if (byte === 0x66 /* f */) {
      kindOf[member] = FALSE
      return literal(at, 'false')
    }
    if (byte === 0x6e /* n */) {
      kindOf[member] = NULL
      return literal(at, 'null')
    }
    kindOf[member] = NUMBER
    return number(at, false)
  }

  /** A value inside an array: checked, not indexed; JSON.stringify must print it as it is. */
  function element (at: number, depth: number): number {
    const byte = src[at]
    if (byte === 0x7b /* { */) return object(at, depth, -2)
    if (byte === 0x5b /* [ */) return array(at, depth)
    if (byte === QUOTE) return string(at)
    if (byte === 0x74 /* t */) return literal(at, 'true')
    if (byte === 0x66 /* f */) return literal(at, 'false')
    if (byte === 0x6e /* n */) return literal(at, 'null')
    return number(at, true)
  }

  function array (at: number, depth: number): number {
    if (depth > MAX_DEPTH - 4) return -1
    at++
    if (src[at] === 0x5d /* ] */) return at + 1
    for (;;) {
      at = element(at, depth + 1)
      if (at === -1) return -1
      const byte = src[at]
      if (byte === 0x2c /* , */) {
        at++
        continue
      }
      return byte === 0x5d /* ] */ ? at + 1 : -1
    }
  }

  /**
   * A string with no escape (the reader offers no line with a backslash) and
   * no control character, in valid UTF-8. Its first RUN bytes are looked at one
   * by one; a longer string's closing quote is found natively (with no
   * backslash, the next quote closes it), the bytes after those checked four at
   * a time, and its UTF-8 natively, once, if it has any byte past ASCII.
   */
  function string (at: number): number {
    const bytes = src
    const end = last
    const from = at + 1
    const runFrom = Math.min(end, from + RUN)
    let high = 0
    let i = from
    for (; i < runFrom; i++) {
      const byte = bytes[i]
      if (byte === QUOTE) break
      if (byte < 0x20 || byte === 0x5c) return -1
      high |= byte
    }
    if (i >= end) return -1
    if (bytes[i] !== QUOTE) {
      const close = bytes.indexOf(QUOTE, i)
      if (close === -1 || close >= end) return -1
      const view = srcView
      const base = srcBase
      for (; i + 4 <= close; i += 4) {
        const word = view.getUint32(base + i, true)
        if (stringStop(word) !== 0) return -1
        high |= word
      }
      for (; i < close; i++) {
        const byte = bytes[i]
        if (byte < 0x20 || byte === 0x5c) return -1
        high |= byte
      }
    }
    if ((high & 0x80808080) !== 0 && !isUtf8(bytes.subarray(from, i))) return -1
    return i + 1
  }

  function literal (at: number, word: string): number {
    for (let i = 0; i < word.length; i++) if (src[at + i] !== word.charCodeAt(i)) return -1
    return at + word.length
  }

  /** A JSON number; inside an array only one JavaScript prints back as it is. */
  function number (at: number, inArray: boolean): number {
    // Locals, not the closure's variables, in the hot loops.
    const bytes = src
    const end = last
    const from = at
    if (bytes[at] === 0x2d /* - */) at++
    if (bytes[at] === 0x30 /* 0 */) {
      at++
    } else {
      const digits = at
      while (at < end && bytes[at] >= 0x30 && bytes[at] <= 0x39) at++
      if (at === digits) return -1
    }
    if (bytes[at] === 0x2e /* . */) {
      const digits = ++at
      while (at < end && bytes[at] >= 0x30 && bytes[at] <= 0x39) at++
      if (at === digits) return -1
    }
    if (bytes[at] === 0x65 || bytes[at] === 0x45 /* e E */) {
      at++
      if (bytes[at] === 0x2b || bytes[at] === 0x2d /* + - */) at++
      const digits = at
      while (at < end && bytes[at] >= 0x30 && bytes[at] <= 0x39) at++
      if (at === digits) return -1
    }
    if (inArray && !printsAsItself(from, at)) {
      const text = bytes.toString('latin1', from, at)
      if (String(Number(text)) !== text) return -1
    }
    return at
  }

  /**
   * A JSON number JavaScript prints back byte for byte (String(Number(text)) ===
   * text), decided without making either: no exponent, no trailing zero in the
   * fraction, at least 1e-6 in size, not `-0`, and at most 15 significant digits
   * (any two such decimals are different doubles, so the shortest digits that
   * print the double are these). Anything else is checked the slow way.
   */
  function printsAsItself (from: number, to: number): boolean {
    let at = src[from] === 0x2d /* - */ ? from + 1 : from
    const intFrom = at
    while (at < to && src[at] >= 0x30 && src[at] <= 0x39) at++
    if (at === to) return canonical(from, to)
    if (src[at] !== 0x2e /* . */ || src[to - 1] === 0x30 /* 0 */) return false
    const intDigits = at - intFrom
    const fractionFrom = at + 1
    for (let i = fractionFrom; i < to; i++) if (src[i] < 0x30 || src[i] > 0x39) return false
    if (intDigits === 1 && src[intFrom] === 0x30 /* 0 */) {
      let zeros = 0
      while (src[fractionFrom + zeros] === 0x30) zeros++
      return zeros <= 5 && to - fractionFrom - zeros <= 15
    }
    return intDigits + (to - fractionFrom) <= 15
  }

  /** An integer JavaScript prints back digit for digit: at most 15 digits, not `-0`. */
  function canonical (from: number, to: number): boolean {
    const negative = src[from] === 0x2d
    const digits = to - from - (negative ? 1 : 0)
    if (digits > 15 || (negative && digits === 1 && src[to - 1] === 0x30)) return false
    for (let i = negative ? from + 1 : from; i < to; i++) if (src[i] < 0x30 || src[i] > 0x39) return false
    return true
  }
}
