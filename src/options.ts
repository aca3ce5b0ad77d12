import { validateHeaderValue } from 'node:http'
import { InvalidOptionError, secretsOf } from './errors.js'
import { MAX_RING_BYTES } from './queue.js'
import { proxyFor, proxyTarget, type ProxyTarget } from './proxy.js'
import { resolveTls, type ResolvedTls, type TlsMaterial, type TlsVersion } from './tls-options.js'

/** Wire format of each WebSocket message; names match Fluent Bit's `Format`. */
export type Format = 'msgpack' | 'json' | 'json_stream' | 'json_lines' | 'gelf'

/** How the date key renders the event time in the JSON formats; names match Fluent Bit's `json_date_format`. */
export type DateFormat = 'double' | 'epoch' | 'epoch_ms' | 'iso8601' | 'java_sql_timestamp'

/** What happens to a new record when the queue is full. */
export type Overflow = 'drop_oldest' | 'drop_newest'

/** Whether delivery is confirmed by the server (ping after each batch, pong confirms). */
export type Delivery = 'at-least-once' | 'at-most-once'

/**
 * Options of the pino transport, the winston transport and the CLI alike.
 * Every value is plain data so it survives pino's structured clone into its worker.
 * Fluent Bit's `[OUTPUT]` property names (`Host`, `Port`, `URI`, `Format`, `Header`,
 * `json_date_key`, `json_date_format`, `tls`, `tls.verify`, `net.connect_timeout`)
 * are accepted too, in any letter case.
 */
