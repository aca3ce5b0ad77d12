// pino with one target: every record to a WebSocket endpoint, in msgpack (the default).
//   LOG_URL=ws://127.0.0.1:8080/ node examples/pino.mjs
import pino from 'pino'

const logger = pino({
  transport: {
    target: 'pino-websocket',
    options: { url: process.env.LOG_URL ?? 'ws://127.0.0.1:8080/', format: 'msgpack' }
  }
})

logger.info('service started')
logger.warn({ user: { id: 42 } }, 'a warning with context')
logger.error(new Error('boom'), 'an error with its stack')
// Nothing else to do: at exit pino ends its worker, which delivers what is queued
// (within closeTimeout) and closes the connection with 1000.
