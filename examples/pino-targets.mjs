// pino with two targets: pretty lines on stdout for you, and the same records
// over WebSocket for the log pipeline. If the server is down, pino-pretty goes on
// printing and the WebSocket target keeps the records until the server is back.
//   LOG_URL=ws://127.0.0.1:8080/ node examples/pino-targets.mjs
import pino from 'pino'

const transport = pino.transport({
  targets: [
    { target: 'pino-pretty', level: 'info', options: { destination: 1, colorize: false } },
    { target: 'pino-websocket', level: 'debug', options: { url: process.env.LOG_URL ?? 'ws://127.0.0.1:8080/', format: 'json_lines' } }
  ]
})
const logger = pino({ level: 'debug' }, transport)

logger.debug('only on the wire: below pino-pretty\'s level')
logger.info({ order: 1234 }, 'order placed')