export interface Options {
  /**
   * Endpoint as one URL: `ws://`, `wss://` or Fluent Bit's `websocket://host:port/uri`.
   * Mutually exclusive with `host`/`port`/`uri`/`tls`.
   * @example 'wss://logs.example.com/ingest'
   */
  url?: string
  /** Server host name or address. @default '127.0.0.1' */
  host?: string
  /** Server TCP port, 1-65535. @default 80, or 443 with `tls` */
  port?: number | string
  /** Request path (and query) of the upgrade request; a leading `/` is added when missing. @default '/' */
  uri?: string
  /** Use TLS (`wss://`) with `host`/`port`/`uri`. @default false */
  tls?: boolean | string
  /**
   * Extra headers of the upgrade request, sent in this order: an object, or
   * Fluent Bit's `"Name value"` strings (one string or a list).
   * @example { Authorization: 'Bearer abc' }
   */
  headers?: Record<string, string> | string[] | string
  /**
   * WebSocket subprotocols to offer (`Sec-WebSocket-Protocol`), for servers that
   * require one: a name, a comma-separated list or an array. The server must pick
   * one of them. A `Sec-WebSocket-Protocol` entry in `headers` means the same.
   * @example 'logs.v1'
   */
  protocols?: string | string[]
  /** Wire format. Matched case-insensitively. @default 'msgpack' */
  format?: Format
  /** The same as `format`, for the winston transport, where `format` is winston's own. */
  wireFormat?: Format
  /**
   * Name of the date key added first to each record in the JSON formats; `false`
   * (or Fluent Bit's `"false"`/`"off"`) leaves the date out.
   * @default 'date'
   */
  jsonDateKey?: string | false
  /** Rendering of the date key; `epoch_millis` and `epoch_milliseconds` are aliases of `epoch_ms`. @default 'double' */
  jsonDateFormat?: DateFormat
  /** Record key holding GELF's `short_message`. @default the first of `short_message`, `message`, `msg` (pino's `messageKey` when pino sends it) */
  gelfShortMessageKey?: string
  /** Record key holding GELF's `full_message`. @default 'full_message', else an error's stack */
  gelfFullMessageKey?: string
  /** Record key holding GELF's `host`. @default the first of `host`, `hostname`, else the machine's host name */
  gelfHostKey?: string
  /** Record key holding the level, mapped to a syslog severity 0-7. @default 'level' */
  gelfLevelKey?: string
  /** Record key holding GELF's `timestamp` (seconds, milliseconds or a date string). @default the event time */
  gelfTimestampKey?: string
  /** Largest WebSocket message in bytes; a batch is split below it and a larger single record is dropped (`oversized`). @default 1048576 */
  maxMessageBytes?: number
  /** Bytes of encoded records held while waiting to be sent or confirmed. @default 33554432 */
  maxQueueBytes?: number
  /** Which record gives way when the queue is full. @default 'drop_oldest' */
  overflow?: Overflow
  /** `at-least-once` keeps each batch until the server's pong confirms it and re-sends it after a reconnect. @default 'at-least-once' */
  delivery?: Delivery
  /** Milliseconds allowed for TCP connect, TLS and the WebSocket handshake. @default 10000 */
  connectTimeout?: number
  /** Milliseconds between heartbeat pings on an otherwise quiet connection. @default 25000 */
  pingInterval?: number
  /** Milliseconds to wait for a pong before the connection is taken for dead. @default 10000 */
  pongTimeout?: number
  /** Milliseconds of the first reconnect delay's ceiling; it doubles on each failure (full jitter). @default 250 */
  reconnectDelay?: number
  /** Milliseconds the reconnect delay never exceeds. @default 30000 */
  maxReconnectDelay?: number
  /**
   * Milliseconds a connection may stay without records before it is closed cleanly;
   * the next record opens a fresh one. 0 keeps connections open (heartbeats keep
   * proxies from closing them). Fluent Bit's `net.keepalive_idle_timeout` is in seconds.
   * @default 0
   */
  keepaliveIdleTimeout?: number
  /**
   * Path of a file where records given up on (overflow, oversized, shutdown) are appended as NDJSON, one whole
   * line each. Opened at construction: its directory must exist.
   */
  fallbackFile?: string
  /**
   * A directory for the durable spool: every record is written to a journal there
   * before it can be lost, read back as the server takes records, and trimmed as
   * they are confirmed; what a crashed or killed process left is sent by the next
   * one that opens the directory. Made if missing (its parent must exist). Off by default.
   */
  spool?: string
  /**
   * Bytes the spool may take on disk; past it, `overflow` applies. A number, or
   * Fluent Bit's size text (`500M`, `1G`: powers of 1000; `512MiB`: of 1024), as
   * its `storage.total_limit_size`. @default 1073741824
   */
  maxSpoolBytes?: number | string
  /**
   * Milliseconds between `fdatasync` calls on the spool: 0 leaves writing to the
   * kernel, which keeps records through a crash or `kill -9` of the process but
   * not through a power loss; N keeps all but the last N ms through a power loss.
   * @default 0
   */
  spoolFsyncInterval?: number
  /**
   * Milliseconds that `flush()` and `close()` wait for the queue to be confirmed before giving up. In pino's
   * worker, close waits at most 7 500 ms whatever this says: thread-stream gives the worker 10 s to end.
   * @default 5000
   */
  closeTimeout?: number
  /** Verify the server's TLS certificate. @default true */
  rejectUnauthorized?: boolean
  /**
   * Certificate authorities to trust for `wss://`, instead of Node's bundle: PEM
   * text (one or more certificates), bytes (`fs.readFileSync('ca.pem')`, PEM or
   * DER), the path of a file or of a directory of certificates (Fluent Bit's
   * `tls.ca_file`, `tls.ca_path`), or a list of these. Read once, at construction.
   */
  ca?: TlsMaterial | TlsMaterial[]
  /** Client certificate (with its chain) for mutual TLS: PEM text, bytes or a file path (`tls.crt_file`). */
  cert?: TlsMaterial
  /** Private key of `cert`: PEM text, bytes or a file path (`tls.key_file`). */
  key?: TlsMaterial
  /** Client certificate and key as one PKCS#12 bundle: bytes or a file path. */
  pfx?: TlsMaterial
  /** Passphrase of an encrypted `key` or `pfx` (`tls.key_passwd`). */
  passphrase?: string
  /** Oldest TLS version accepted. @default Node's (`TLSv1.2`) */
  minVersion?: TlsVersion
  /** OpenSSL cipher list, when the server or a policy requires one. @default Node's */
  ciphers?: string
  /** TLS server name (SNI) when it differs from `host`. */
  servername?: string
  /**
   * An HTTP proxy to reach the server through (HTTP CONNECT; TLS to the server
   * runs inside the tunnel): `http://[user:password@]host:port`, or `https://…`
   * for a proxy spoken to over TLS. `'env'` takes `HTTPS_PROXY` (for `wss://`)
   * or `HTTP_PROXY` (for `ws://`) and honours `NO_PROXY`, read at construction;
   * the environment is never used unless asked.
   * @example 'http://proxy.internal:3128'
   */
  proxy?: string
  /**
   * Print no Node warnings (`process.emitWarning`) for what needs attention:
   * unknown options, an endpoint that cannot be reached or refuses us, dropped
   * records. The `warn` events are emitted all the same. `node --no-warnings`
   * and `process.on('warning')` work as for any warning.
   * @default false
   */
  quiet?: boolean
}

