/** Stable error codes. Each is listed in the README. */
export const ERR_INVALID_OPTION = 'PINO_WS_ERR_INVALID_OPTION'

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

/** `text` with every occurrence of each secret replaced by `…`. */
export function redact (text: string, secrets: readonly string[]): string {
  let result = text
  for (const secret of secrets) result = result.split(secret).join('…')
  return result
}
