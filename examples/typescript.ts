// TypeScript: the options and the events are typed. `pino.transport<Options>`
// checks the options (a typo is an error, with "did you mean"), and
// PinoWebSocketStream types the stream it returns: pino takes it, and its events
// (ours and thread-stream's) are typed, with no cast.
//   LOG_URL=ws://127.0.0.1:8080/ npx tsx examples/typescript.ts
import pino from 'pino'
import winston from 'winston'
import type { Options, PinoWebSocketStream, Stats } from 'pino-websocket'
import { WebSocketTransport } from 'pino-websocket/winston'

const url = process.env.LOG_URL ?? 'ws://127.0.0.1:8080/'

const stream: PinoWebSocketStream = pino.transport<Options>({ target: 'pino-websocket', options: { url, format: 'json_lines' } })
stream.on('drop', ({ reason, count }) => console.error(`pino: dropped ${count} (${reason})`))
stream.on('error', (error) => console.error(`pino: the transport failed: ${error.message}`))
const done = new Promise<Stats>((resolve) => stream.once('stats', resolve))
const logger = pino(stream)
logger.info({ from: 'typescript-pino' }, 'typed')

const transport = new WebSocketTransport({ url, wireFormat: 'json_lines' })
transport.on('reconnecting', ({ attempt, delay }) => console.error(`winston: retry ${attempt} in ${delay} ms`))
const winstonLogger = winston.createLogger({ transports: [transport] })
winstonLogger.info('typed', { from: 'typescript-winston' })
winstonLogger.end()
transport.on('finish', () => console.log('winston delivered', transport.stats().delivered))

stream.end()
console.log('pino delivered', (await done).delivered)