/** Options after defaults and checks: every key present, frozen. */
export interface ResolvedOptions {
  /** Full `ws:` or `wss:` URL, userinfo included: never print it, use `endpoint`. */
  readonly url: string
  /** `url` with userinfo and query removed, safe for events and errors. */
  readonly endpoint: string
  readonly headers: Readonly<Record<string, string>>
  readonly protocols: readonly string[]
  readonly format: Format
  readonly jsonDateKey: string | false
  readonly jsonDateFormat: DateFormat
  readonly gelfShortMessageKey: string | undefined
  readonly gelfFullMessageKey: string | undefined
  readonly gelfHostKey: string | undefined
  readonly gelfLevelKey: string | undefined
  readonly gelfTimestampKey: string | undefined
  readonly maxMessageBytes: number
  readonly maxQueueBytes: number
  readonly overflow: Overflow
  readonly delivery: Delivery
  readonly connectTimeout: number
  readonly pingInterval: number
  readonly pongTimeout: number
  readonly reconnectDelay: number
  readonly maxReconnectDelay: number
  readonly closeTimeout: number
  readonly keepaliveIdleTimeout: number
  readonly fallbackFile: string | undefined
  readonly spool: string | undefined
  readonly maxSpoolBytes: number
  readonly spoolFsyncInterval: number
  readonly tls: ResolvedTls
  readonly quiet: boolean
  /** The proxy to tunnel through, when one is to be used. */
  readonly proxy: ProxyTarget | undefined
  /** Strings that may never appear in anything we emit (userinfo, query, header values); see `redact`. */
  readonly secrets: readonly string[]
  /** Unknown keys as shown in a `warn` event (with a suggestion when one is near): configuration mistakes should be visible but not fatal. */
  readonly unknownKeys: readonly string[]
}

const FORMATS: readonly Format[] = ['msgpack', 'json', 'json_stream', 'json_lines', 'gelf']
const DATE_FORMATS: Readonly<Record<string, DateFormat>> = {
  double: 'double',
  epoch: 'epoch',
  epoch_ms: 'epoch_ms',
  epoch_millis: 'epoch_ms',
  epoch_milliseconds: 'epoch_ms',
  iso8601: 'iso8601',
  java_sql_timestamp: 'java_sql_timestamp'
}
const MiB = 1024 * 1024

/**
 * Every option, and how it is given as text (a CLI flag, an environment
 * variable, a config file): `text` one value, `list` a value that may be given
 * more than once, `flag` a boolean that is on when named. The compiler holds it
 * to `Options`, so a new option cannot be forgotten here; `wireFormat` is
 * `format` under another name, for winston.
 */
export const OPTION_KINDS = {
  url: 'text', host: 'text', port: 'text', uri: 'text', tls: 'flag', headers: 'list', protocols: 'list',
  format: 'text', wireFormat: undefined, jsonDateKey: 'text', jsonDateFormat: 'text',
  gelfShortMessageKey: 'text', gelfFullMessageKey: 'text', gelfHostKey: 'text', gelfLevelKey: 'text', gelfTimestampKey: 'text',
  maxMessageBytes: 'text', maxQueueBytes: 'text', overflow: 'text', delivery: 'text', connectTimeout: 'text',
  pingInterval: 'text', pongTimeout: 'text', reconnectDelay: 'text', maxReconnectDelay: 'text', closeTimeout: 'text',
  keepaliveIdleTimeout: 'text', fallbackFile: 'text', spool: 'text', maxSpoolBytes: 'text', spoolFsyncInterval: 'text', rejectUnauthorized: 'text', ca: 'list', cert: 'text', key: 'text',
  pfx: 'text', passphrase: 'text', servername: 'text', minVersion: 'text', ciphers: 'text', proxy: 'text', quiet: 'flag'
} as const satisfies Readonly<Record<keyof Options, 'text' | 'list' | 'flag' | undefined>>

/**
 * Options whose values are never shown in an error: they hold, or may hold,
 * credentials (a URL's password or query, a header, a private key, its passphrase).
 * The one declaration of secrecy: every error path about an option asks it.
 */
const SECRET_OPTIONS: ReadonlySet<string> = new Set<keyof Options>(['url', 'uri', 'host', 'headers', 'key', 'pfx', 'passphrase', 'proxy'])

/** Whether the option's value must not appear in an error. */
export function isSecretOption (key: string): boolean {
  return SECRET_OPTIONS.has(key)
}

