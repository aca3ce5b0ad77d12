import { writeSync } from 'node:fs'
import type { WarningCode } from './codes.js'

/** What a `warn` event carries. */
export interface Warning {
  code: WarningCode
  message: string
  /** Said as the transport ends, maybe with the process: printed at once. */
  exit?: boolean
}

/**
 * A warning as a Node warning of this process: printed on stderr by default,
 * `node --no-warnings` silences it, `process.on('warning')` sees it with its code.
 */
export function emitProcessWarning ({ code, message }: Warning): void {
  process.emitWarning(`pino-websocket: ${message}`, { code, type: 'PinoWebSocketWarning' })
}

/**
 * A warning written to stderr at once, in the shape Node prints warnings: for
 * what is said as the process ends. process.emitWarning prints on a later tick,
 * which never comes at exit; a worker's own stderr stream is lost when the app
 * exits, but a synchronous write to file descriptor 2 is not. `--no-warnings`
 * silences it too.
 */
export function printWarningNow ({ code, message }: Warning): void {
  if ((process as { noProcessWarnings?: boolean }).noProcessWarnings === true) return
  try {
    writeSync(2, `(node:${process.pid}) [${code}] PinoWebSocketWarning: pino-websocket: ${message}\n`)
  } catch {
    // stderr closed or full: nothing else can be done at exit.
  }
}

/** A printer that writes what is said as the transport ends at once, and hands the rest to `print`. */
export function printingExitNow (print: (warning: Warning) => void): (warning: Warning) => void {
  return (warning) => {
    if (warning.exit === true) printWarningNow(warning)
    else print(warning)
  }
}
