/*
 * Every stable code this package emits, in one place: the `code` of an error
 * it throws and of each `warn` event (and Node warning). Each is listed in the
 * README, which a test holds to this list.
 */

/** Thrown at construction for a bad option: {@link InvalidOptionError}. */
export const ERR_INVALID_OPTION = 'PINO_WS_ERR_INVALID_OPTION'

export const ERROR_CODES = [ERR_INVALID_OPTION] as const

export const WARNING_CODES = [
  'PINO_WS_WARN_UNKNOWN_OPTION',
  'PINO_WS_WARN_UNREACHABLE',
  'PINO_WS_WARN_TLS_REFUSED',
  'PINO_WS_WARN_PROXY_REFUSED',
  'PINO_WS_WARN_UPGRADE_REFUSED',
  'PINO_WS_WARN_NO_PONG',
  'PINO_WS_WARN_MESSAGE_TOO_BIG',
  'PINO_WS_WARN_PROTOCOL_ERROR',
  'PINO_WS_WARN_SERVER_CLOSED',
  'PINO_WS_WARN_DROPPED',
  'PINO_WS_WARN_FALLBACK_FILE',
  'PINO_WS_WARN_SPOOL_RECOVERED',
  'PINO_WS_WARN_SPOOL_FAILED',
  'PINO_WS_WARN_SPOOL_KEPT',
  'PINO_WS_WARN_WORKER_FAILED'
] as const

/** The code of a `warn` event: what happened, stable across versions. */
export type WarningCode = typeof WARNING_CODES[number]