/** Canonical keys, each accepted exactly as spelled. */
const KEYS = new Set<string>(Object.keys(OPTION_KINDS).filter((key) => OPTION_KINDS[key as keyof Options] !== undefined))

/**
 * Other spellings, matched in any letter case: Fluent Bit's property names, and
 * `wireFormat` (for winston, whose `format` is its own). `seconds` ones are converted to ms.
 */
const ALIASES: Readonly<Record<string, { key: string, seconds?: true }>> = {
  host: { key: 'host' },
  port: { key: 'port' },
  uri: { key: 'uri' },
  format: { key: 'format' },
  wireformat: { key: 'format' },
  header: { key: 'headers' },
  headers: { key: 'headers' },
  json_date_key: { key: 'jsonDateKey' },
  json_date_format: { key: 'jsonDateFormat' },
  gelf_short_message_key: { key: 'gelfShortMessageKey' },
  gelf_full_message_key: { key: 'gelfFullMessageKey' },
  gelf_host_key: { key: 'gelfHostKey' },
  gelf_level_key: { key: 'gelfLevelKey' },
  gelf_timestamp_key: { key: 'gelfTimestampKey' },
  tls: { key: 'tls' },
  'tls.verify': { key: 'rejectUnauthorized' },
  'tls.vhost': { key: 'servername' },
  'tls.ca_file': { key: 'ca' },
  'tls.ca_path': { key: 'ca' },
  'tls.crt_file': { key: 'cert' },
  'tls.key_file': { key: 'key' },
  'tls.key_passwd': { key: 'passphrase' },
  'tls.min_version': { key: 'minVersion' },
  'tls.ciphers': { key: 'ciphers' },
  'net.connect_timeout': { key: 'connectTimeout', seconds: true },
  'net.keepalive_idle_timeout': { key: 'keepaliveIdleTimeout', seconds: true },
  'storage.total_limit_size': { key: 'maxSpoolBytes' }
}

/** Fluent Bit `[OUTPUT]` keys that mean nothing for a transport and are ignored without a warning. */
const FLUENT_BIT_IGNORED = new Set(['name', 'match', 'match_regex', 'alias', 'retry_limit', 'workers', 'log_level'])

/** Options that only mean something over TLS. */
const TLS_MATERIAL = ['ca', 'cert', 'key', 'pfx'] as const

/**
 * Resolve user options into a frozen object with every default, or throw an
 * {@link InvalidOptionError} naming the first bad option.
 */
