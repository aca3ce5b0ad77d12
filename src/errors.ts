import { ERR_INVALID_OPTION } from './codes.js'

/**
 * Thrown at construction when an option is wrong. The message names the option,
 * what was expected and what was given, and never contains secrets.
 */
export class InvalidOptionError extends TypeError {
  readonly code = ERR_INVALID_OPTION
  /** The option as the caller spelled it, e.g. `port` or `Port`. */
  readonly option: string

  /** @param hint a sentence that may help, appended after what was given */
  constructor (option: string, expected: string, given: unknown, { secret = false, hint = '' } = {}) {
    super(`pino-websocket: expected \`${option}\` to be ${expected}, got ${secret ? 'a value that is not shown' : describe(given)}${hint === '' ? '' : `; ${hint}`}`)
    this.name = 'InvalidOptionError'
    this.option = option
  }
}

/** `"80a"` (string), `-1` (number), `undefined`: short enough for one line. */
export function describe (value: unknown): string {
  if (value === undefined) return '`undefined`'
  if (value === null) return '`null`'
  // Its text would be the whole URL, credentials and query included.
  if (value instanceof URL) return 'a `URL` object'
  let text: string
  try {
    text = typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value))
  } catch {
    text = Object.prototype.toString.call(value)
  }
  if (text.length > 60) text = text.slice(0, 57) + '...'
  const type = Array.isArray(value) ? 'array' : typeof value
  return `\`${text}\` (${type})`
}

/** Words of a header value that name a scheme and are no secret: never blanked from messages. */
const AUTH_SCHEMES = new Set(['basic', 'bearer', 'digest', 'token', 'negotiate', 'apikey', 'hmac'])
/** Shorter strings are not taken for secrets: blanking them would blank innocent words too. */
const MIN_SECRET = 3

/**
 * Every string of the options that must never appear in anything we emit: each
 * URL's password (the server's, the proxy's) as given and decoded, the Basic credentials Node derives from
 * it, each query value (raw and decoded), each header value and each word of it
 * (`Bearer TOKEN` -> `TOKEN`), and any passphrase; longest first, so a secret
 * that holds another is removed whole. The user name is not secret (`user`
 * would blank the word everywhere) and is never shown anyway: the endpoint drops it.
 */
export function secretsOf (urls: readonly URL[], headerValues: readonly string[], ...more: Array<string | undefined>): string[] {
  const found = new Set<string>()
  const add = (value: string | undefined): void => { if (value !== undefined && value.length >= MIN_SECRET) found.add(value) }
  const decoded = (value: string): string => { try { return decodeURIComponent(value) } catch { return value } }
  for (const url of urls) {
    if (url.password !== '') {
      add(url.password)
      add(decoded(url.password))
      for (const credentials of [`${url.username}:${url.password}`, `${decoded(url.username)}:${decoded(url.password)}`]) {
        add(Buffer.from(credentials).toString('base64'))
      }
    }
    for (const part of url.search.slice(1).split('&')) {
      const value = part.slice(part.indexOf('=') + 1)
      add(value)
      add(decoded(value.replace(/\+/g, ' ')))
    }
  }
  for (const value of headerValues) {
    add(value)
    for (const word of value.split(/[\s,;]+/)) if (!AUTH_SCHEMES.has(word.toLowerCase())) add(word)
  }
  for (const value of more) add(value)
  return [...found].sort((a, b) => b.length - a.length)
}

/** `text` with every occurrence of each secret replaced by `…`. */
export function redact (text: string, secrets: readonly string[]): string {
  let result = text
  for (const secret of secrets) if (result.includes(secret)) result = result.split(secret).join('…')
  return result
}
