/** What a `warn` event carries. */
export interface Warning {
  code: string
  message: string
}

/**
 * A warning as a Node warning of this process: printed on stderr by default,
 * `node --no-warnings` silences it, `process.on('warning')` sees it with its code.
 */
export function emitProcessWarning ({ code, message }: Warning): void {
  process.emitWarning(`pino-websocket: ${message}`, { code, type: 'PinoWebSocketWarning' })
}