export function resolveOptions (input: Options | Record<string, unknown> = {}): ResolvedOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidOptionError('options', 'an object', input)
  }
  const { values, names, unknownKeys } = canonicalize(input as Record<string, unknown>)
  const name = (key: string): string => names.get(key) ?? key
  const get = (key: string): unknown => values.get(key)

  // No endpoint at all is a mistake (often a misspelt `url`), not a wish for 127.0.0.1:80.
  if (get('url') === undefined && get('host') === undefined && get('port') === undefined) {
    const typos = unknownKeys.map(describeUnknown).join(', ')
    throw new InvalidOptionError('url', 'given (or `host` and `port`)', undefined, { hint: typos === '' ? 'no endpoint was given' : `unknown option(s) ${typos}` })
  }
  const { url, endpoint } = resolveEndpoint(get, name)
  const wire = resolveWire(get, name)
  const { maxMessageBytes } = wire
  // The queue's ring is indexed by 32-bit offsets: it holds the queue and one message more.
  const maxQueueBytes = integer(name('maxQueueBytes'), get('maxQueueBytes'), 32 * MiB, 1024, MAX_RING_BYTES - maxMessageBytes)
  if (maxQueueBytes < maxMessageBytes) {
    throw new InvalidOptionError(name('maxQueueBytes'), `at least \`maxMessageBytes\` (${maxMessageBytes})`, maxQueueBytes)
  }
  const reconnectDelay = integer(name('reconnectDelay'), get('reconnectDelay'), 250, 1, 3_600_000)
  const maxReconnectDelay = integer(name('maxReconnectDelay'), get('maxReconnectDelay'), 30_000, 1, 3_600_000)
  if (maxReconnectDelay < reconnectDelay) {
    throw new InvalidOptionError(name('maxReconnectDelay'), `at least \`reconnectDelay\` (${reconnectDelay})`, maxReconnectDelay)
  }

  const tls = resolveTls(get, name, boolean(name('rejectUnauthorized'), get('rejectUnauthorized'), true))
  // TLS material with a ws:// endpoint would be read and then never used: the records would go in cleartext.
  const endpointUrl = new URL(url)
  if (endpointUrl.protocol === 'ws:') {
    const given = TLS_MATERIAL.find((key) => get(key) !== undefined)
    if (given !== undefined) {
      throw new InvalidOptionError(name(given), 'absent with a ws:// endpoint, which is not encrypted (TLS material is for wss://)', get(given),
        { secret: true, hint: 'use a wss:// URL, or `tls: true` with host and port' })
    }
  }
  const resolved = resolveHeaders(name('headers'), get('headers'), name('protocols'), get('protocols'))
  const headers = Object.freeze(resolved.headers)
  const proxyUrl = resolveProxy(name('proxy'), get('proxy'), endpointUrl)
  const proxy = proxyUrl === undefined ? undefined : proxyTarget(proxyUrl)
  const secrets = secretsOf(proxyUrl === undefined ? [endpointUrl] : [endpointUrl, proxyUrl], Object.values(headers), tls.passphrase)

  return Object.freeze({
    url,
    endpoint,
    headers,
    protocols: Object.freeze(resolved.protocols),
    ...wire,
    maxQueueBytes,
    overflow: oneOf(name('overflow'), get('overflow'), ['drop_oldest', 'drop_newest'] as const, 'drop_oldest'),
    delivery: oneOf(name('delivery'), get('delivery'), ['at-least-once', 'at-most-once'] as const, 'at-least-once'),
    connectTimeout: integer(name('connectTimeout'), get('connectTimeout'), 10_000, 1, 3_600_000),
    pingInterval: integer(name('pingInterval'), get('pingInterval'), 25_000, 10, 3_600_000),
    pongTimeout: integer(name('pongTimeout'), get('pongTimeout'), 10_000, 10, 3_600_000),
    reconnectDelay,
    maxReconnectDelay,
    closeTimeout: integer(name('closeTimeout'), get('closeTimeout'), 5_000, 0, 600_000),
    keepaliveIdleTimeout: integer(name('keepaliveIdleTimeout'), get('keepaliveIdleTimeout'), 0, 0, 86_400_000),
    fallbackFile: recordKey(name('fallbackFile'), get('fallbackFile'), 'a file path (a non-empty string)'),
    spool: recordKey(name('spool'), get('spool'), 'a directory path (a non-empty string)'),
    maxSpoolBytes: byteSize(name('maxSpoolBytes'), get('maxSpoolBytes'), 1024 * MiB, MiB, Number.MAX_SAFE_INTEGER),
    spoolFsyncInterval: integer(name('spoolFsyncInterval'), get('spoolFsyncInterval'), 0, 0, 3_600_000),
    tls,
    quiet: boolean(name('quiet'), get('quiet'), false),
    proxy,
    secrets: Object.freeze(secrets),
    unknownKeys: Object.freeze(unknownKeys.map(describeUnknown))
  })
}

/** An unknown key as `key`, with the option it may be a misspelling of: `` `urll` (did you mean `url`?) ``. */
function describeUnknown (key: string): string {
  const lower = key.toLowerCase()
  let best: string | undefined
  let bestDistance = 3
  for (const known of [...KEYS, ...Object.keys(ALIASES)]) {
    const distance = editDistance(lower, known.toLowerCase())
    if (distance < bestDistance) {
      best = known
      bestDistance = distance
    }
  }
  return best === undefined ? `\`${key}\`` : `\`${key}\` (did you mean \`${best}\`?)`
}

/** Levenshtein distance, for suggestions: option names are short. */
function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = row
  }
  return previous[b.length]
}

/** The options that shape the bytes on the wire: what an encoder needs. */
export type EncoderOptions = Pick<ResolvedOptions, 'format' | 'jsonDateKey' | 'jsonDateFormat' | 'maxMessageBytes' |
'gelfShortMessageKey' | 'gelfFullMessageKey' | 'gelfHostKey' | 'gelfLevelKey' | 'gelfTimestampKey'>

/**
 * Resolve the wire options alone (for `encodeMessages`), with the same checks as
 * {@link resolveOptions}; every other transport option is allowed and ignored,
 * and an unknown key throws (there is no event to warn on).
 */
export function resolveEncoderOptions (input: Options | Record<string, unknown> = {}): EncoderOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidOptionError('options', 'an object', input)
  }
  const { values, names, unknownKeys } = canonicalize(input as Record<string, unknown>)
  if (unknownKeys.length > 0) throw new InvalidOptionError(unknownKeys[0], 'absent (it is not an option)', input[unknownKeys[0] as keyof typeof input], { secret: true })
  return Object.freeze(resolveWire((key) => values.get(key), (key) => names.get(key) ?? key))
}

function resolveWire (get: (key: string) => unknown, name: (key: string) => string): EncoderOptions {
  return {
    format: oneOf(name('format'), get('format'), FORMATS, 'msgpack'),
    jsonDateKey: resolveDateKey(name('jsonDateKey'), get('jsonDateKey')),
    jsonDateFormat: resolveDateFormat(name('jsonDateFormat'), get('jsonDateFormat')),
    gelfShortMessageKey: recordKey(name('gelfShortMessageKey'), get('gelfShortMessageKey')),
    gelfFullMessageKey: recordKey(name('gelfFullMessageKey'), get('gelfFullMessageKey')),
    gelfHostKey: recordKey(name('gelfHostKey'), get('gelfHostKey')),
    gelfLevelKey: recordKey(name('gelfLevelKey'), get('gelfLevelKey')),
    gelfTimestampKey: recordKey(name('gelfTimestampKey'), get('gelfTimestampKey')),
    maxMessageBytes: integer(name('maxMessageBytes'), get('maxMessageBytes'), 1 * MiB, 64, 256 * MiB)
  }
}

/**
 * The same options under their canonical names (Fluent Bit's seconds turned
 * into milliseconds), unknown keys kept as given: for merging options from
 * several places (the CLI's config file, environment and flags).
 * @throws {InvalidOptionError} when one option is given under two names
 */
export function canonicalOptions (input: Record<string, unknown>): Record<string, unknown> {
  const { values, unknownKeys } = canonicalize(input)
  const output: Record<string, unknown> = Object.fromEntries(values)
  for (const key of unknownKeys) output[key] = input[key]
  return output
}

/**
 * Map every given key to its canonical name, converting Fluent Bit's seconds to
 * milliseconds, and refuse two spellings of the same option.
 */
function canonicalize (input: Record<string, unknown>): { values: Map<string, unknown>, names: Map<string, string>, unknownKeys: string[] } {
  const values = new Map<string, unknown>()
  const names = new Map<string, string>()
  const unknownKeys: string[] = []
  for (const given of Object.keys(input)) {
    let value = input[given]
    // An explicit undefined must not erase a default, nor count as a second spelling.
    if (value === undefined) continue
    let key: string | undefined
    if (KEYS.has(given)) {
      key = given
    } else {
      const alias = ALIASES[given.toLowerCase()]
      if (alias !== undefined) {
        key = alias.key
        if (alias.seconds === true) {
          value = toNumber(value)
          if (typeof value === 'number') value = value * 1000
        }
      } else if (!FLUENT_BIT_IGNORED.has(given.toLowerCase())) {
        unknownKeys.push(given)
      }
    }
    if (key === undefined) continue
    const previous = names.get(key)
    if (previous !== undefined) {
      throw new InvalidOptionError(given, `absent, since \`${previous}\` sets the same option`, value, { secret: isSecretOption(key) })
    }
    values.set(key, value)
    names.set(key, given)
  }
  return { values, names, unknownKeys }
}

function resolveEndpoint (get: (key: string) => unknown, name: (key: string) => string): { url: string, endpoint: string } {
  const rawUrl = get('url')
  let url: URL
  if (rawUrl !== undefined) {
    for (const key of ['host', 'port', 'uri', 'tls']) {
      if (get(key) !== undefined) {
        throw new InvalidOptionError(name(key), 'absent when `url` is given', get(key))
      }
    }
    // A URL object is taken as its text (winston's options are not cloned; pino's cannot carry one).
    const text = rawUrl instanceof URL ? rawUrl.href : rawUrl
    if (typeof text !== 'string') throw new InvalidOptionError(name('url'), 'a ws://, wss:// or websocket:// URL string', rawUrl, { secret: true })
    // `localhost:8080` parses as a URL whose scheme is `localhost:`: say what is missing instead.
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
      // Without `//`, credentials stand at the start: `user:password@host`.
      const shown = redactUrlText(text).replace(/^[^/]*@/, '…@')
      throw new InvalidOptionError(name('url'), 'a ws://, wss:// or websocket:// URL string', shown, { hint: `the scheme is missing: \`ws://${shown}\`, say` })
    }
    try {
      url = new URL(text.replace(/^websocket:\/\//i, 'ws://'))
    } catch {
      throw new InvalidOptionError(name('url'), 'a ws://, wss:// or websocket:// URL string', redactUrlText(text))
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new InvalidOptionError(name('url'), 'a ws://, wss:// or websocket:// URL string', `${url.protocol}//…`)
    }
    if (url.hash !== '') url.hash = ''
  } else {
    const tls = boolean(name('tls'), get('tls'), false)
    const host = optionalString(name('host'), get('host')) ?? '127.0.0.1'
    if (host.includes('@')) {
      throw new InvalidOptionError(name('host'), 'a host name or IP address', host, { secret: true, hint: 'credentials go in `url` (wss://user:password@host/) or in a header' })
    }
    if (host === '' || /[\s/?#]/.test(host)) throw new InvalidOptionError(name('host'), 'a host name or IP address', host)
    // One colon is a port (an IPv6 address has several).
    if (/^[^:[\]]+:\d*$/.test(host)) throw new InvalidOptionError(name('host'), 'a host name or IP address', host, { hint: 'the port goes in `port`' })
    const port = integer(name('port'), get('port'), tls ? 443 : 80, 1, 65535)
    let uri = optionalString(name('uri'), get('uri')) ?? '/'
    // Fluent Bit adds the leading slash too (vector handshake-uri-no-slash).
    if (!uri.startsWith('/')) uri = '/' + uri
    const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
    try {
      url = new URL(`${tls ? 'wss' : 'ws'}://${hostPart}:${port}${uri}`)
    } catch {
      throw new InvalidOptionError(name('uri'), 'a path such as `/ingest`', redactUrlText(uri))
    }
  }
  const safe = new URL(url.href)
  safe.username = ''
  safe.password = ''
  safe.search = ''
  return { url: url.href, endpoint: safe.href }
}

/** The scheme and host of a URL that failed to parse, nothing that may hold a secret. */
function redactUrlText (text: string): string {
  return text.replace(/\/\/[^/]*@/, '//…@').replace(/[?#].*$/, '')
}

/** The proxy URL the `proxy` option names for this server, checked (its credentials are never shown). */
function resolveProxy (option: string, value: unknown, server: URL): URL | undefined {
  if (value === undefined) return undefined
  const expected = 'an http:// or https:// proxy URL, or `env`'
  if (typeof value !== 'string') throw new InvalidOptionError(option, expected, value, { secret: true })
  let url: URL | undefined
  try {
    url = proxyFor(value, server)
  } catch {
    throw new InvalidOptionError(option, expected, redactUrlText(value), { hint: value === 'env' ? 'the proxy in the environment is not a URL' : '' })
  }
  if (url !== undefined && (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InvalidOptionError(option, expected, `${url.protocol}//…`)
  }
  return url
}

/** Headers the WebSocket handshake itself sets: giving them would break it. */
const HANDSHAKE_HEADERS = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-accept', 'upgrade', 'connection'])
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const PROTOCOL_HEADER = 'sec-websocket-protocol'

/**
 * The upgrade request's headers, checked as Node checks them (a value Node would
 * refuse must fail here, not inside a connection attempt), and the subprotocols:
 * `protocols`, or a `Sec-WebSocket-Protocol` header, which means the same.
 */
function resolveHeaders (option: string, value: unknown, protocolsOption: string, protocolsValue: unknown): { headers: Record<string, string>, protocols: string[] } {
  const headers: Record<string, string> = {}
  const seen = new Set<string>()
  let protocolHeader: string | undefined
  const add = (header: string, text: unknown): void => {
    if (!TOKEN.test(header)) {
      throw new InvalidOptionError(option, 'HTTP header names made of token characters', header)
    }
    const lower = header.toLowerCase()
    if (seen.has(lower)) throw new InvalidOptionError(`${option}.${header}`, 'given once (header names ignore letter case)', text, { secret: true })
    seen.add(lower)
    if (HANDSHAKE_HEADERS.has(lower)) throw new InvalidOptionError(`${option}.${header}`, 'absent (the WebSocket handshake sets it)', text, { secret: true })
    if (typeof text !== 'string' || /[\r\n\0]/.test(text)) {
      throw new InvalidOptionError(`${option}.${header}`, 'a string without CR, LF or NUL', text, { secret: true })
    }
    try {
      validateHeaderValue(header, text)
    } catch {
      throw new InvalidOptionError(`${option}.${header}`, 'a header value of visible ASCII or Latin-1 characters, spaces and tabs', text, { secret: true })
    }
    if (lower === PROTOCOL_HEADER) protocolHeader = text
    else headers[header] = text
  }
  if (value === undefined) {
    // nothing
  } else if (typeof value === 'string' || Array.isArray(value)) {
    for (const line of typeof value === 'string' ? [value] : value) {
      if (typeof line !== 'string') throw new InvalidOptionError(option, 'an object or `"Name value"` strings', value, { secret: true })
      // Fluent Bit's `Header` property: name, white space, then the value (which may hold
      // spaces); curl's `Name: value` is taken too. Only the name is ever shown.
      const match = /^\s*([^\s:]+)(?:\s*:\s*|\s+)(.*?)\s*$/.exec(line)
      if (match === null) throw new InvalidOptionError(option, '`"Name value"` strings', line.trim().split(/[\s:]/)[0])
      add(match[1], match[2])
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [header, text] of Object.entries(value)) add(header, text)
  } else {
    throw new InvalidOptionError(option, 'an object or `"Name value"` strings', value)
  }
  if (protocolHeader !== undefined && protocolsValue !== undefined) {
    throw new InvalidOptionError(protocolsOption, 'absent, since a `Sec-WebSocket-Protocol` header sets the same', protocolsValue)
  }
  return { headers, protocols: resolveProtocols(protocolHeader === undefined ? protocolsOption : `${option}.Sec-WebSocket-Protocol`, protocolHeader ?? protocolsValue) }
}

/** Subprotocols: a name, a comma-separated list (as the header has it) or an array, each an HTTP token, none twice. */
function resolveProtocols (option: string, value: unknown): string[] {
  if (value === undefined) return []
  const list = typeof value === 'string' ? value.split(',').map((name) => name.trim()) : value
  if (!Array.isArray(list) || list.length === 0 || !list.every((name) => typeof name === 'string' && TOKEN.test(name)) || new Set(list).size !== list.length) {
    throw new InvalidOptionError(option, 'subprotocol names (HTTP tokens, none twice): a string, a comma-separated list or an array', value)
  }
  return list as string[]
}

function resolveDateKey (option: string, value: unknown): string | false {
  if (value === undefined) return 'date'
  if (value === false) return false
  if (typeof value !== 'string' || value === '') throw new InvalidOptionError(option, 'a non-empty string or `false`', value)
  // Pasted Fluent Bit configuration spells "no date" as a string.
  if (/^(false|off)$/i.test(value)) return false
  return value
}

function recordKey (option: string, value: unknown, expected = 'a record key (a non-empty string)'): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') throw new InvalidOptionError(option, expected, value)
  return value
}

function resolveDateFormat (option: string, value: unknown): DateFormat {
  if (value === undefined) return 'double'
  const format = typeof value === 'string' ? DATE_FORMATS[value.toLowerCase()] : undefined
  if (format === undefined) {
    throw new InvalidOptionError(option, `one of ${Object.keys(DATE_FORMATS).map((f) => `\`${f}\``).join(', ')}`, value)
  }
  return format
}

function oneOf<T extends string> (option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  const found = typeof value === 'string' ? allowed.find((a) => a === value.toLowerCase()) : undefined
  if (found === undefined) throw new InvalidOptionError(option, `one of ${allowed.map((a) => `\`${a}\``).join(', ')}`, value)
  return found
}

/** A number, or a string of one as Fluent Bit configuration gives it. */
function toNumber (value: unknown): unknown {
  return typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value
}

function integer (option: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const number = toNumber(value)
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new InvalidOptionError(option, `an integer ${min}-${max}`, value)
  }
  return number
}

/** A size in bytes: a number, or text with Fluent Bit's units (K, M, G: powers of 1000, with or without B) or KiB, MiB, GiB. */
function byteSize (option: string, value: unknown, fallback: number, min: number, max: number): number {
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([kmg])(i?)b?\s*$/i.exec(value) : null
  if (match === null) return integer(option, value, fallback, min, max)
  const size = Math.floor(Number(match[1]) * (match[3] === '' ? 1000 : 1024) ** ('kmg'.indexOf(match[2].toLowerCase()) + 1))
  if (size < min || size > max) throw new InvalidOptionError(option, `a size ${min}-${max} bytes`, value)
  return size
}

function boolean (option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value === 'boolean') return value
  // Fluent Bit spells booleans on/off, true/false.
  if (typeof value === 'string' && /^(on|true|yes)$/i.test(value)) return true
  if (typeof value === 'string' && /^(off|false|no)$/i.test(value)) return false
  throw new InvalidOptionError(option, 'a boolean (or "on"/"off")', value)
}

function optionalString (option: string, value: unknown, secret = false): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new InvalidOptionError(option, 'a string', value, { secret })
  return value
}

